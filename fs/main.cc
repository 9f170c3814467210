// regfs-mount: mount the read-only view of a store.
#include <cstdio>

#include "common/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"regfs-mount: mount a read-only, human-readable view of a registry store"};
  std::string root, mountpoint;
  app.add_option("ROOT", root, "rootdirectory of the store, or a config.yml")->required();
  app.add_option("MOUNTPOINT", mountpoint, "where to mount the view")->required();
  regfs::addVersionFlag(app, "regfs-mount");
  if (int rc = regfs::parseCommandLine(app, argc, argv); rc >= 0) return rc;
  std::fprintf(stderr, "regfs-mount: the view is not built yet\n");
  return 1;
}
