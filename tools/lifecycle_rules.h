#pragma once
// The lifecycle rules (regfs.retention, regfs.immutable) regfsctl retention and immutable
// apply: from --config when given, else from ROOT when ROOT is a config.yml.

#include <string>

#include "common/config/config.h"

namespace regfs::tools {

// Throws Error(kInvalidArgument) when neither names a config.yml.
RegfsConfig lifecycleRules(const std::string& root, const std::string& configFile);

}  // namespace regfs::tools
