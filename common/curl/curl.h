#pragma once
// libcurl's process-wide state, for everything in regfs that connects out with it (the S3
// driver, the outgoing HTTP client).

namespace regfs {

// Initialises libcurl once per process, whoever asks first; later calls return at once.
// Throws Error(kInternal) if libcurl cannot initialise.
void initCurl();

}  // namespace regfs
