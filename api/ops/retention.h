#pragma once
// regfs.retention.enabled: every `interval`, the retention policies are applied to the store
// with common/lifecycle/retention_run.h (the same run as `regfsctl retention`). Each removal
// is sent to the notification endpoints as a delete event, as an API DELETE is, and counted
// for the metrics; each run ends with one log line.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include "api/ops/notifications.h"
#include "common/config/config.h"
#include "common/store/store.h"
#include "common/worker.h"

namespace regfs::api {

class RetentionScheduler {
 public:
  RetentionScheduler(Store& store, RetentionConfig config, std::vector<ImmutableRule> immutable,
                     std::shared_ptr<Notifier> notifier);
  ~RetentionScheduler();
  RetentionScheduler(const RetentionScheduler&) = delete;
  RetentionScheduler& operator=(const RetentionScheduler&) = delete;
  void collect(std::string& out) const;

 private:
  void runOnce();
  Store& store_;
  RetentionConfig config_;
  std::vector<ImmutableRule> immutable_;
  std::shared_ptr<Notifier> notifier_;
  mutable std::mutex mu_;
  uint64_t runs_ = 0;           // under mu_
  uint64_t failures_ = 0;       // under mu_
  uint64_t tags_ = 0;           // under mu_: tags removed (or listed, in a dry run)
  uint64_t manifests_ = 0;      // under mu_
  Worker worker_{"retention"};  // last: stopped first
};

}  // namespace regfs::api
