#pragma once
// The switches of regfs-server, filled from the configuration (api/settings.h).

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace regfs::api {

struct RegistryOptions {
  bool deleteEnabled = false;       // storage.delete.enabled
  bool readOnly = false;            // storage.maintenance.readonly.enabled
  size_t catalogMaxEntries = 1000;  // catalog.maxentries
};

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 5000;
  int threads = 0;  // reactor threads; 0 picks from the number of cores
  std::vector<std::pair<std::string, std::string>> extraHeaders;  // http.headers
  bool accessLog = true;                                           // !log.accesslog.disabled
};

}  // namespace regfs::api
