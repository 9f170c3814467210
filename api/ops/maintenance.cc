#include "api/ops/maintenance.h"

#include <spdlog/spdlog.h>

#include "api/ops/metrics.h"
#include "common/config/defaults.h"
#include "common/maintenance/purge.h"

namespace regfs::api {

UploadPurger::UploadPurger(Store& store, UploadPurgingConfig config)
    : store_(store), config_(config) {
  if (!config_.enabled) return;
  if (config_.interval <= std::chrono::nanoseconds(0))
    config_.interval = kDefaultUploadPurgingInterval;
  // distribution waits a random part of the interval before the first run, so that
  // servers started together do not purge together; a fixed minute is enough here.
  auto first = std::min<std::chrono::nanoseconds>(config_.interval, std::chrono::minutes(1));
  worker_.startEvery(first, config_.interval, [this] { runOnce(); });
}

UploadPurger::~UploadPurger() { worker_.stop(); }

void UploadPurger::runOnce() {
  auto cutoff = std::chrono::system_clock::now() -
                std::chrono::duration_cast<std::chrono::system_clock::duration>(config_.age);
  size_t purged = 0;
  try {
    // The same purge as `regfsctl purge-uploads`.
    purged = purgeUploads(store_, cutoff, config_.dryRun).purged.size();
  } catch (const std::exception& e) {
    spdlog::error("upload purging: {}", e.what());
    return;
  }
  std::lock_guard lock(mu_);
  runs_++;
  purged_ += purged;
  spdlog::info("upload purging: {} {} stale upload sessions",
               config_.dryRun ? "would remove" : "removed", purged);
}

void UploadPurger::collect(std::string& out) const {
  std::lock_guard lock(mu_);
  appendMetricHeader(out, "regfs_upload_purge_runs_total", "counter",
                     "Runs of storage.maintenance.uploadpurging.");
  appendSample(out, "regfs_upload_purge_runs_total", {}, static_cast<double>(runs_));
  appendMetricHeader(out, "regfs_upload_purge_sessions_total", "counter",
                     "Upload sessions removed by upload purging (or listed, in a dry run).");
  appendSample(out, "regfs_upload_purge_sessions_total", {}, static_cast<double>(purged_));
}

}  // namespace regfs::api
