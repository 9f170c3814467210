#include "tools/lifecycle_rules.h"

#include <filesystem>

#include "common/error.h"

namespace regfs::tools {

RegfsConfig lifecycleRules(const std::string& root, const std::string& configFile) {
  std::string file = configFile;
  if (file.empty()) {
    std::filesystem::path p(root);
    if (p.extension() == ".yml" || p.extension() == ".yaml") file = root;
  }
  if (file.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "the rules are in a config.yml: give it as ROOT or with --config");
  }
  return loadConfig(file, processEnvironment()).regfs;
}

}  // namespace regfs::tools
