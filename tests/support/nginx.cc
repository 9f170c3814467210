#include "support/nginx.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

namespace regfs::testing {

namespace fs = std::filesystem;

NginxProxy::NginxProxy(const std::vector<Route>& routes, int port)
    : port_(port ? port : freePort()) {
  fs::create_directories(dir_ / "tmp");
  std::string d = dir_.path().string();
  std::ostringstream conf;
  conf << "user root;\n"
          "daemon off;\n"
          // One process: stopping it by PID leaves no worker behind.
          "master_process off;\n"
          "pid "
       << d << "/nginx.pid;\nerror_log " << d
       << "/error.log warn;\n"
          "events {}\n"
          "http {\n"
          "  log_format upstreams '$request_method $uri $status $upstream_addr';\n"
          "  access_log "
       << d << "/access.log upstreams;\n";
  for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
    conf << "  " << temp << "_temp_path " << d << "/tmp/" << temp << ";\n";
  for (size_t i = 0; i < routes.size(); ++i) {
    conf << "  upstream route" << i << " {\n";
    for (const std::string& upstream : routes[i].upstreams)
      conf << "    server " << upstream << ";\n";
    conf << "    keepalive 8;\n  }\n";
  }
  conf << "  server {\n"
          "    listen 127.0.0.1:"
       << port_
       << ";\n"
          "    client_max_body_size 0;\n"
          "    proxy_request_buffering off;\n"
          "    proxy_buffering off;\n"
          "    proxy_http_version 1.1;\n"
          "    proxy_read_timeout 900s;\n";
  for (size_t i = 0; i < routes.size(); ++i) {
    conf << "    location " << routes[i].location << " {\n"
         << "      proxy_pass http://route" << i
         << ";\n"
            "      proxy_set_header Host $http_host;\n"
            "      proxy_set_header Connection \"\";\n"
            "    }\n";
  }
  conf << "  }\n}\n";
  std::ofstream(dir_ / "nginx.conf") << conf.str();
  process_ = std::make_unique<Process>(
      std::vector<std::string>{"nginx", "-c", (dir_ / "nginx.conf").string(), "-p", d},
      std::map<std::string, std::string>{}, dir_ / "nginx.log");
  if (!waitForPort(port_)) {
    ADD_FAILURE() << "nginx did not start: " << process_->log() << readFile(dir_ / "error.log");
  }
}

std::vector<std::string> NginxProxy::requests() const {
  std::vector<std::string> lines;
  std::istringstream in(readFile(dir_ / "access.log"));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace regfs::testing
