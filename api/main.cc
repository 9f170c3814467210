// regfs-server: serve the registry API over a store.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "api/server.h"
#include "api/settings.h"
#include "common/cli.h"
#include "common/error.h"

int main(int argc, char** argv) {
  CLI::App app{"regfs-server: a container registry compatible with distribution (registry:2)"};
  std::string configPath;
  app.add_option("CONFIG", configPath, "distribution-style config.yml (REGISTRY_* variables override it)");
  regfs::addVersionFlag(app, "regfs-server");
  if (int rc = regfs::parseCommandLine(app, argc, argv); rc >= 0) return rc;

  regfs::api::Settings settings;
  try {
    settings = regfs::api::loadSettings(configPath);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "regfs-server: %s\n", e.what());
    return 1;
  }
  spdlog::set_level(settings.logLevel);
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
    std::filesystem::create_directories(settings.rootdirectory);
    auto registry = std::make_shared<regfs::api::Registry>(
        regfs::Store::openLocal(settings.rootdirectory), settings.registry);
    regfs::api::Server server(registry, settings.server);
    server.start();
    spdlog::info("regfs-server listening on {}:{} ({} threads), store {}",
                 settings.server.host.empty() ? "0.0.0.0" : settings.server.host, server.port(),
                 server.threads(), settings.rootdirectory.string());
    int sig = 0;
    sigwait(&stopSignals, &sig);
    spdlog::info("signal {}: draining", sig);
    server.drainAndStop(std::chrono::seconds(30));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "regfs-server: %s\n", e.what());
    return 1;
  }
  return 0;
}
