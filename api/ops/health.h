#pragma once
// distribution's health checks, the `health` section: the storage probe (storagedriver),
// files that must not exist (file), URIs that must answer a status (http) and addresses
// that must accept a TCP connection (tcp). Each check probes on its own thread every
// `interval`; after `threshold` failures in a row (at the first when 0) it fails, and a
// success makes it pass again. While any check fails, the debug server's /debug/health
// answers 503 with {"<check>": "<error>", …} and the registry API answers 503
// UNAVAILABLE, as distribution does. Checks are named as in distribution:
// "storagedriver_<driver>", the file path, the URI, the address.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/http/response.h"
#include "common/config/config.h"
#include "common/store/store.h"
#include "common/worker.h"

namespace regfs::api {

class HealthCheck {
 public:
  // Returns "" when healthy, else why not; gives up early once `cancel` turns true.
  using Probe = std::function<std::string(const std::atomic<bool>& cancel)>;
  HealthCheck(std::string name, Probe probe, std::chrono::nanoseconds interval, int threshold);
  ~HealthCheck();
  HealthCheck(const HealthCheck&) = delete;
  HealthCheck& operator=(const HealthCheck&) = delete;

  // Probes on a background thread: the first time at once (before returning when
  // `firstHere`), then every interval.
  void start(bool firstHere);
  void probeOnce();
  const std::string& name() const { return name_; }
  bool failing() const { return failing_.load(std::memory_order_relaxed); }
  // The last error while the check fails, nullopt while it passes.
  std::optional<std::string> failure() const;
  uint64_t probes() const { return probes_.load(); }
  uint64_t probeFailures() const { return probeFailures_.load(); }

 private:
  std::string name_;
  Probe probe_;
  std::chrono::nanoseconds interval_;
  int threshold_;
  std::atomic<bool> failing_{false};
  std::atomic<uint64_t> probes_{0};
  std::atomic<uint64_t> probeFailures_{0};
  int consecutive_ = 0;
  mutable std::mutex mu_;
  std::string lastError_;
  Worker worker_{"health-check"};  // last: stopped first
};

class HealthChecks {
 public:
  // The checks `config` enables. `driver` (named `driverName` in the check's name)
  // outlives this object; `writeProbe`: the storage probe also writes and removes a file
  // (off in read-only mode).
  HealthChecks(const HealthConfig& config, StorageDriver& driver, const std::string& driverName,
               bool writeProbe);

  bool empty() const { return checks_.empty(); }
  // The storage probe runs once before this returns, the others at once on their threads.
  void start();
  bool healthy() const;
  // Failing checks by name, with their last error ({} when healthy).
  std::map<std::string, std::string> failures() const;
  // health.storagedriver's check, nullptr when it is off.
  const HealthCheck* storage() const { return storage_; }
  // Prometheus samples: regfs_storage_healthy, regfs_storage_probes_total{result},
  // regfs_health_checks_failing.
  void collect(std::string& out) const;

 private:
  std::vector<std::unique_ptr<HealthCheck>> checks_;
  HealthCheck* storage_ = nullptr;
};

// The probes, one attempt each: "" when healthy, else why not.
// Fails while `path` exists (stat succeeds); a missing file passes.
std::string probeFile(const std::string& path);
// Opens a TCP connection to `addr` ("host:port", "[v6]:port") within `timeout`.
std::string probeTcp(const std::string& addr, std::chrono::nanoseconds timeout,
                     const std::atomic<bool>& cancel);

// The registry API's answer while a health check fails (distribution's UNAVAILABLE).
Response unavailableResponse();
// {"check": "error", …} as /debug/health writes it.
std::string healthJson(const std::map<std::string, std::string>& failures);

}  // namespace regfs::api
