#pragma once
// Store-wide numbers for monitoring, and the storage health probe. Both go through the
// driver and the paths of layout.h like every other operation on a store.

#include <cstdint>

#include "common/store/store.h"

namespace regfs {

struct StoreCounts {
  uint64_t blobs = 0;         // blob directories with data, manifests included
  uint64_t repositories = 0;  // directories with a _manifests child
  uint64_t uploads = 0;       // upload sessions in any repository directory
};

// Walks blobs/ and repositories/ (directory listings only, no file reads).
StoreCounts countStore(const Store& store);

// Proves the storage answers: stats the store root and, with `write`, writes and
// removes a small probe file. Throws Error (kIo, kNoSpace, …) naming what failed.
void probeStorage(StorageDriver& driver, bool write);

}  // namespace regfs
