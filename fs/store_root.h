#pragma once
// ROOT as the command line gives it: a store rootdirectory, or a config.yml naming one.
// (A separate unit: common/config/config.h and common/store/store.h cannot share one today, both
// declare regfs::StorageDriver.)

#include <filesystem>
#include <string>

namespace regfs::view {

// Throws regfs::Error naming the argument when it is neither.
std::filesystem::path resolveRoot(const std::string& rootOrConfig);

}  // namespace regfs::view
