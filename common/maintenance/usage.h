#pragma once
// Space accounting, as regfsctl du shows it: what each repository's manifests reach, how much
// of that is its own and how much it shares with other repositories, and what garbage-collect
// would free. Reads the store, changes nothing.
//
// A repository reaches what garbage-collect's mark (gc.h) keeps for it from all its
// revisions: the manifests, their configs and layers, and the children of its indexes. A
// blob counts once per repository however many of its manifests name it, and only when it is
// in blobs/ (a reference to a missing blob is fsck's business). It is shared when another
// repository reaches it too, else unique. The free-space figures are what a sweep of the
// blobs unmarked right now would remove, before garbage-collect's grace period keeps young
// ones.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/progress.h"
#include "common/store/store.h"

namespace regfs {

struct RepositoryUsage {
  std::string name;
  size_t manifests = 0;      // revision links
  size_t tags = 0;           // tags
  size_t blobs = 0;          // blobs its manifests reach, manifests included
  uint64_t bytes = 0;        // their sizes: uniqueBytes + sharedBytes
  uint64_t uniqueBytes = 0;  // of the blobs no other repository reaches
  uint64_t sharedBytes = 0;  // of the blobs some other repository reaches too
};

struct StoreUsage {
  std::vector<RepositoryUsage> repositories;  // in catalog order
  size_t blobs = 0;                           // every blob in blobs/
  uint64_t blobBytes = 0;
  uint64_t uploads = 0;  // upload sessions in progress, in every repository directory
  uint64_t uploadBytes = 0;
  uint64_t layerIndexes = 0;  // indexes of layers' contents (common/layers/layer_index.h)
  uint64_t layerIndexBytes = 0;
  uint64_t gcFrees = 0;                // bytes no revision reaches
  uint64_t gcDeleteUntaggedFrees = 0;  // bytes no tag reaches (garbage-collect -m)
};

// Measures `store`. Throws what markStore throws (Error(kManifestInvalid) for a manifest
// that cannot be read as one).
StoreUsage measureUsage(const Store& store, const ProgressFn& progress = {});

}  // namespace regfs
