#pragma once
// ROOT and duration arguments, resolved through common/config (kept out of command.h, so
// the commands do not depend on the config parser).

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/storage/driver.h"

namespace regfs::tools {

struct RootConfig {
  std::filesystem::path rootdirectory;  // empty when the store is in S3
  // storage.maintenance.uploadpurging.age of the config.yml ROOT names (168h by default).
  std::chrono::nanoseconds uploadPurgingAge = std::chrono::hours(168);
  // The storage the store is on: the file system under rootdirectory, or the S3 bucket a
  // config.yml names.
  std::shared_ptr<StorageDriver> driver;
};

// ROOT is a rootdirectory or a config.yml (with REGISTRY_* applied from the environment)
// naming a filesystem or an s3 store.
RootConfig resolveRoot(const std::string& root);

// Parses the value of duration option `name` ("1h", "30m", "10s"); throws a one-line
// Error naming the option.
std::chrono::nanoseconds durationArgument(const std::string& name, const std::string& text);

}  // namespace regfs::tools
