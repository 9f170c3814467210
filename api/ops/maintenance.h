#pragma once
// storage.maintenance.uploadpurging: every `interval`, upload sessions older than `age`
// are removed, as distribution does, with common/maintenance/purge.h (the same purge as
// `regfsctl purge-uploads`); runs and purged sessions are counted for the metrics.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/config/config.h"
#include "common/store/store.h"
#include "common/worker.h"

namespace regfs::api {

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
  uint64_t runs_ = 0;              // under mu_
  uint64_t purged_ = 0;            // under mu_
  Worker worker_{"upload-purge"};  // last: stopped first
};

}  // namespace regfs::api
