#include "api/ops/retention.h"

#include <spdlog/spdlog.h>

#include "api/ops/metrics.h"
#include "common/lifecycle/retention_run.h"

namespace regfs::api {

RetentionScheduler::RetentionScheduler(Store& store, RetentionConfig config,
                                       std::vector<ImmutableRule> immutable,
                                       std::shared_ptr<Notifier> notifier)
    : store_(store),
      config_(std::move(config)),
      immutable_(std::move(immutable)),
      notifier_(std::move(notifier)) {
  if (!config_.enabled || config_.policies.empty()) return;
  // As upload purging: not at once, so a server that restarts in a loop does not run it in
  // a loop, and servers started together spread a little.
  auto first = std::min<std::chrono::nanoseconds>(config_.interval, std::chrono::minutes(1));
  worker_.startEvery(first, config_.interval, [this] { runOnce(); });
}

RetentionScheduler::~RetentionScheduler() { worker_.stop(); }

void RetentionScheduler::runOnce() {
  lifecycle::RetentionRunOptions options;
  options.policies = config_.policies;
  options.immutable = immutable_;
  options.dryRun = config_.dryRun;
  options.removed = [this](const RepoName& repo, const std::optional<Tag>& tag,
                           const Digest& manifest) {
    if (!notifier_ || notifier_->empty()) return;
    NotificationEvent e;
    e.action = "delete";
    e.repository = repo.str();
    // As the API's DELETE: by tag only the tag, by digest the manifest.
    if (tag) {
      e.tag = tag->str();
    } else {
      e.digest = manifest.str();
    }
    notifier_->publish(e);
  };
  lifecycle::RetentionReport report;
  try {
    report = lifecycle::runRetention(store_, options);
  } catch (const std::exception& e) {
    spdlog::error("retention: {}", e.what());
    std::lock_guard lock(mu_);
    failures_++;
    return;
  }
  for (const std::string& s : report.skipped) spdlog::info("retention: skipped {}", s);
  spdlog::info("retention: {} {} tags and {} untagged manifests in {} repositories",
               config_.dryRun ? "would remove" : "removed", report.tagsRemoved,
               report.manifestsRemoved, report.repositories);
  std::lock_guard lock(mu_);
  runs_++;
  tags_ += report.tagsRemoved;
  manifests_ += report.manifestsRemoved;
}

void RetentionScheduler::collect(std::string& out) const {
  std::lock_guard lock(mu_);
  appendMetricHeader(out, "regfs_retention_runs_total", "counter",
                     "Completed runs of regfs.retention.");
  appendSample(out, "regfs_retention_runs_total", {}, static_cast<double>(runs_));
  appendMetricHeader(out, "regfs_retention_failures_total", "counter",
                     "Runs of regfs.retention that stopped on an error.");
  appendSample(out, "regfs_retention_failures_total", {}, static_cast<double>(failures_));
  appendMetricHeader(out, "regfs_retention_removed_total", "counter",
                     "Tags and untagged manifests removed by regfs.retention (or listed, in a "
                     "dry run).");
  appendSample(out, "regfs_retention_removed_total", {{"kind", "tag"}}, static_cast<double>(tags_));
  appendSample(out, "regfs_retention_removed_total", {{"kind", "manifest"}},
               static_cast<double>(manifests_));
}

}  // namespace regfs::api
