#pragma once
// health.storagedriver as distribution runs it: a probe of the storage every `interval`;
// after `threshold` failures in a row (at the first when 0) the check fails, the debug
// server's /debug/health answers 503 with {"storagedriver_filesystem": "<error>"}, and
// the registry API answers 503 UNAVAILABLE until a probe succeeds again.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/response.h"
#include "common/store.h"

namespace regfs::api {

class StorageHealth {
 public:
  // `write`: also write and remove a probe file (off in read-only mode). `driver`
  // outlives this object.
  StorageHealth(StorageDriver& driver, std::chrono::nanoseconds interval, int threshold,
                bool write);
  ~StorageHealth();
  StorageHealth(const StorageHealth&) = delete;
  StorageHealth& operator=(const StorageHealth&) = delete;

  // Runs the first probe now, then probes on a background thread.
  void start();
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
  // Failing checks by name, with their last error ({} when healthy).
  std::map<std::string, std::string> failures() const;
  uint64_t probes() const { return probes_.load(); }
  uint64_t probeFailures() const { return probeFailures_.load(); }
  void probeOnce();

 private:
  StorageDriver& driver_;
  std::chrono::nanoseconds interval_;
  int threshold_;
  bool write_;
  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> probes_{0};
  std::atomic<uint64_t> probeFailures_{0};
  int consecutive_ = 0;
  mutable std::mutex mu_;
  std::string lastError_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The registry API's answer while a health check fails (distribution's UNAVAILABLE).
Response unavailableResponse();
// {"check": "error", …} as /debug/health writes it.
std::string healthJson(const std::map<std::string, std::string>& failures);

}  // namespace regfs::api
