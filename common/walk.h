#pragma once
// Whole-store walks for maintenance (gc, fsck, purging), beside the per-request
// operations of common/store.h.

#include <functional>
#include <string>
#include <vector>

#include "common/driver.h"
#include "common/names.h"

namespace regfs {

// Every directory under repositories/ that holds repository data (a child _manifests,
// _layers or _uploads), in catalog order. Unlike Store::catalog this includes a repository
// whose first push has not reached a manifest yet, which still has uploads and layer links.
std::vector<RepoName> listRepositoryDirs(const StorageDriver& driver);

// Calls `fn` with the driver path of every file under `dir` (recursively, directories
// excluded), in bytewise order per directory.
void forEachFile(const StorageDriver& driver, const std::string& dir,
                 const std::function<void(const std::string& path)>& fn);

}  // namespace regfs
