#include "support/server.h"

#include <stdexcept>

namespace regfs::testing {

RegfsServer::RegfsServer(const std::filesystem::path& root, RegfsServerOptions options) {
  root_ = root.empty() ? dir_ / "store" : root;
  port_ = freePort();
  std::string config = "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: " +
                       root_.string() + "\n  delete:\n    enabled: " +
                       (options.deleteEnabled ? "true" : "false") +
                       "\n  maintenance:\n    readonly:\n      enabled: " +
                       (options.readOnly ? "true" : "false") + "\nhttp:\n  addr: 127.0.0.1:" +
                       std::to_string(port_) + "\n";
  if (options.catalogMaxEntries > 0) {
    config += "catalog:\n  maxentries: " + std::to_string(options.catalogMaxEntries) + "\n";
  }
  config += options.extraConfig;
  writeFile(dir_ / "config.yml", config);
  process_ = std::make_unique<Process>(
      std::vector<std::string>{(binDir() / "regfs-server").string(), (dir_ / "config.yml").string()},
      options.env, dir_ / "server.log");
  if (!waitForPort(port_)) {
    throw std::runtime_error("regfs-server did not start: " + process_->log());
  }
}

RegfsServer::~RegfsServer() = default;

int RegfsServer::stop() { return process_->stop(15); }

}  // namespace regfs::testing
