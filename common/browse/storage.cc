#include "common/browse/storage.h"

#include <algorithm>

#include "common/maintenance/usage.h"
#include "common/store/walk.h"

namespace regfs::browse {

StorageSummary summarizeStorage(const Store& store, size_t top) {
  StoreUsage usage = measureUsage(store);
  StorageSummary s;
  s.blobs = usage.blobs;
  s.bytes = usage.blobBytes;
  for (const RepositoryUsage& r : usage.repositories) {
    // A directory with uploads only (a first push under way) is no repository yet.
    if (r.manifests == 0) continue;
    ++s.repositories;
    s.referencedBytes += r.bytes;
    s.biggest.push_back({r.name, r.bytes});
  }
  // A repository's first push has uploads before it has a manifest: every directory counts.
  for (const RepoName& name : listRepositoryDirs(store.driver())) {
    for (UploadInfo& upload : store.repository(name).listUploads())
      s.uploads.push_back({name.str(), std::move(upload)});
  }
  s.dedupeSavings = s.referencedBytes > s.bytes ? s.referencedBytes - s.bytes : 0;
  std::stable_sort(
      s.biggest.begin(), s.biggest.end(),
      [](const RepositorySize& a, const RepositorySize& b) { return a.size > b.size; });
  if (s.biggest.size() > top) s.biggest.resize(top);
  return s;
}

}  // namespace regfs::browse
