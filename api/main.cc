// regfs-server: serve the registry API over a store.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "api/net/debug_server.h"
#include "api/net/server.h"
#include "api/ops/health.h"
#include "api/ops/logging.h"
#include "api/ops/maintenance.h"
#include "api/ops/metrics.h"
#include "api/ops/notifications.h"
#include "api/ops/operations.h"
#include "api/ops/store_stats.h"
#include "api/registry/auth.h"
#include "api/registry/settings.h"
#include "common/cli.h"
#include "common/error.h"
#include "common/storage/s3_driver.h"
#include "common/store/open.h"
#include "regfs/version.h"

namespace {

constexpr const char* kDescription =
    R"(regfs-server - a container registry compatible with distribution (registry:2)

SYNOPSIS
  regfs-server [CONFIG]

DESCRIPTION
  Serves the registry HTTP API (OCI Distribution 1.1, Docker Registry V2) over a store in
  distribution's on-disk layout, so registry:2 and regfs-server can take turns on one
  rootdirectory. CONFIG is a distribution config.yml; without it the defaults are those of
  the registry:2 image (addr :5000, rootdirectory /var/lib/registry). Every REGISTRY_*
  environment variable overrides the matching key (REGISTRY_HTTP_ADDR,
  REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY, REGISTRY_STORAGE_DELETE_ENABLED, ...).

OPERATIONS
  http.debug.addr            debug listener: /metrics (Prometheus), /debug/health,
                             /healthz (liveness), /readyz (readiness)
  http.debug.prometheus      enabled: true serves metrics at path (default /metrics)
  health                     storagedriver (the storage probe), file (fails while a file
                             exists), http (a HEAD must answer statuscode), tcp (addr must
                             accept): while a check fails the API answers 503 UNAVAILABLE
  log.level, log.formatter   error|warn|info|debug; text|json|logstash; log.fields on
                             every line; log.accesslog.disabled
  notifications.endpoints    webhooks in distribution's event envelope
  http.draintimeout          on SIGTERM/SIGINT: stop accepting, finish requests in flight
                             for up to this long (default 30s), exit 0
  storage.maintenance        readonly.enabled; uploadpurging (age, interval, dryrun)

FILES
  /etc/docker/registry/config.yml   the configuration in the container image
  /var/lib/registry                 the default rootdirectory

EXIT STATUS
  0 after a drain; 1 when the configuration or the listener fails; 2 on bad arguments.)";

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription};
  std::string configPath;
  app.add_option("CONFIG", configPath,
                 "distribution-style config.yml (REGISTRY_* variables override it)");
  regfs::addVersionFlag(app, "regfs-server");
  if (int rc = regfs::parseCommandLine(app, argc, argv); rc >= 0) return rc;

  regfs::api::Settings settings;
  try {
    settings = regfs::api::loadSettings(configPath);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "regfs-server: %s\n", e.what());
    return 1;
  }
  const regfs::Config& config = settings.config;
  regfs::api::configureLogging(regfs::api::LogSettings{
      settings.logLevel, regfs::api::parseLogFormat(config.log.formatter), config.log.fields});
  for (const auto& warning : settings.warnings) spdlog::warn("{}", warning);

  // Writes to a closed socket must fail with EPIPE, not kill the server. SIGTERM and
  // SIGINT are taken by sigwait below, so every thread started from here blocks them.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  try {
    settings.server.authenticator = regfs::api::setUpAuthenticator(settings.auth);
    bool onS3 = config.storage.driver == regfs::StorageDriverKind::kS3;
    if (!onS3) std::filesystem::create_directories(settings.rootdirectory);
    auto registry = std::make_shared<regfs::api::Registry>(
        regfs::Store(regfs::makeDriver(config.storage)), settings.registry);

    // Requests are counted only when something can read the counts (http.debug.addr).
    auto metrics = std::make_shared<regfs::api::Metrics>();
    auto health = std::make_shared<regfs::api::HealthChecks>(
        config.health, registry->store().driver(), onS3 ? "s3" : "filesystem",
        !settings.registry.readOnly);
    health->start();
    auto notifier = std::make_shared<regfs::api::Notifier>(
        config.notifications,
        regfs::api::NotificationSource{hostname() + ":" + std::to_string(settings.server.port),
                                       regfs::api::newUuid()});
    regfs::api::UploadPurger purger(registry->store(), config.storage.uploadPurging);

    regfs::api::Server server(registry, settings.server);
    server.setObserver(std::make_shared<regfs::api::Operations>(
        config.http.debugAddr.empty() ? nullptr : metrics, health, notifier,
        regfs::api::OperationsOptions{settings.server.accessLog, config.http.host}));
    std::atomic<bool> draining{false};

    std::unique_ptr<regfs::api::StoreStats> stats;
    std::unique_ptr<regfs::api::DebugServer> debug;
    if (!config.http.debugAddr.empty()) {
      stats = std::make_unique<regfs::api::StoreStats>(registry->store(), std::chrono::seconds(60));
      metrics->addCollector([&server](std::string& out) {
        regfs::api::appendMetricHeader(out, "registry_http_in_flight_requests", "gauge",
                                       "Requests being answered now.");
        regfs::api::appendSample(out, "registry_http_in_flight_requests", {}, server.inFlight());
      });
      metrics->addCollector([&stats](std::string& out) { stats->collect(out); });
      metrics->addCollector([&purger](std::string& out) { purger.collect(out); });
      metrics->addCollector([notifier](std::string& out) { notifier->collect(out); });
      metrics->addCollector([health](std::string& out) {
        const regfs::api::HealthCheck* storage = health->storage();
        regfs::api::appendMetricHeader(
            out, "regfs_storage_healthy", "gauge",
            "1 while the health.storagedriver check passes (1 when it is off).");
        regfs::api::appendSample(out, "regfs_storage_healthy", {},
                                 !storage || !storage->failing() ? 1 : 0);
        if (storage) {
          regfs::api::appendMetricHeader(out, "regfs_storage_probes_total", "counter",
                                         "Storage health probes, and those that failed.");
          regfs::api::appendSample(
              out, "regfs_storage_probes_total", {{"result", "ok"}},
              static_cast<double>(storage->probes() - storage->probeFailures()));
          regfs::api::appendSample(out, "regfs_storage_probes_total", {{"result", "error"}},
                                   static_cast<double>(storage->probeFailures()));
        }
        regfs::api::appendMetricHeader(
            out, "regfs_health_checks_failing", "gauge",
            "Configured health checks failing now (the API answers 503 while above 0).");
        regfs::api::appendSample(out, "regfs_health_checks_failing", {},
                                 static_cast<double>(health->failures().size()));
      });
      metrics->addCollector([](std::string& out) {
        regfs::api::appendMetricHeader(out, "regfs_build_info", "gauge", "The running version.");
        regfs::api::appendSample(out, "regfs_build_info", {{"version", regfs::kVersion}}, 1);
      });
      std::map<std::string, regfs::api::DebugServer::Route> routes;
      auto metricsRoute = [metrics](const regfs::api::Request&) {
        regfs::api::Response r(200);
        r.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        r.body = metrics->render();
        return r;
      };
      routes["/metrics"] = metricsRoute;
      if (config.http.prometheusEnabled) routes[config.http.prometheusPath] = metricsRoute;
      auto json = [](int status, std::string body) {
        regfs::api::Response r(status);
        r.set("Content-Type", "application/json; charset=utf-8");
        r.body = std::move(body);
        return r;
      };
      routes["/debug/health"] = [health, json](const regfs::api::Request&) {
        auto failures = health->failures();
        return json(failures.empty() ? 200 : 503, regfs::api::healthJson(failures));
      };
      routes["/healthz"] = [json](const regfs::api::Request&) { return json(200, "{}\n"); };
      routes["/readyz"] = [health, json, &draining](const regfs::api::Request&) {
        if (draining.load()) return json(503, "{\"draining\":\"shutting down\"}\n");
        auto failures = health->failures();
        return json(failures.empty() ? 200 : 503, regfs::api::healthJson(failures));
      };
      debug = std::make_unique<regfs::api::DebugServer>(config.http.debugAddr, std::move(routes));
      spdlog::info("debug server listening on {} (port {})", config.http.debugAddr, debug->port());
    }

    server.start();
    spdlog::info("regfs-server {} listening on {}:{} ({}, {} threads), store {}", regfs::kVersion,
                 settings.server.host.empty() ? "0.0.0.0" : settings.server.host, server.port(),
                 settings.server.tls.certificate.empty() ? "http" : "https", server.threads(),
                 onS3 ? "s3://" + config.storage.s3.bucket + "/" +
                            regfs::s3Key(config.storage.s3.rootDirectory, "")
                      : settings.rootdirectory.string());
    int sig = 0;
    sigwait(&stopSignals, &sig);
    draining = true;
    auto drainTimeout =
        config.http.drainTimeout > std::chrono::nanoseconds(0)
            ? std::chrono::duration_cast<std::chrono::milliseconds>(config.http.drainTimeout)
            : std::chrono::milliseconds(30000);
    spdlog::info("signal {}: draining (up to {} ms)", sig, drainTimeout.count());
    if (!server.drainAndStop(drainTimeout)) {
      spdlog::warn("drain timeout reached with requests still in flight; they were cut off");
    }
    notifier->stop(std::chrono::seconds(1));
    spdlog::info("stopped");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "regfs-server: %s\n", e.what());
    return 1;
  }
  return 0;
}
