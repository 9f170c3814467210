#pragma once
// Test support: a real regfs-server process on a free loopback port, over a store in a
// temp directory (or a given one), stopped by PID when the object goes away.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "support/process.h"

namespace regfs::testing {

struct RegfsServerOptions {
  bool deleteEnabled = true;
  bool readOnly = false;
  int catalogMaxEntries = 0;  // 0: the default
  // Extra lines appended to config.yml (top-level YAML).
  std::string extraConfig;
  std::map<std::string, std::string> env;
};

class RegfsServer {
 public:
  // Serves `root` (a fresh temp store when empty).
  explicit RegfsServer(const std::filesystem::path& root = {}, RegfsServerOptions options = {});
  ~RegfsServer();
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return "http://" + host(); }
  const std::filesystem::path& root() const { return root_; }
  pid_t pid() const { return process_->pid(); }
  std::string log() const { return process_->log(); }
  // Sends SIGTERM and returns the exit status.
  int stop();

 private:
  TempDir dir_;
  std::filesystem::path root_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace regfs::testing
