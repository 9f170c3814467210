// regfsctl: operator tools over a store.
#include <cstdio>

#include "common/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"regfsctl: operator tools for a regfs / distribution store"};
  app.require_subcommand(1);
  regfs::addVersionFlag(app, "regfsctl");
  if (int rc = regfs::parseCommandLine(app, argc, argv); rc >= 0) return rc;
  return 1;
}
