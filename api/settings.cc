#include "api/settings.h"

#include <cstdlib>

#include "common/error.h"

namespace regfs::api {
namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

bool parseBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "True" || v == "TRUE") return true;
  if (v == "false" || v == "0" || v == "False" || v == "FALSE") return false;
  throw Error(ErrorKind::kConfigInvalid, key + ": not a boolean: " + v);
}

}  // namespace

void parseAddr(const std::string& addr, ServerOptions& out) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) throw Error(ErrorKind::kConfigInvalid, "http.addr: no port in " + addr);
  std::string host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(addr.substr(colon + 1), &used);
    if (used != addr.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw Error(ErrorKind::kConfigInvalid, "http.addr: bad port in " + addr);
  out.host = host.empty() ? "0.0.0.0" : host;
  out.port = port;
}

Settings loadSettings(const std::string& configPath) {
  Settings s;
  if (!configPath.empty()) {
    throw Error(ErrorKind::kConfigInvalid, "configuration files are not supported yet: " + configPath);
  }
  parseAddr(env("REGISTRY_HTTP_ADDR").value_or(":5000"), s.server);
  if (auto v = env("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY")) s.rootdirectory = *v;
  if (auto v = env("REGISTRY_LOG_LEVEL")) s.logLevel = spdlog::level::from_str(*v);
  if (auto v = env("REGISTRY_STORAGE_DELETE_ENABLED")) {
    s.registry.deleteEnabled = parseBool("storage.delete.enabled", *v);
  }
  if (auto v = env("REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED")) {
    s.registry.readOnly = parseBool("storage.maintenance.readonly.enabled", *v);
  }
  return s;
}

}  // namespace regfs::api
