#include "common/store/open.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/storage/s3_driver.h"

namespace regfs {

std::shared_ptr<StorageDriver> makeDriver(const StorageConfig& storage) {
  if (storage.driver == StorageDriverKind::kS3)
    return makeS3Driver(storage.s3, !storage.redirectDisabled);
  return makeFsDriver(storage.filesystem.rootDirectory);
}

StorageConfig storageNamedBy(const std::string& rootOrConfig, const Environment& env,
                             RootMust must) {
  std::filesystem::path path(rootOrConfig);
  std::error_code ec;
  std::filesystem::file_status status = std::filesystem::status(path, ec);
  bool exists = std::filesystem::exists(status);
  if (!exists && must == RootMust::kExist) {
    throw Error(ErrorKind::kNotFound, rootOrConfig + ": no such directory or config file");
  }
  if (!exists || std::filesystem::is_directory(status)) {
    StorageConfig storage;
    storage.filesystem.rootDirectory = path;
    return storage;
  }
  std::string extension = path.extension().string();
  if (!std::filesystem::is_regular_file(status) || (extension != ".yml" && extension != ".yaml")) {
    throw Error(ErrorKind::kInvalidArgument,
                rootOrConfig + ": neither a directory nor a .yml/.yaml config file");
  }
  Config config = loadConfig(path, env);
  for (const std::string& warning : config.warnings) spdlog::warn("{}", warning);
  return config.storage;
}

std::filesystem::path localStoreRoot(const std::string& rootOrConfig, const Environment& env,
                                     RootMust must) {
  StorageConfig storage = storageNamedBy(rootOrConfig, env, must);
  if (storage.driver != StorageDriverKind::kFilesystem) {
    throw Error(ErrorKind::kConfigInvalid,
                rootOrConfig +
                    ": the storage driver is not filesystem, so there is no local rootdirectory");
  }
  return storage.filesystem.rootDirectory;
}

StoreRoot openStoreRoot(const std::string& rootOrConfig, const Environment& env) {
  StorageConfig storage = storageNamedBy(rootOrConfig, env);
  StoreRoot out;
  out.uploadPurgingAge = storage.uploadPurging.age;
  if (storage.driver == StorageDriverKind::kS3) {
    out.driver = makeS3Driver(storage.s3);
    return out;
  }
  out.rootdirectory = storage.filesystem.rootDirectory;
  out.driver = makeFsDriver(out.rootdirectory);
  return out;
}

}  // namespace regfs
