#pragma once
// Numbers about the whole store for /metrics (blobs, repositories, upload sessions),
// counted by a background thread at start and then every `refresh`, so a scrape only
// reads the last count and never walks the store.

#include <chrono>
#include <mutex>
#include <string>

#include "common/store/inventory.h"
#include "common/worker.h"

namespace regfs::api {

class StoreStats {
 public:
  StoreStats(const Store& store, std::chrono::seconds refresh);
  ~StoreStats();
  StoreStats(const StoreStats&) = delete;
  StoreStats& operator=(const StoreStats&) = delete;
  void collect(std::string& out) const;

 private:
  void countOnce();
  const Store& store_;
  std::chrono::seconds refresh_;
  mutable std::mutex mu_;
  StoreCounts counts_;
  bool counted_ = false;
  double lastDuration_ = 0;
  std::chrono::system_clock::time_point countedAt_{};
  Worker worker_{"store-stats"};  // last: stopped first
};

}  // namespace regfs::api
