// regfs-server: serve the registry API over a store.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

#include "api/ops/logging.h"
#include "api/registry/settings.h"
#include "api/service.h"
#include "common/cli/cli.h"
#include "common/exit_status.h"

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
  0 after a drain; 2 on bad arguments; 78 when the configuration is invalid or a listener
  cannot be opened; 74 when the storage fails; 70 on an internal error (sysexits(3)'s
  codes, as regfsctl and regfs-mount use them).)";

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
    return regfs::exitStatusFor(e);
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
    regfs::api::Service service(settings);
    service.start();
    int sig = 0;
    sigwait(&stopSignals, &sig);
    service.drain("signal " + std::to_string(sig));
    spdlog::info("stopped");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "regfs-server: %s\n", e.what());
    return regfs::exitStatusFor(e);
  }
  return regfs::kExitOk;
}
