#pragma once
// The debug listener (http.debug.addr), apart from the registry API so scrapes and probes
// never queue behind registry traffic: /metrics (or prometheus.path), /debug/health,
// /healthz and /readyz. One thread, one connection at a time, "Connection: close".

#include <functional>
#include <map>
#include <string>
#include <thread>

#include "api/http/http.h"
#include "api/http/response.h"
#include "common/unique_fd.h"

namespace regfs::api {

class DebugServer {
 public:
  using Route = std::function<Response(const Request&)>;
  // `addr` as http.addr (":5001", "127.0.0.1:5001"). Throws Error (kConfigInvalid) when it
  // cannot bind.
  DebugServer(const std::string& addr, std::map<std::string, Route> routes);
  ~DebugServer();
  DebugServer(const DebugServer&) = delete;
  DebugServer& operator=(const DebugServer&) = delete;
  int port() const { return port_; }

 private:
  void run();
  void serve(int fd);
  std::map<std::string, Route> routes_;
  UniqueFd listen_;
  // The thread is no Worker: it blocks in poll() on the listening socket, which a Worker's
  // condition variable cannot interrupt, so the destructor stops it through this pipe,
  // which poll() watches too.
  UniqueFd stopRead_;
  UniqueFd stopWrite_;
  int port_ = 0;
  std::thread thread_;  // named "debug-listener"
};

}  // namespace regfs::api
