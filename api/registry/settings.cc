#include "api/registry/settings.h"

#include "common/config/config.h"
#include "common/error.h"

namespace regfs::api {

void parseAddr(const std::string& addr, ServerOptions& out) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos)
    throw Error(ErrorKind::kConfigInvalid, "http.addr: no port in " + addr);
  std::string host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string portText = addr.substr(colon + 1);
  int port = -1;
  if (!portText.empty() && portText.size() <= 5 &&
      portText.find_first_not_of("0123456789") == std::string::npos) {
    port = std::stoi(portText);
  }
  if (port < 0 || port > 65535)
    throw Error(ErrorKind::kConfigInvalid, "http.addr: bad port in " + addr);
  out.host = host.empty() ? "0.0.0.0" : host;
  out.port = port;
}

namespace {

Settings settingsFrom(const Config& config) {
  Settings s;
  if (config.http.net != "tcp") {
    throw Error(ErrorKind::kConfigInvalid,
                "http.net: regfs-server listens on tcp only, not " + config.http.net);
  }
  s.rootdirectory = config.storage.filesystem.rootDirectory;
  parseAddr(config.http.addr, s.server);
  for (const auto& [name, values] : config.http.headers) {
    for (const auto& v : values) s.server.extraHeaders.emplace_back(name, v);
  }
  s.server.accessLog = !config.log.accessLogDisabled;
  s.server.tls = config.http.tls;
  s.auth = config.auth;
  s.registry.deleteEnabled = config.storage.deleteEnabled;
  s.registry.immutable = config.regfs.immutable;
  s.registry.readOnly = config.storage.readOnly;
  s.registry.uiRefresh = config.regfs.uiRefresh;
  s.registry.catalogMaxEntries =
      config.catalogMaxEntries > 0 ? static_cast<size_t>(config.catalogMaxEntries) : 1000;
  const std::string& level = config.log.level;
  if (level == "error") {
    s.logLevel = spdlog::level::err;
  } else if (level == "warn" || level == "warning") {
    s.logLevel = spdlog::level::warn;
  } else if (level == "debug" || level == "trace") {
    s.logLevel = spdlog::level::debug;
  } else {
    s.logLevel = spdlog::level::info;
  }
  s.warnings = config.warnings;
  s.config = config;
  return s;
}

}  // namespace

Settings loadSettings(const std::string& configPath) {
  return settingsFrom(loadConfig(configPath, processEnvironment()));
}

}  // namespace regfs::api
