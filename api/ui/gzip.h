#pragma once
// Compression of the UI's files for Content-Encoding: gzip, once when the server starts.

#include <string>
#include <string_view>

namespace regfs::api {

// `data` as one gzip member at zlib's best compression. Throws Error(kInternal) if zlib fails.
std::string gzipCompress(std::string_view data);

}  // namespace regfs::api
