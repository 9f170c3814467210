#include "api/service.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>

#include "api/ops/operations.h"
#include "api/registry/auth.h"
#include "api/ui/web_ui.h"
#include "common/error.h"
#include "common/storage/observed_driver.h"
#include "common/storage/s3_driver.h"
#include "common/store/open.h"
#include "regfs/version.h"

namespace regfs::api {
namespace {

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

Response json(int status, std::string body) {
  Response r(status);
  r.set("Content-Type", "application/json; charset=utf-8");
  r.body = std::move(body);
  return r;
}

bool onS3(const Config& config) { return config.storage.driver == StorageDriverKind::kS3; }

}  // namespace

Service::Service(const Settings& settings) : settings_(settings) {
  const Config& config = settings.config;
  ServerOptions server = settings.server;
  server.authenticator = setUpAuthenticator(settings.auth);
  if (config.regfs.uiEnabled) {
    server.pages = [ui = std::make_shared<WebUi>()](const Request& r) { return ui->answer(r); };
  }
  if (!onS3(config)) std::filesystem::create_directories(settings.rootdirectory);
  // Every write goes through one driver that tells the web UI's summaries what changed.
  auto observed = std::make_shared<ObservedDriver>(makeDriver(config.storage));
  Store store(observed);
  // One cache of the trees of files inside images, for every request that reads them, and
  // one set of layer indexes under it, which the indexer shares: a layer is built once.
  auto trees = std::make_shared<layers::FileTrees>(store);
  std::shared_ptr<mirror::Mirror> mirror;
  if (config.mirroring()) {
    mirror = std::make_shared<mirror::Mirror>(store, config.proxy, config.regfs.proxyUpstreams);
    for (const PrefixUpstream& up : config.regfs.proxyUpstreams) {
      spdlog::info("pull-through cache of {} for {}/…", up.proxy.remoteUrl, up.prefix);
    }
    if (config.proxy.enabled()) spdlog::info("pull-through cache of {}", config.proxy.remoteUrl);
  }
  registry_ = std::make_shared<Registry>(store, settings.registry, trees, mirror);
  observed->observe([summaries = registry_->summariesRef()](std::string_view path) {
    if (auto s = summaries.lock()) s->changed(path);
  });
  health_ = std::make_shared<HealthChecks>(config.health, registry_->store().driver(),
                                           onS3(config) ? "s3" : "filesystem",
                                           !settings.registry.readOnly);
  health_->start();
  notifier_ = std::make_shared<Notifier>(
      config.notifications,
      NotificationSource{hostname() + ":" + std::to_string(server.port), newUuid()});
  purger_ = std::make_unique<UploadPurger>(registry_->store(), config.storage.uploadPurging);
  GcScheduleConfig gc = config.regfs.gc;
  if (settings.registry.readOnly && gc.interval > std::chrono::nanoseconds(0)) {
    spdlog::warn("regfs.gc.interval is set, but the registry is read-only: no scheduled gc");
    gc.interval = std::chrono::nanoseconds(0);
  }
  gc_ = std::make_unique<ScheduledGc>(registry_->store(), gc);
  // A read-only registry removes nothing.
  RetentionConfig retention = config.regfs.retention;
  if (settings.registry.readOnly) retention.enabled = false;
  retention_ = std::make_unique<RetentionScheduler>(registry_->store(), retention,
                                                    config.regfs.immutable, notifier_);
  // A read-only registry takes no pushes, and may not write indexes.
  if (config.regfs.indexingEnabled && !settings.registry.readOnly)
    indexer_ = std::make_shared<LayerIndexer>(trees);
  server_ = std::make_unique<Server>(registry_, server);
  // Requests are counted only when something can read the counts (http.debug.addr).
  bool debugOn = !config.http.debugAddr.empty();
  server_->setObserver(
      std::make_shared<Operations>(debugOn ? metrics_ : nullptr, health_, notifier_, indexer_,
                                   OperationsOptions{settings.server.accessLog, config.http.host}));
  if (debugOn) startDebugServer();
}

void Service::startDebugServer() {
  const Config& config = settings_.config;
  stats_ = std::make_unique<StoreStats>(registry_->store(), kStoreCountInterval);
  metrics_->addCollector([server = server_.get()](std::string& out) {
    appendMetricHeader(out, "registry_http_in_flight_requests", "gauge",
                       "Requests being answered now.");
    appendSample(out, "registry_http_in_flight_requests", {}, server->inFlight());
  });
  metrics_->addCollector([stats = stats_.get()](std::string& out) { stats->collect(out); });
  metrics_->addCollector([purger = purger_.get()](std::string& out) { purger->collect(out); });
  metrics_->addCollector([gc = gc_.get()](std::string& out) { gc->collect(out); });
  metrics_->addCollector(
      [retention = retention_.get()](std::string& out) { retention->collect(out); });
  metrics_->addCollector([notifier = notifier_](std::string& out) { notifier->collect(out); });
  metrics_->addCollector([health = health_](std::string& out) { health->collect(out); });
  if (indexer_)
    metrics_->addCollector([indexer = indexer_](std::string& out) { indexer->collect(out); });
  if (registry_->mirror()) {
    metrics_->addCollector([registry = registry_](std::string& out) {
      appendMirrorMetrics(out, registry->mirror()->counters());
    });
  }
  metrics_->addCollector([](std::string& out) {
    appendMetricHeader(out, "regfs_build_info", "gauge", "The running version.");
    appendSample(out, "regfs_build_info", {{"version", kVersion}}, 1);
  });

  std::map<std::string, DebugServer::Route> routes;
  auto metricsRoute = [metrics = metrics_](const Request&) {
    Response r(200);
    r.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.body = metrics->render();
    return r;
  };
  routes["/metrics"] = metricsRoute;
  if (config.http.prometheusEnabled) routes[config.http.prometheusPath] = metricsRoute;
  routes["/debug/health"] = [health = health_](const Request&) {
    auto failures = health->failures();
    return json(failures.empty() ? 200 : 503, healthJson(failures));
  };
  routes["/healthz"] = [](const Request&) { return json(200, "{}\n"); };
  routes["/readyz"] = [health = health_, &draining = draining_](const Request&) {
    if (draining.load()) return json(503, "{\"draining\":\"shutting down\"}\n");
    auto failures = health->failures();
    return json(failures.empty() ? 200 : 503, healthJson(failures));
  };
  debug_ = std::make_unique<DebugServer>(config.http.debugAddr, std::move(routes));
  spdlog::info("debug server listening on {} (port {})", config.http.debugAddr, debug_->port());
}

void Service::start() {
  const Config& config = settings_.config;
  try {
    server_->start();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // The HTTP library's own exception: http.addr cannot be listened on (as for http.debug.addr).
    throw Error(ErrorKind::kConfigInvalid, "http.addr " + config.http.addr + ": " + e.what());
  }
  spdlog::info("regfs-server {} listening on {}:{} ({}, {} threads), store {}", kVersion,
               settings_.server.host.empty() ? "0.0.0.0" : settings_.server.host, server_->port(),
               settings_.server.tls.certificate.empty() ? "http" : "https", server_->threads(),
               onS3(config) ? "s3://" + config.storage.s3.bucket + "/" +
                                  s3Key(config.storage.s3.rootDirectory, "")
                            : settings_.rootdirectory.string());
}

void Service::drain(const std::string& why) {
  draining_ = true;
  auto timeout = settings_.config.http.drainTimeout > std::chrono::nanoseconds(0)
                     ? std::chrono::duration_cast<std::chrono::milliseconds>(
                           settings_.config.http.drainTimeout)
                     : kDefaultDrainTimeout;
  spdlog::info("{}: draining (up to {} ms)", why, timeout.count());
  if (!server_->drainAndStop(timeout)) {
    spdlog::warn("drain timeout reached with requests still in flight; they were cut off");
  }
  if (indexer_) indexer_->stop();
  notifier_->stop(kNotificationFlushTimeout);
}

}  // namespace regfs::api
