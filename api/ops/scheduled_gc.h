#pragma once
// regfs.gc: garbage collection on a schedule, in the server: the same collection as
// `regfsctl garbage-collect` (common/maintenance/gc.h, online-safe, with its grace and
// settle), every `interval`, by one server at a time of those sharing the store.
//
// The turn is a lease in the store (common/store/lease.h, at layout::gcLease()) whose term is
// the interval: a server that wakes claims it, waits the settle, and runs only if the lease
// still holds its claim; a lease of any holder in its term means the run of this interval
// is done or under way, and the server sleeps until the term ends. So the replicas run one
// collection per interval between them, whichever wakes first after a term ends; a holder
// that dies takes its turn with it, and the next term is the others'. The lease's race
// (claims of two servers that both found it free) is settled by the confirmation; where its
// argument does not hold (a server paused longer than the settle between reading and
// writing the lease), two collections overlap, which gc.h makes safe: at worst one fails
// and is logged. A run longer than the interval likewise may overlap the next one.
//
// Metrics: runs, failures, blobs and bytes removed, the time of the last run, whether this
// server holds the lease. One log line per run sums it up.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/config/config.h"
#include "common/store/lease.h"
#include "common/store/store.h"
#include "common/worker.h"

namespace regfs::api {

class ScheduledGc {
 public:
  // Starts the schedule when `config.interval` is set; `holder` names this server in the
  // lease (thisProcessHolder() when empty).
  ScheduledGc(Store& store, GcScheduleConfig config, std::string holder = {});
  ~ScheduledGc();
  ScheduledGc(const ScheduledGc&) = delete;
  ScheduledGc& operator=(const ScheduledGc&) = delete;
  void collect(std::string& out) const;

 private:
  // One wake-up: claims the lease and runs a collection when it is this server's turn.
  // Returns how long to sleep before the next.
  std::chrono::nanoseconds turn();
  void runCollection();

  Store& store_;
  GcScheduleConfig config_;
  Lease lease_;
  mutable std::mutex mu_;
  uint64_t runs_ = 0;              // under mu_
  uint64_t failures_ = 0;          // under mu_
  uint64_t blobsRemoved_ = 0;      // under mu_
  uint64_t bytesRemoved_ = 0;      // under mu_
  double lastRun_ = 0;             // unix seconds of the last run's end, under mu_
  bool leaseHeld_ = false;         // under mu_
  Worker worker_{"scheduled-gc"};  // last: stopped first
};

}  // namespace regfs::api
