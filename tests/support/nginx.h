#pragma once
// Test support: nginx as a reverse proxy on a free loopback port, as registries are deployed
// behind one: each location prefix goes to its upstreams (round-robin over several), request
// and response bodies stream, the client's Host header is passed on. One process (no
// workers), stopped by PID with the object.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace regfs::testing {

class NginxProxy {
 public:
  struct Route {
    std::string location;                // "/v2/", "/token"
    std::vector<std::string> upstreams;  // "127.0.0.1:5000", ...
  };
  // Starts nginx on `port` (a free one when 0: pass one when an upstream must know the
  // proxy's address before it starts); a test failure with its logs when it does not answer.
  explicit NginxProxy(const std::vector<Route>& routes, int port = 0);

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return "http://" + host(); }
  // "METHOD URI STATUS UPSTREAM" for each request so far (UPSTREAM "-" when nginx answered).
  std::vector<std::string> requests() const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

}  // namespace regfs::testing
