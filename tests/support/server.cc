#include "support/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <stdexcept>
#include <thread>

namespace regfs::testing {

RegfsServer::RegfsServer(const std::filesystem::path& root, RegfsServerOptions options) {
  root_ = root.empty() ? dir_ / "store" : root;
  port_ = freePort();
  std::string driver = options.storage.empty()
                           ? "  filesystem:\n    rootdirectory: " + root_.string() + "\n"
                           : options.storage;
  std::string config =
      "version: 0.1\nlog:\n  level: info\nstorage:\n" + driver +
      "  delete:\n    enabled: " + (options.deleteEnabled ? "true" : "false") +
      "\n  maintenance:\n    readonly:\n      enabled: " + (options.readOnly ? "true" : "false") +
      "\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n";
  if (options.catalogMaxEntries > 0) {
    config += "catalog:\n  maxentries: " + std::to_string(options.catalogMaxEntries) + "\n";
  }
  config += options.extraConfig;
  writeFile(dir_ / "config.yml", config);
  process_ =
      std::make_unique<Process>(std::vector<std::string>{(binDir() / "regfs-server").string(),
                                                         (dir_ / "config.yml").string()},
                                options.env, dir_ / "server.log");
  // A server that exits at start (a bad config) fails at once, not after the timeout.
  if (!process_->waitWhileRunning([this] { return portAccepts(port_); })) {
    throw std::runtime_error("regfs-server did not start: " + process_->log());
  }
}

RegfsServer::~RegfsServer() {
  // A graceful stop, so that checks the sanitizers make at exit run too; a report fails the test.
  process_->stop(SIGTERM);
  if (std::string report = sanitizerReport(process_->log()); !report.empty()) {
    ADD_FAILURE() << "regfs-server:\n" << report;
  }
}

int RegfsServer::stop() { return process_->stop(15); }

LoopbackListener::LoopbackListener(int port, bool acceptAndClose) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 64) != 0) {
    std::string error = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + error);
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (!acceptAndClose) return;
  acceptor_ = std::thread([fd = fd_] {
    while (true) {
      int c = ::accept(fd, nullptr, nullptr);
      if (c >= 0) {
        ::close(c);
      } else if (errno != EINTR) {
        return;  // shut down
      }
    }
  });
}

LoopbackListener::~LoopbackListener() {
  ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  ::close(fd_);
}

std::string rawExchange(int port, const std::string& request, int timeoutMs, size_t readSize,
                        int pauseUs) {
  int fd = connectLoopback(port, pauseUs > 0 ? static_cast<int>(readSize) : 0);
  if (fd < 0) return "";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) break;
    std::string buf(readSize, '\0');
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
    if (pauseUs > 0) std::this_thread::sleep_for(std::chrono::microseconds(pauseUs));
  }
  ::close(fd);
  return out;
}

RegfsServerOptions htpasswdAuth(const std::filesystem::path& dir, const std::string& user,
                                const std::string& password) {
  CommandResult h = run({"htpasswd", "-Bbn", user, password});
  if (h.status != 0) throw std::runtime_error("htpasswd failed: " + h.err);
  writeFile(dir / "htpasswd", h.out);
  RegfsServerOptions o;
  o.env = {{"REGISTRY_AUTH", "htpasswd"},
           {"REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm"},
           {"REGISTRY_AUTH_HTPASSWD_PATH", (dir / "htpasswd").string()}};
  return o;
}

}  // namespace regfs::testing
