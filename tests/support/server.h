#pragma once
// Test support: a real regfs-server process on a free loopback port, over a store in a
// temp directory (or a given one), stopped by PID when the object goes away.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <vector>

#include "support/image.h"
#include "support/process.h"

namespace regfs::testing {

struct RegfsServerOptions {
  bool deleteEnabled = true;
  bool readOnly = false;
  int catalogMaxEntries = 0;  // 0: the default
  // Extra lines appended to config.yml (top-level YAML).
  std::string extraConfig;
  // Lines under `storage:` that replace the filesystem driver (e.g. an s3 block); the
  // store is then not `root`.
  std::string storage;
  std::map<std::string, std::string> env;
};

// Options for htpasswd auth with one user (htpasswd -Bbn), its file written into `dir`;
// throws std::runtime_error when htpasswd fails.
RegfsServerOptions htpasswdAuth(const std::filesystem::path& dir, const std::string& user,
                                const std::string& password);

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

// --- A small HTTP client: curl for ordinary requests, a raw socket for the rest ---

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool has(const std::string& name) const { return headers.count(name) > 0; }
  // The OCI error code of an error body ("" if none).
  std::string code() const {
    auto p = body.find("\"code\":\"");
    if (p == std::string::npos) return "";
    p += 8;
    return body.substr(p, body.find('"', p) - p);
  }
};

// Parses curl -i output; skips interim 1xx responses.
inline Reply parseReply(const std::string& out) {
  Reply r;
  size_t pos = 0;
  while (true) {
    size_t end = out.find("\r\n\r\n", pos);
    if (end == std::string::npos) return r;
    std::string head = out.substr(pos, end - pos);
    pos = end + 4;
    r.status = std::stoi(head.substr(9, 3));
    if (r.status >= 100 && r.status < 200) continue;
    size_t line = head.find("\r\n");
    while (line != std::string::npos) {
      size_t next = head.find("\r\n", line + 2);
      std::string h =
          head.substr(line + 2, next == std::string::npos ? std::string::npos : next - line - 2);
      size_t colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers[name] = value;
      }
      line = next;
    }
    r.body = out.substr(pos);
    return r;
  }
}

// curl -i -X METHOD URL [args...]
inline Reply http(const std::string& method, const std::string& url,
                  std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {"-i", "-X", method, url};
  if (method == "HEAD") argv = {"-i", "-I", url};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult c = curl(argv);
  EXPECT_EQ(c.status, 0) << "curl " << method << " " << url << ": " << c.err;
  return parseReply(c.out);
}

// GET of a files API URL (…/_regfs/files/…), asked again while the server answers 503
// INDEX_PENDING (it is indexing the image's layers), for a minute at most.
inline Reply getFiles(const std::string& url, std::vector<std::string> args = {}) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (;;) {
    Reply r = http("GET", url, args);
    if (r.status != 503 || r.code() != "INDEX_PENDING" ||
        std::chrono::steady_clock::now() > deadline)
      return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// The value of one sample (name and labels, as written) in Prometheus text, -1 when absent.
// How many times `needle` occurs in `text` (a log, a metrics page).
inline size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// A regfs-server with a debug listener on a free port, for its metrics.
struct MetricsServer {
  int debugPort = freePort();
  std::unique_ptr<RegfsServer> server;
  MetricsServer(const std::filesystem::path& root, RegfsServerOptions options) {
    options.env["REGISTRY_HTTP_DEBUG_ADDR"] = "127.0.0.1:" + std::to_string(debugPort);
    server = std::make_unique<RegfsServer>(root, std::move(options));
    EXPECT_TRUE(waitForPort(debugPort)) << server->log();
  }
  std::string metrics() const {
    return http("GET", "http://127.0.0.1:" + std::to_string(debugPort) + "/metrics").body;
  }
};

inline double sampleValue(const std::string& metrics, const std::string& sample) {
  size_t at = metrics.find("\n" + sample + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + sample.size() + 2));
}

// A TCP listener on 127.0.0.1:`port` (0: a free one), closed on destruction. With
// `acceptAndClose` a thread accepts every connection and closes it at once (so that
// frequent probes never fill the backlog); without, connections wait unanswered.
class LoopbackListener {
 public:
  explicit LoopbackListener(int port = 0, bool acceptAndClose = true);
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
};

// Sends `request` bytes on one connection, reads until the server closes or `timeoutMs`.
// A slow reader (`pauseUs` > 0) has a small receive buffer and reads `readSize` bytes at a
// time with a pause after each, so that the server finds the socket full again and again.
std::string rawExchange(int port, const std::string& request, int timeoutMs = 3000,
                        size_t readSize = 65536, int pauseUs = 0);

}  // namespace regfs::testing
