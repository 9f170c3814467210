#include "common/store/open.h"

#include <spdlog/spdlog.h>

#include "common/storage/s3_driver.h"

namespace regfs {
namespace {

bool isConfigFile(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) &&
         (path.extension() == ".yml" || path.extension() == ".yaml");
}

}  // namespace

std::shared_ptr<StorageDriver> makeDriver(const StorageConfig& storage) {
  if (storage.driver == StorageDriverKind::kS3)
    return makeS3Driver(storage.s3, !storage.redirectDisabled);
  return makeFsDriver(storage.filesystem.rootDirectory);
}

StoreRoot openStoreRoot(const std::string& rootOrConfig) {
  StoreRoot out;
  if (isConfigFile(rootOrConfig)) {
    Config config = loadConfig(rootOrConfig, processEnvironment());
    out.uploadPurgingAge = config.storage.uploadPurging.age;
    if (config.storage.driver == StorageDriverKind::kS3) {
      for (const std::string& warning : config.warnings) spdlog::warn("{}", warning);
      out.driver = makeS3Driver(config.storage.s3);
      return out;
    }
  }
  out.rootdirectory = resolveStoreRoot(rootOrConfig);
  out.driver = makeFsDriver(out.rootdirectory);
  return out;
}

}  // namespace regfs
