#include "tools/command.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "common/cli.h"
#include "common/error.h"
#include "common/store/open.h"

namespace regfs::tools {

Command& Command::flag(const std::string& names, bool& value, const std::string& description) {
  app_.add_flag(names, value, description);
  return *this;
}

Command& Command::option(const std::string& names, std::string& value,
                         const std::string& description) {
  app_.add_option(names, value, description);
  return *this;
}

Command& Command::optionWithDefault(const std::string& names, std::string& value,
                                    const std::string& description) {
  app_.add_option(names, value, description)->capture_default_str();
  return *this;
}

Command& Command::required(const std::string& names, std::string& value,
                           const std::string& description) {
  app_.add_option(names, value, description)->required();
  return *this;
}

Commands::Commands(const std::string& description) : app_(std::make_unique<CLI::App>(description)) {
  app_->require_subcommand(1);
  addVersionFlag(*app_, "regfsctl");
}

Commands::~Commands() = default;

Command Commands::add(const std::string& name, const std::string& description,
                      std::function<int()> run) {
  CLI::App* command = app_->add_subcommand(name, description);
  commands_.emplace_back(command, std::move(run));
  return Command(*command);
}

int Commands::run(int argc, char** argv) {
  // Log lines (the warnings of common/) go to stderr, never into a command's output.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "", std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
  if (int rc = parseCommandLine(*app_, argc, argv); rc >= 0) return rc;
  for (const auto& [command, run] : commands_) {
    if (!command->parsed()) continue;
    try {
      return run();
    } catch (const std::exception& e) {
      std::cerr << "regfsctl " << command->get_name() << ": " << e.what() << "\n";
      return exitStatusFor(e);
    }
  }
  std::cerr << "regfsctl: no command given (see --help)\n";
  return kExitUsage;
}

void addRootArgument(Command& command, std::string& root) {
  command.required("ROOT", root, "the store: a rootdirectory, or a config.yml naming one");
}

void addJsonFlag(Command& command, bool& json) {
  command.flag("--json", json, "print the result as JSON on stdout");
}

StoreAt openStore(const std::string& root) {
  StoreRoot opened = openStoreRoot(root);
  return StoreAt{opened.rootdirectory, std::make_shared<Store>(opened.driver),
                 opened.uploadPurgingAge};
}

}  // namespace regfs::tools
