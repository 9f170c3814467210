#include "common/maintenance/usage.h"

#include <unordered_map>

#include "common/maintenance/gc.h"
#include "common/store/layout.h"
#include "common/store/walk.h"

namespace regfs {
namespace {

// The bytes of the blobs in `sizes` that `marks` did not mark.
uint64_t unmarkedBytes(const std::unordered_map<Digest, uint64_t>& sizes, const StoreMarks& marks) {
  uint64_t bytes = 0;
  for (const auto& [digest, size] : sizes) {
    if (!marks.marked.count(digest)) bytes += size;
  }
  return bytes;
}

}  // namespace

StoreUsage measureUsage(const Store& store, const ProgressFn& progress) {
  StoreMarks all = markStore(store, false, progress);
  StoreMarks tagged = markStore(store, true, progress);

  StoreUsage usage;
  std::unordered_map<Digest, uint64_t> sizes;
  store.forEachBlob([&](const Digest& d) {
    if (auto info = store.statBlob(d)) usage.blobBytes += sizes[d] = info->size;
  });
  usage.blobs = sizes.size();

  std::unordered_map<Digest, size_t> owners;  // repositories reaching each blob
  for (const RepositoryMarks& repo : all.repositories) {
    for (const Digest& d : repo.blobs) ++owners[d];
  }
  for (const RepositoryMarks& repo : all.repositories) {
    RepositoryUsage u{repo.name.str(), repo.revisions.size(), repo.tags};
    for (const Digest& d : repo.blobs) {
      auto it = sizes.find(d);
      if (it == sizes.end()) continue;  // referenced but missing: fsck's business
      ++u.blobs;
      u.bytes += it->second;
      (owners[d] > 1 ? u.sharedBytes : u.uniqueBytes) += it->second;
    }
    usage.repositories.push_back(u);
  }

  usage.gcFrees = unmarkedBytes(sizes, all);
  usage.gcDeleteUntaggedFrees = unmarkedBytes(sizes, tagged);
  for (const RepoName& name : listRepositoryDirs(store.driver())) {
    for (const UploadInfo& upload : store.repository(name).listUploads()) {
      ++usage.uploads;
      usage.uploadBytes += upload.size;
    }
  }
  for (const auto& [path, info] : store.driver().listTree(layout::layerIndexRoot())) {
    if (layout::classifyFile(path).kind != layout::StoreFile::Kind::kLayerIndex) continue;
    ++usage.layerIndexes;
    usage.layerIndexBytes += info.size;
  }
  return usage;
}

}  // namespace regfs
