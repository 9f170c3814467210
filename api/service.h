#pragma once
// regfs-server's parts wired together from its settings: the registry over the store, the
// API listener with its operations (metrics, access log, notifications, the health gate),
// upload purging, scheduled retention, the indexing of pushed layers and, on http.debug.addr,
// the debug listener with the store counts. Built in the constructor, listening from start(),
// drained by drain().

#include <atomic>
#include <chrono>
#include <memory>

#include "api/net/debug_server.h"
#include "api/net/server.h"
#include "api/ops/health.h"
#include "api/ops/layer_indexer.h"
#include "api/ops/maintenance.h"
#include "api/ops/metrics.h"
#include "api/ops/notifications.h"
#include "api/ops/retention.h"
#include "api/ops/scheduled_gc.h"
#include "api/ops/store_stats.h"
#include "api/registry/settings.h"

namespace regfs::api {

class Service {
 public:
  // How often the store is counted for /metrics.
  static constexpr std::chrono::seconds kStoreCountInterval{60};
  // http.draintimeout when it is not set, as in distribution.
  static constexpr std::chrono::milliseconds kDefaultDrainTimeout{30000};
  // How long a drain waits for queued notification events.
  static constexpr std::chrono::milliseconds kNotificationFlushTimeout{1000};

  // Throws when a part cannot start (auth files, TLS, storage, the debug listener).
  explicit Service(const Settings& settings);
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Opens the API listener and logs where it listens.
  void start();
  // Stops accepting, lets requests in flight finish for up to http.draintimeout, flushes
  // notifications, and stops layer indexing (a build in progress is cancelled). /readyz
  // answers 503 from the first moment. `why` starts the log line.
  void drain(const std::string& why);

 private:
  void startDebugServer();

  // In the order they start; they stop in reverse (the debug listener first, whose routes
  // read the others).
  const Settings& settings_;
  std::atomic<bool> draining_{false};
  std::shared_ptr<Registry> registry_;
  std::shared_ptr<Metrics> metrics_ = std::make_shared<Metrics>();
  std::shared_ptr<HealthChecks> health_;
  std::shared_ptr<Notifier> notifier_;
  std::unique_ptr<UploadPurger> purger_;
  std::unique_ptr<ScheduledGc> gc_;
  std::unique_ptr<RetentionScheduler> retention_;  // idle unless regfs.retention.enabled
  std::shared_ptr<LayerIndexer> indexer_;          // null when regfs.indexing.enabled is false
  std::unique_ptr<Server> server_;
  std::unique_ptr<StoreStats> stats_;
  std::unique_ptr<DebugServer> debug_;
};

}  // namespace regfs::api
