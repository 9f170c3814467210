#include "common/store/walk.h"

#include <algorithm>

#include "common/store/layout.h"

namespace regfs {
namespace {

bool isRepositoryData(const std::string& child) {
  return child == layout::kManifestsDir || child == layout::kLayersDir ||
         child == layout::kUploadsDir;
}

void walkRepositories(const StorageDriver& driver, const std::string& dir, const std::string& name,
                      std::vector<RepoName>& out) {
  std::vector<std::string> children = driver.list(dir);
  if (!name.empty()) {
    for (const std::string& child : children) {
      if (!isRepositoryData(child)) continue;
      if (auto repo = RepoName::tryParse(name)) out.push_back(std::move(*repo));
      break;
    }
  }
  for (const std::string& child : children) {
    if (child.empty() || child[0] == '_' || child[0] == '.') continue;
    std::string childName = name.empty() ? child : name + "/" + child;
    auto info = driver.stat(dir + "/" + child);
    if (!info || !info->isDirectory) continue;
    walkRepositories(driver, dir + "/" + child, childName, out);
  }
}

}  // namespace

std::vector<RepoName> listRepositoryDirs(const StorageDriver& driver) {
  std::vector<RepoName> out;
  walkRepositories(driver, layout::repositoriesRoot(), "", out);
  std::sort(out.begin(), out.end(),
            [](const RepoName& a, const RepoName& b) { return catalogLess(a.str(), b.str()); });
  return out;
}

namespace {

// Adds `files` to `listing`; repositories come out in catalog order.
void addFiles(const std::vector<std::pair<std::string, FileInfo>>& files, StoreListing& listing) {
  std::map<RepoName, RepositoryListing> repositories;
  using Kind = layout::StoreFile::Kind;
  for (const auto& [path, info] : files) {
    layout::StoreFile file = layout::classifyFile(path);
    if (file.kind == Kind::kBlobData) listing.blobs[*file.digest] = info;
    if (file.kind == Kind::kQuarantinedData) listing.quarantined.insert(*file.digest);
    if (file.kind == Kind::kLayerIndex) listing.layerIndexes[*file.digest] = info;
    if (!file.repository) continue;
    auto it = repositories.find(*file.repository);
    if (it == repositories.end()) {
      it = repositories
               .emplace(*file.repository, RepositoryListing{*file.repository, {}, {}, {}, {}})
               .first;
    }
    RepositoryListing& repo = it->second;
    switch (file.kind) {
      case Kind::kLayerLink:
        repo.layers[*file.digest] = info;
        break;
      case Kind::kRevisionLink:
        repo.revisions[*file.digest] = info;
        break;
      case Kind::kTagCurrentLink:
        repo.tags[*file.tag] = info;
        break;
      case Kind::kTagIndexLink:
        repo.tagHistory[*file.tag].insert(*file.digest);
        break;
      default:
        break;
    }
  }
  for (auto& [name, repo] : repositories) listing.repositories.push_back(std::move(repo));
  std::sort(listing.repositories.begin(), listing.repositories.end(),
            [](const RepositoryListing& a, const RepositoryListing& b) {
              return catalogLess(a.name.str(), b.name.str());
            });
}

}  // namespace

StoreListing listStore(const StorageDriver& driver) {
  StoreListing listing;
  addFiles(driver.listTree(layout::v2Root()), listing);
  return listing;
}

std::vector<RepositoryListing> listRepositories(const StorageDriver& driver) {
  StoreListing listing;
  addFiles(driver.listTree(layout::repositoriesRoot()), listing);
  return std::move(listing.repositories);
}

void forEachFile(const StorageDriver& driver, const std::string& dir,
                 const std::function<void(const std::string& path)>& fn,
                 const std::function<void(const std::string& path)>& onSymlink) {
  for (const std::string& child : driver.list(dir)) {
    std::string path = dir + "/" + child;
    auto info = driver.stat(path);
    if (!info) {
      // A symlink, or removed while we looked.
      if (onSymlink && driver.isSymlink(path)) onSymlink(path);
      continue;
    }
    if (info->isDirectory) {
      forEachFile(driver, path, fn, onSymlink);
    } else {
      fn(path);
    }
  }
}

}  // namespace regfs
