#pragma once
// What regfs-server takes from distribution's configuration (config.yml + REGISTRY_*).

#include <spdlog/common.h>

#include <filesystem>
#include <string>

#include "api/registry.h"
#include "api/server.h"

namespace regfs::api {

struct Settings {
  std::filesystem::path rootdirectory = "/var/lib/registry";
  ServerOptions server;
  RegistryOptions registry;
  spdlog::level::level_enum logLevel = spdlog::level::info;
};

// Loads `configPath` (none: distribution's defaults) with REGISTRY_* overrides.
// Throws regfs::Error(kConfigInvalid) naming the bad key.
Settings loadSettings(const std::string& configPath);

// Splits distribution's http.addr (":5000", "127.0.0.1:5000", "[::1]:5000") into host and port.
void parseAddr(const std::string& addr, ServerOptions& out);

}  // namespace regfs::api
