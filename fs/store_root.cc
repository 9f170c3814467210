#include "fs/store_root.h"

#include "common/config/config.h"

namespace regfs::view {

std::filesystem::path resolveRoot(const std::string& rootOrConfig) {
  return resolveStoreRoot(rootOrConfig);
}

}  // namespace regfs::view
