#include "api/ops/health.h"

#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "api/http/http_client.h"
#include "api/http/json.h"
#include "api/ops/metrics.h"
#include "common/handles.h"
#include "common/store/inventory.h"
#include "common/unique_fd.h"

namespace regfs::api {
namespace {

using std::chrono::nanoseconds;
using Clock = std::chrono::steady_clock;

constexpr nanoseconds kDefaultInterval = std::chrono::seconds(10);  // distribution's
constexpr std::chrono::milliseconds kCancelSlice{100};

// A timeout of zero or less means the check's interval: no probe outlives its period.
nanoseconds orInterval(nanoseconds timeout, nanoseconds interval) {
  return timeout > nanoseconds(0) ? timeout : interval;
}

// Waits until `fd` is writable, in slices so that `cancel` is seen; false on timeout.
bool waitWritable(int fd, Clock::time_point deadline, const std::atomic<bool>& cancel) {
  while (!cancel.load()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min(left, kCancelSlice).count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
  return false;
}

// Splits "host:port" or "[v6]:port"; false when there is no port.
bool splitHostPort(const std::string& addr, std::string& host, std::string& port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) return false;
  host = addr.substr(0, colon);
  port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return true;
}

}  // namespace

std::string probeFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return "file exists";
  if (errno == ENOENT || errno == ENOTDIR) return "";
  return "cannot check " + path + ": " + std::strerror(errno);
}

std::string probeTcp(const std::string& addr, nanoseconds timeout,
                     const std::atomic<bool>& cancel) {
  std::string host, port;
  if (!splitHostPort(addr, host, port)) return "connection to " + addr + " failed: no port";
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  // An empty host is the local system, as in Go's net.Dial.
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
      rc != 0) {
    return "connection to " + addr + " failed: " + gai_strerror(rc);
  }
  CPtr<addrinfo, ::freeaddrinfo> addresses(res);
  std::string error = "no address";
  bool connected = false;
  for (addrinfo* ai = res; ai && !connected; ai = ai->ai_next) {
    UniqueFd s(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!s) continue;
    if (::connect(s.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      connected = true;
      break;
    }
    if (errno != EINPROGRESS) {
      error = std::strerror(errno);
      continue;
    }
    if (!waitWritable(s.get(), deadline, cancel)) {
      error = "timeout";
      continue;
    }
    int soError = 0;
    socklen_t len = sizeof soError;
    ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &soError, &len);
    if (soError != 0) {
      error = std::strerror(soError);
      continue;
    }
    connected = true;
  }
  return connected ? "" : "connection to " + addr + " failed: " + error;
}

HealthCheck::HealthCheck(std::string name, Probe probe, nanoseconds interval, int threshold)
    : name_(std::move(name)),
      probe_(std::move(probe)),
      interval_(interval > nanoseconds(0) ? interval : kDefaultInterval),
      threshold_(threshold) {}

HealthCheck::~HealthCheck() { worker_.stop(); }

void HealthCheck::start(bool firstHere) {
  spdlog::info("health check {}: every {} ms, failing after {} failed probes in a row", name_,
               std::chrono::duration_cast<std::chrono::milliseconds>(interval_).count(),
               std::max(threshold_, 1));
  if (firstHere) probeOnce();
  worker_.startEvery(firstHere ? interval_ : nanoseconds(0), interval_, [this] { probeOnce(); });
}

void HealthCheck::probeOnce() {
  std::string error;
  try {
    error = probe_(worker_.stopFlag());
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "probe failed";
  }
  probes_++;
  std::lock_guard lock(mu_);
  if (error.empty()) {
    if (failing_.load()) spdlog::info("health check {} passes again", name_);
    consecutive_ = 0;
    lastError_.clear();
    failing_ = false;
    return;
  }
  probeFailures_++;
  consecutive_++;
  lastError_ = error;
  if (consecutive_ >= std::max(threshold_, 1) && !failing_.load()) {
    spdlog::error("health check {} fails: {}", name_, error);
    failing_ = true;
  }
}

std::optional<std::string> HealthCheck::failure() const {
  std::lock_guard lock(mu_);
  if (!failing_.load()) return std::nullopt;
  return lastError_;
}

