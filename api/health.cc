#include "api/health.h"

#include <spdlog/spdlog.h>

#include "common/inventory.h"

namespace regfs::api {
namespace {

constexpr const char* kCheckName = "storagedriver_filesystem";

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

StorageHealth::StorageHealth(StorageDriver& driver, std::chrono::nanoseconds interval,
                             int threshold, bool write)
    : driver_(driver),
      interval_(interval > std::chrono::nanoseconds(0) ? interval : std::chrono::seconds(10)),
      threshold_(threshold),
      write_(write) {}

StorageHealth::~StorageHealth() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StorageHealth::start() {
  probeOnce();
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (cv_.wait_for(lock, interval_, [this] { return stop_; })) break;
      lock.unlock();
      probeOnce();
      lock.lock();
    }
  });
}

void StorageHealth::probeOnce() {
  std::string error;
  try {
    probeStorage(driver_, write_);
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "storage probe failed";
  }
  probes_++;
  std::lock_guard lock(mu_);
  if (error.empty()) {
    if (!healthy_.load()) spdlog::info("health check {} passes again", kCheckName);
    consecutive_ = 0;
    lastError_.clear();
    healthy_ = true;
    return;
  }
  probeFailures_++;
  consecutive_++;
  lastError_ = error;
  if (consecutive_ >= std::max(threshold_, 1) && healthy_.load()) {
    spdlog::error("health check {} fails: {}", kCheckName, error);
    healthy_ = false;
  }
}

std::map<std::string, std::string> StorageHealth::failures() const {
  if (healthy()) return {};
  std::lock_guard lock(mu_);
  return {{kCheckName, lastError_}};
}

Response unavailableResponse() {
  Response r(503);
  r.set("Content-Type", "application/json; charset=utf-8");
  r.body =
      "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"service unavailable\","
      "\"detail\":\"health check failed: please see /debug/health\"}]}\n";
  return r;
}

std::string healthJson(const std::map<std::string, std::string>& failures) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, error] : failures) {
    if (!first) out += ',';
    first = false;
    appendJsonString(out, name);
    out += ':';
    appendJsonString(out, error);
  }
  out += "}\n";
  return out;
}

}  // namespace regfs::api
