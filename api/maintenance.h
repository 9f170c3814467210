#pragma once
// storage.maintenance.uploadpurging: every `interval`, upload sessions older than `age`
// are removed, as distribution does. The purge itself belongs in common/ (shared with
// `regfsctl purge-uploads`); until it is part of this build, purgeStaleUploads() only
// reports that it cannot purge, and the timer, dry-run switch and metrics are in place.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "common/config.h"
#include "common/store.h"

namespace regfs::api {

struct PurgeOutcome {
  bool supported = false;  // false: this build has no purge to call
  uint64_t purged = 0;
};

// The hook: removes (or with dryRun, lists) upload sessions that started before `cutoff`.
PurgeOutcome purgeStaleUploads(Store& store, std::chrono::system_clock::time_point cutoff, bool dryRun);

class UploadPurger {
 public:
  UploadPurger(Store& store, UploadPurgingConfig config);
  ~UploadPurger();
  UploadPurger(const UploadPurger&) = delete;
  UploadPurger& operator=(const UploadPurger&) = delete;
  void collect(std::string& out) const;

 private:
  void runOnce();
  Store& store_;
  UploadPurgingConfig config_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t runs_ = 0;
  uint64_t purged_ = 0;
  std::thread thread_;
};

}  // namespace regfs::api
