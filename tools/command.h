#pragma once
// How regfsctl commands plug into the dispatcher. A command is one file that defines
//   void add<Name>Command(regfs::tools::Commands& commands);
// which declares its subcommand, options and run function; tools/main.cc lists it once.
// Run functions return the exit status; a regfs::Error they throw becomes one line on
// stderr and exit status 1.

#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/store.h"

namespace regfs::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;

class Commands {
 public:
  explicit Commands(CLI::App& app) : app_(app) {}

  // Adds subcommand `name`; `run` is called when it is the one chosen.
  CLI::App* add(const std::string& name, const std::string& description, std::function<int()> run);
  // Runs the chosen subcommand (call after parsing succeeded).
  int dispatch() const;

 private:
  CLI::App& app_;
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands_;
};

// Adds the ROOT positional every store command takes: a rootdirectory or a config.yml.
CLI::Option* addRootArgument(CLI::App& command, std::string& root);
// Adds --json (machine-readable output on stdout).
CLI::Option* addJsonFlag(CLI::App& command, bool& json);

// The store that ROOT names: a rootdirectory, or a config.yml naming one (or an S3 bucket).
struct StoreAt {
  std::filesystem::path rootdirectory;  // empty for S3
  std::shared_ptr<Store> store;
  std::chrono::nanoseconds uploadPurgingAge;  // from the config.yml, else distribution's 168h
};
StoreAt openStore(const std::string& root);

}  // namespace regfs::tools
