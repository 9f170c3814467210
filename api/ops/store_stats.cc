#include "api/ops/store_stats.h"

#include <spdlog/spdlog.h>

#include "api/ops/metrics.h"

namespace regfs::api {

StoreStats::StoreStats(const Store& store, std::chrono::seconds refresh)
    : store_(store), refresh_(refresh) {
  worker_.startEvery(std::chrono::seconds(0), refresh_, [this] { countOnce(); });
}

StoreStats::~StoreStats() { worker_.stop(); }

void StoreStats::countOnce() {
  auto started = std::chrono::steady_clock::now();
  try {
    StoreCounts c = countStore(store_);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::lock_guard lock(mu_);
    counts_ = c;
    counted_ = true;
    lastDuration_ = took;
    countedAt_ = std::chrono::system_clock::now();
  } catch (const std::exception& e) {
    spdlog::warn("counting the store for metrics: {}", e.what());
  }
}

void StoreStats::collect(std::string& out) const {
  std::lock_guard lock(mu_);
  if (!counted_) return;
  appendMetricHeader(out, "regfs_store_blobs", "gauge",
                     "Blobs in the store (manifests included), as last counted.");
  appendSample(out, "regfs_store_blobs", {}, static_cast<double>(counts_.blobs));
  appendMetricHeader(out, "regfs_store_repositories", "gauge",
                     "Repositories in the store, as last counted.");
  appendSample(out, "regfs_store_repositories", {}, static_cast<double>(counts_.repositories));
  appendMetricHeader(
      out, "regfs_store_uploads_in_progress", "gauge",
      "Upload sessions open in the store (started, not committed, cancelled or purged), as last "
      "counted.");
  appendSample(out, "regfs_store_uploads_in_progress", {}, static_cast<double>(counts_.uploads));
  appendMetricHeader(out, "regfs_store_count_timestamp_seconds", "gauge",
                     "When the store was last counted (Unix time).");
  appendSample(out, "regfs_store_count_timestamp_seconds", {},
               std::chrono::duration<double>(countedAt_.time_since_epoch()).count());
  appendMetricHeader(out, "regfs_store_count_duration_seconds", "gauge",
                     "How long the last count took.");
  appendSample(out, "regfs_store_count_duration_seconds", {}, lastDuration_);
}

}  // namespace regfs::api
