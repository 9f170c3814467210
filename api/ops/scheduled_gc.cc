#include "api/ops/scheduled_gc.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/ops/metrics.h"
#include "common/maintenance/gc.h"
#include "common/store/layout.h"

namespace regfs::api {
namespace {

// A server that finds the lease taken looks again when its term ends, but not sooner than
// this: a lease whose expiry lies in the past of a skewed clock must not make it spin.
constexpr std::chrono::seconds kMinWait{1};

double unixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

ScheduledGc::ScheduledGc(Store& store, GcScheduleConfig config, std::string holder)
    : store_(store),
      config_(config),
      lease_(store.driverPtr(), layout::gcLease(),
             holder.empty() ? thisProcessHolder() : std::move(holder)) {
  if (config_.interval <= std::chrono::nanoseconds(0)) return;
  worker_.start([this] {
    // The first turn comes after a minute at most, as upload purging's does.
    auto wait = std::min<std::chrono::nanoseconds>(config_.interval, std::chrono::minutes(1));
    while (worker_.sleepFor(wait)) wait = turn();
  });
}

ScheduledGc::~ScheduledGc() { worker_.stop(); }

std::chrono::nanoseconds ScheduledGc::turn() {
  auto now = std::chrono::system_clock::now();
  auto ttl = std::chrono::duration_cast<std::chrono::system_clock::duration>(config_.interval);
  std::optional<LeaseRecord> claim;
  try {
    claim = lease_.claim(now, ttl);
    if (claim && !worker_.sleepFor(config_.settle)) return {};
    if (claim && !lease_.confirm(*claim)) claim.reset();
  } catch (const Error& e) {
    spdlog::error("scheduled gc: the lease could not be taken: {}", e.what());
    return std::max<std::chrono::nanoseconds>(kMinWait, config_.interval / 10);
  }
  {
    std::lock_guard lock(mu_);
    leaseHeld_ = claim.has_value();
  }
  if (claim) runCollection();
  // The next term begins when the lease, ours or another's, ends.
  std::optional<LeaseRecord> current;
  try {
    current = lease_.read();
  } catch (const Error& e) {
    spdlog::warn("scheduled gc: the lease could not be read: {}", e.what());
  }
  auto end = current ? current->expires : now + ttl;
  return std::max<std::chrono::nanoseconds>(kMinWait, end - std::chrono::system_clock::now());
}

void ScheduledGc::runCollection() {
  GcOptions options;
  options.deleteUntagged = config_.deleteUntagged;
  options.grace = std::chrono::duration_cast<std::chrono::seconds>(config_.grace);
  options.settle = std::chrono::duration_cast<std::chrono::milliseconds>(config_.settle);
  // Stopping ends a run part-way, which gc.h makes as safe as a crash: what it parked in
  // quarantine goes back at the next run.
  options.progress = [this](const ProgressUpdate&) {
    if (worker_.stopping()) throw Error(ErrorKind::kUnsupported, "the server is stopping");
  };
  auto start = std::chrono::steady_clock::now();
  try {
    GcResult r = collectGarbage(store_, options);
    auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard lock(mu_);
    ++runs_;
    blobsRemoved_ += r.blobs.size();
    bytesRemoved_ += r.bytesFreed;
    lastRun_ = unixSeconds(std::chrono::system_clock::now());
    spdlog::info(
        "scheduled gc: {} repositories, {} manifests and {} blobs marked; removed {} blobs, {} "
        "untagged manifests, {} layer links, {} bytes; kept {} young blobs; {:.3f}s",
        r.repositories, r.manifestsMarked, r.blobsMarked, r.blobs.size(), r.manifests.size(),
        r.layerLinks.size(), r.bytesFreed, r.youngBlobs.size(), took);
    for (const std::string& w : r.warnings) spdlog::warn("scheduled gc: {}", w);
  } catch (const Error& e) {
    std::lock_guard lock(mu_);
    ++failures_;
    spdlog::error("scheduled gc: the run failed: {}", e.what());
  }
}

void ScheduledGc::collect(std::string& out) const {
  std::lock_guard lock(mu_);
  appendMetricHeader(out, "regfs_gc_runs_total", "counter",
                     "Scheduled garbage collections this server ran (regfs.gc).");
  appendSample(out, "regfs_gc_runs_total", {}, static_cast<double>(runs_));
  appendMetricHeader(out, "regfs_gc_failures_total", "counter",
                     "Scheduled garbage collections that failed.");
  appendSample(out, "regfs_gc_failures_total", {}, static_cast<double>(failures_));
  appendMetricHeader(out, "regfs_gc_blobs_removed_total", "counter",
                     "Blobs removed by scheduled garbage collections.");
  appendSample(out, "regfs_gc_blobs_removed_total", {}, static_cast<double>(blobsRemoved_));
  appendMetricHeader(out, "regfs_gc_bytes_removed_total", "counter",
                     "Bytes of blobs and layer indexes removed by scheduled garbage collections.");
  appendSample(out, "regfs_gc_bytes_removed_total", {}, static_cast<double>(bytesRemoved_));
  appendMetricHeader(out, "regfs_gc_last_run_timestamp_seconds", "gauge",
                     "When this server's last scheduled garbage collection ended (0: never).");
  appendSample(out, "regfs_gc_last_run_timestamp_seconds", {}, lastRun_);
  appendMetricHeader(out, "regfs_gc_lease_held", "gauge",
                     "1 while this server holds the scheduled garbage collection's lease.");
  appendSample(out, "regfs_gc_lease_held", {}, leaseHeld_ ? 1 : 0);
}

}  // namespace regfs::api
