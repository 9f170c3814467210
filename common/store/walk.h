#pragma once
// Whole-store walks for maintenance (gc, fsck, purging), beside the per-request
// operations of common/store/store.h.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/names.h"
#include "common/storage/driver.h"

namespace regfs {

// Every directory under repositories/ that holds repository data (a child _manifests,
// _layers or _uploads), in catalog order. Unlike Store::catalog this includes a repository
// whose first push has not reached a manifest yet, which still has uploads and layer links.
std::vector<RepoName> listRepositoryDirs(const StorageDriver& driver);

// One repository as a listing of the whole store shows it.
struct RepositoryListing {
  RepoName name;
  std::map<Digest, FileInfo> revisions;        // revision links
  std::map<Tag, FileInfo> tags;                // tags with a current link
  std::map<Tag, std::set<Digest>> tagHistory;  // tag index entries
  std::map<Digest, FileInfo> layers;           // layer links
};

// What maintenance needs to know of a store, from one StorageDriver::listTree(): on an
// object store, one listing of the bucket.
struct StoreListing {
  std::vector<RepositoryListing> repositories;  // in catalog order, as listRepositoryDirs
  std::map<Digest, FileInfo> blobs;             // blob data files
  std::set<Digest> quarantined;                 // blobs a collection has parked
  std::map<Digest, FileInfo> layerIndexes;      // index files of layers' contents
};

// The whole store (blobs, repositories, quarantine, layer indexes) in one listing.
StoreListing listStore(const StorageDriver& driver);
// The repositories alone, in one listing of repositories/.
std::vector<RepositoryListing> listRepositories(const StorageDriver& driver);

// Calls `fn` with the driver path of every file under `dir` (recursively, directories
// excluded), in bytewise order per directory; and `onSymlink`, when given, with every
// symbolic link on the way, which the walk does not follow (StorageDriver::isSymlink).
void forEachFile(const StorageDriver& driver, const std::string& dir,
                 const std::function<void(const std::string& path)>& fn,
                 const std::function<void(const std::string& path)>& onSymlink = {});

}  // namespace regfs
