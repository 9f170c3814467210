#pragma once
// How regfsctl commands plug into the dispatcher. A command is one file that defines
//   void add<Name>Command(regfs::tools::Commands& commands);
// which declares its subcommand, options and run function; tools/main.cc lists it once.
// Run functions return the exit status; a regfs::Error they throw becomes one line on
// stderr and the exit status its kind maps to (exitStatusFor).
// Only command.cc sees the command-line parser (CLI11, header-only: seconds of compile time
// in every file that includes it).

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/exit_status.h"
#include "common/store/store.h"

namespace CLI {
class App;
}  // namespace CLI

namespace regfs::tools {

// One subcommand's arguments, each bound to a variable its run function reads. Names are
// CLI11's: "-d,--dry-run" for an option, "ROOT" (no dash) for a positional argument.
class Command {
 public:
  explicit Command(CLI::App& app) : app_(app) {}

  // `value` becomes true when the flag is given.
  Command& flag(const std::string& names, bool& value, const std::string& description);
  // An argument taking one value, optional.
  Command& option(const std::string& names, std::string& value, const std::string& description);
  // As option(); --help shows the initial value of `value` as the default.
  Command& optionWithDefault(const std::string& names, std::string& value,
                             const std::string& description);
  // As option(), but it must be given.
  Command& required(const std::string& names, std::string& value, const std::string& description);

 private:
  CLI::App& app_;
};

class Commands {
 public:
  // `description` heads --help; --version prints "regfsctl <version>".
  explicit Commands(const std::string& description);
  ~Commands();
  Commands(const Commands&) = delete;
  Commands& operator=(const Commands&) = delete;

  // Adds subcommand `name`; `run` is called when it is the one chosen.
  Command add(const std::string& name, const std::string& description, std::function<int()> run);
  // Parses the command line and runs the chosen subcommand; returns the exit status (2 on
  // bad arguments, 0 after --help or --version).
  int run(int argc, char** argv);

 private:
  std::unique_ptr<CLI::App> app_;
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands_;
};

// Adds the ROOT positional every store command takes: a rootdirectory or a config.yml.
void addRootArgument(Command& command, std::string& root);
// Adds --json (machine-readable output on stdout).
void addJsonFlag(Command& command, bool& json);

// The store that ROOT names: a rootdirectory, or a config.yml naming one (or an S3 bucket).
struct StoreAt {
  std::filesystem::path rootdirectory;  // empty for S3
  std::shared_ptr<Store> store;
  std::chrono::nanoseconds uploadPurgingAge;  // from the config.yml, else distribution's 168h
};
StoreAt openStore(const std::string& root);

}  // namespace regfs::tools
