#pragma once
// Opening a store from what a command line or a config names. ROOT, as regfs-mount and
// regfsctl take it, is a store's rootdirectory, or a config.yml naming a filesystem or an s3
// store (REGISTRY_* applied from the environment the program passes in); regfs-server opens
// its config's storage. ROOT is read here and nowhere else.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "common/config/config.h"
#include "common/config/defaults.h"
#include "common/storage/driver.h"

namespace regfs {

struct StoreRoot {
  std::filesystem::path rootdirectory;  // empty when the store is in S3
  std::shared_ptr<StorageDriver> driver;
  // storage.maintenance.uploadpurging.age of the config.yml ROOT names, else distribution's.
  std::chrono::nanoseconds uploadPurgingAge = kDefaultUploadPurgingAge;
};

// The driver `storage` names: the file system under storage.filesystem.rootdirectory, or S3
// (connecting and checking the credentials, see makeS3Driver).
std::shared_ptr<StorageDriver> makeDriver(const StorageConfig& storage);

// Whether ROOT must name something that is there: a store to read, or one about to be written.
enum class RootMust { kExist, kMayBeNew };

// The storage ROOT names, read once. A regular file named *.yml or *.yaml is a config.yml:
// loaded with `env`, its warnings logged, its storage section returned. A directory is a
// rootdirectory: the filesystem driver there, distribution's defaults for the rest. Anything
// else throws Error naming ROOT: kInvalidArgument for another kind of file, kNotFound when
// nothing is there, unless `must` is kMayBeNew: then the path is the rootdirectory to be.
StorageConfig storageNamedBy(const std::string& rootOrConfig, const Environment& env,
                             RootMust must = RootMust::kExist);

// The local rootdirectory ROOT names (storageNamedBy's errors); throws Error(kConfigInvalid)
// when its config.yml's driver is not filesystem. A rootdirectory need not exist.
std::filesystem::path localStoreRoot(const std::string& rootOrConfig, const Environment& env,
                                     RootMust must = RootMust::kExist);

// The store ROOT names (storageNamedBy's errors), its driver made: S3 is connected to, without
// redirects (see makeS3Driver); a rootdirectory is not required to exist.
StoreRoot openStoreRoot(const std::string& rootOrConfig, const Environment& env);

}  // namespace regfs
