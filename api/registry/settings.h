#pragma once
// What regfs-server takes from distribution's configuration (common/config/config.h: config.yml
// with REGISTRY_* overrides): the store, the listen address, the registry's behaviour
// switches and logging.

#include <spdlog/common.h>

#include <filesystem>
#include <string>
#include <vector>

#include "api/registry/options.h"
#include "common/config/config.h"
#include "common/config/defaults.h"

namespace regfs::api {

struct Settings {
  std::filesystem::path rootdirectory{kDefaultRootDirectory};
  ServerOptions server;
  RegistryOptions registry;
  AuthConfig auth;  // turned into server.authenticator at start (api/registry/auth.h)
  spdlog::level::level_enum logLevel = spdlog::level::info;
  std::vector<std::string> warnings;  // to log once logging is set up
  Config config;  // everything else (debug server, health, notifications, log format)
};

// Loads `configPath` (empty: distribution's defaults) with this process's REGISTRY_* variables.
// Throws Error(kConfigInvalid) for what regfs-server cannot serve (another storage driver,
// a unix socket, a malformed address).
Settings loadSettings(const std::string& configPath);

// Splits distribution's http.addr (":5000", "127.0.0.1:5000", "[::1]:5000") into host and port.
void parseAddr(const std::string& addr, ServerOptions& out);

}  // namespace regfs::api
