#pragma once
// Numbers about the whole store for /metrics (blobs, repositories, upload sessions),
// counted by a background thread at start and then every `refresh`, so a scrape only
// reads the last count and never walks the store.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/store/inventory.h"

namespace regfs::api {

class StoreStats {
 public:
  StoreStats(const Store& store, std::chrono::seconds refresh);
  ~StoreStats();
  StoreStats(const StoreStats&) = delete;
  StoreStats& operator=(const StoreStats&) = delete;
  void collect(std::string& out) const;

 private:
  const Store& store_;
  std::chrono::seconds refresh_;
  mutable std::mutex mu_;
  StoreCounts counts_;
  bool counted_ = false;
  double lastDuration_ = 0;
  std::chrono::system_clock::time_point countedAt_{};
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace regfs::api
