#pragma once
// Opening a store from what a command line or a config names. ROOT, as regfs-mount and
// regfsctl take it, is a store's rootdirectory, or a config.yml (REGISTRY_* applied from the
// environment) naming a filesystem or an s3 store; regfs-server opens its config's storage.

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

// The store ROOT names. Throws Error naming ROOT when it is neither a directory nor such a
// config (resolveStoreRoot's errors); a rootdirectory is not required to exist.
StoreRoot openStoreRoot(const std::string& rootOrConfig);

}  // namespace regfs
