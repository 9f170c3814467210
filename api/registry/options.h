#pragma once
// The switches of regfs-server, filled from the configuration (api/registry/settings.h).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/http/http.h"
#include "api/http/response.h"
#include "common/auth/auth.h"
#include "common/config/config.h"

namespace regfs::api {

struct RegistryOptions {
  bool deleteEnabled = false;            // storage.delete.enabled
  bool readOnly = false;                 // storage.maintenance.readonly.enabled
  size_t catalogMaxEntries = 1000;       // catalog.maxentries
  std::vector<ImmutableRule> immutable;  // regfs.immutable
  // regfs.ui.refresh (browse::StoreSummaries); zero reads the store for every catalog and
  // storage request, as a registry whose store has no observer must.
  std::chrono::nanoseconds uiRefresh{0};
};

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 5000;
  int threads = 0;  // reactor threads; 0 picks from the number of cores
  std::vector<std::pair<std::string, std::string>> extraHeaders;  // http.headers
  bool accessLog = true;                                          // !log.accesslog.disabled
  TlsConfig tls;                                 // http.tls; on when tls.certificate is set
  std::shared_ptr<Authenticator> authenticator;  // auth.*; null: every request allowed
  // Answers the requests it knows outside the API (the web UI's files, regfs.ui.enabled),
  // before auth: nullopt sends the request on to the API. Null: none.
  std::function<std::optional<Response>(const Request&)> pages;
};

}  // namespace regfs::api
