// regfs-server: serve the registry API over a store.
#include <cstdio>

#include "common/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"regfs-server: a container registry compatible with distribution (registry:2)"};
  std::string config;
  app.add_option("CONFIG", config, "distribution-style config.yml");
  regfs::addVersionFlag(app, "regfs-server");
  if (int rc = regfs::parseCommandLine(app, argc, argv); rc >= 0) return rc;
  std::fprintf(stderr, "regfs-server: the registry API is not built yet\n");
  return 1;
}
