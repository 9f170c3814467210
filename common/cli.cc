#include "common/cli.h"

#include <cstdio>
#include <iostream>

#include "common/exit_status.h"
#include "regfs/version.h"

namespace regfs {

void addVersionFlag(CLI::App& app, const std::string& program) {
  app.set_version_flag("--version", program + " " + kVersion);
}

int parseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << " (see --help)\n";
    return kExitUsage;
  }
  return -1;
}

}  // namespace regfs