HealthChecks::HealthChecks(const HealthConfig& config, StorageDriver& driver,
                           const std::string& driverName, bool writeProbe) {
  if (config.storageDriver.enabled) {
    auto probe = [&driver, writeProbe](const std::atomic<bool>&) {
      probeStorage(driver, writeProbe);
      return std::string();
    };
    checks_.push_back(std::make_unique<HealthCheck>("storagedriver_" + driverName, probe,
                                                    config.storageDriver.interval,
                                                    config.storageDriver.threshold));
    storage_ = checks_.back().get();
  }
  for (const FileHealthConfig& c : config.files) {
    auto probe = [file = c.file](const std::atomic<bool>&) { return probeFile(file); };
    checks_.push_back(std::make_unique<HealthCheck>(c.file, probe, c.interval, c.threshold));
  }
  for (const HttpHealthConfig& c : config.http) {
    OutboundRequest head;
    head.method = "HEAD";
    head.url = c.uri;
    head.headers = c.headers;
    head.timeout = orInterval(c.timeout, c.interval);
    head.followRedirects = true;                               // as Go's client does
    auto client = std::make_shared<HttpClient>(config.trust);  // used by the check's thread only
    auto probe = [client, head, expected = c.statusCode](const std::atomic<bool>& cancel) {
      OutboundResult r = client->send(head, &cancel);
      if (!r.error.empty()) return "error while checking " + head.url + ": " + r.error;
      if (r.status != expected) {
        return "downstream service returned unexpected status: " + std::to_string(r.status);
      }
      return std::string();
    };
    checks_.push_back(std::make_unique<HealthCheck>(c.uri, probe, c.interval, c.threshold));
  }
  for (const TcpHealthConfig& c : config.tcp) {
    auto probe = [addr = c.addr, timeout = orInterval(c.timeout, c.interval)](
                     const std::atomic<bool>& cancel) { return probeTcp(addr, timeout, cancel); };
    checks_.push_back(std::make_unique<HealthCheck>(c.addr, probe, c.interval, c.threshold));
  }
}

void HealthChecks::start() {
  for (auto& check : checks_) check->start(check.get() == storage_);
}

bool HealthChecks::healthy() const {
  for (const auto& check : checks_) {
    if (check->failing()) return false;
  }
  return true;
}

std::map<std::string, std::string> HealthChecks::failures() const {
  std::map<std::string, std::string> out;
  for (const auto& check : checks_) {
    if (auto error = check->failure()) out[check->name()] = *error;
  }
  return out;
}

Response unavailableResponse() {
  Response r(503);
  r.set("Content-Type", "application/json; charset=utf-8");
  r.body =
      "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"service unavailable\","
      "\"detail\":\"health check failed: please see /debug/health\"}]}\n";
  return r;
}

void HealthChecks::collect(std::string& out) const {
  appendMetricHeader(out, "regfs_storage_healthy", "gauge",
                     "1 while the health.storagedriver check passes (1 when it is off).");
  appendSample(out, "regfs_storage_healthy", {}, !storage_ || !storage_->failing() ? 1 : 0);
  if (storage_) {
    appendMetricHeader(out, "regfs_storage_probes_total", "counter",
                       "Storage health probes, and those that failed.");
    appendSample(out, "regfs_storage_probes_total", {{"result", "ok"}},
                 static_cast<double>(storage_->probes() - storage_->probeFailures()));
    appendSample(out, "regfs_storage_probes_total", {{"result", "error"}},
                 static_cast<double>(storage_->probeFailures()));
  }
  appendMetricHeader(out, "regfs_health_checks_failing", "gauge",
                     "Configured health checks failing now (the API answers 503 while above 0).");
  appendSample(out, "regfs_health_checks_failing", {}, static_cast<double>(failures().size()));
}

std::string healthJson(const std::map<std::string, std::string>& failures) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, error] : failures) {
    if (!first) out += ',';
    first = false;
    out += jsonString(name);
    out += ':';
    out += jsonString(error);
  }
  out += "}\n";
  return out;
}

}  // namespace regfs::api
