#include "common/walk.h"

#include <algorithm>

#include "common/layout.h"

namespace regfs {
namespace {

bool isRepositoryData(const std::string& child) {
  return child == layout::kManifestsDir || child == "_layers" || child == "_uploads";
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

void forEachFile(const StorageDriver& driver, const std::string& dir,
                 const std::function<void(const std::string& path)>& fn) {
  for (const std::string& child : driver.list(dir)) {
    std::string path = dir + "/" + child;
    auto info = driver.stat(path);
    if (!info) continue;  // removed while we looked
    if (info->isDirectory) {
      forEachFile(driver, path, fn);
    } else {
      fn(path);
    }
  }
}

}  // namespace regfs
