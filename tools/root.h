#pragma once
// ROOT and duration arguments, resolved through common/config (kept out of command.h:
// config.h's StorageDriver enum and driver.h's StorageDriver class cannot meet in one file).

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace regfs::tools {

struct RootConfig {
  std::filesystem::path rootdirectory;
  // storage.maintenance.uploadpurging.age of the config.yml ROOT names (168h by default).
  std::chrono::nanoseconds uploadPurgingAge = std::chrono::hours(168);
};

// ROOT is a rootdirectory or a config.yml (with REGISTRY_* applied from the environment).
RootConfig resolveRoot(const std::string& root);

// Parses the value of duration option `name` ("1h", "30m", "10s"); throws a one-line
// Error naming the option.
std::chrono::nanoseconds durationArgument(const std::string& name, const std::string& text);

}  // namespace regfs::tools
