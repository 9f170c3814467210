#pragma once
// Inside the config loader: the REGISTRY_* environment overrides, applied to the YAML tree
// of the file before any section is read, following distribution's configuration/parser.go
// (the rules are in common/config/config.h).

#include <yaml-cpp/yaml.h>

#include "common/config/config.h"
#include "common/config/reader.h"

namespace regfs::config {

// Sets the key each REGISTRY_* variable of `env` names in `root` (a mapping), in byte order
// of the names. Records where each value came from in `reader`, and warns there about a
// variable that names no known key. Throws Error(kConfigInvalid) for a value that is not
// YAML and for a list index that is not a number or is past the end.
void applyOverrides(YAML::Node root, const Environment& env, Reader& reader);

}  // namespace regfs::config
