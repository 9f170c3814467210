#include "tools/command.h"

#include <iostream>

#include "common/error.h"
#include "tools/root.h"

namespace regfs::tools {

CLI::App* Commands::add(const std::string& name, const std::string& description,
                        std::function<int()> run) {
  CLI::App* command = app_.add_subcommand(name, description);
  commands_.emplace_back(command, std::move(run));
  return command;
}

int Commands::dispatch() const {
  for (const auto& [command, run] : commands_) {
    if (!command->parsed()) continue;
    try {
      return run();
    } catch (const Error& e) {
      std::cerr << "regfsctl " << command->get_name() << ": " << e.what() << "\n";
    } catch (const std::exception& e) {
      std::cerr << "regfsctl " << command->get_name() << ": " << e.what() << "\n";
    }
    return kExitError;
  }
  std::cerr << "regfsctl: no command given (see --help)\n";
  return 2;
}

CLI::Option* addRootArgument(CLI::App& command, std::string& root) {
  return command.add_option("ROOT", root, "the store: a rootdirectory, or a config.yml naming one")
      ->required();
}

CLI::Option* addJsonFlag(CLI::App& command, bool& json) {
  return command.add_flag("--json", json, "print the result as JSON on stdout");
}

StoreAt openStore(const std::string& root) {
  RootConfig config = resolveRoot(root);
  return StoreAt{config.rootdirectory, std::make_shared<Store>(config.driver), config.uploadPurgingAge};
}

}  // namespace regfs::tools
