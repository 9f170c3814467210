// regfsctl: operator tools over a store.
#include <cstdio>

#include "common/cli.h"

namespace regfs::tools {
void addRestoreCommand(CLI::App& app, std::function<int()>& chosen);
}

int main(int argc, char** argv) {
  CLI::App app{"regfsctl: operator tools for a regfs / distribution store"};
  app.require_subcommand(1);
  regfs::addVersionFlag(app, "regfsctl");
  std::function<int()> chosen;
  regfs::tools::addRestoreCommand(app, chosen);
  if (int rc = regfs::parseCommandLine(app, argc, argv); rc >= 0) return rc;
  return chosen ? chosen() : 1;
}
