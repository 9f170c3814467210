#pragma once
// The store's space as the web UI shows it: what the blobs take, what the repositories
// reference (regfsctl du's measure, common/maintenance/usage.h), what sharing saves, the
// biggest repositories and the uploads in progress. Walks the whole store.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/store/store.h"

namespace regfs::browse {

struct RepositorySize {
  std::string name;
  uint64_t size = 0;
};

struct RepositoryUpload {
  std::string name;
  UploadInfo upload;
};

struct StorageSummary {
  size_t blobs = 0;
  uint64_t bytes = 0;                   // of every blob in the store
  uint64_t referencedBytes = 0;         // the sum of the repositories' sizes
  uint64_t dedupeSavings = 0;           // referencedBytes - bytes, 0 when negative
  size_t repositories = 0;              // those with a manifest, as the catalog counts them
  std::vector<RepositorySize> biggest;  // largest first (ties by name), at most `top`
  std::vector<RepositoryUpload> uploads;
};

StorageSummary summarizeStorage(const Store& store, size_t top = 10);

}  // namespace regfs::browse
