#include "tools/command.h"

#include <CLI/CLI.hpp>

#include <sysexits.h>

#include <iostream>

#include "common/cli/cli.h"
#include "common/config/config.h"
#include "common/error.h"
#include "common/store/open.h"

namespace regfs::tools {

int exitStatusFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return kExitUsage;
    case ErrorKind::kDigestInvalid:
    case ErrorKind::kNameInvalid:
    case ErrorKind::kTagInvalid:
    case ErrorKind::kManifestInvalid:
    case ErrorKind::kSizeInvalid:
    case ErrorKind::kRangeInvalid:
    case ErrorKind::kBlobUploadInvalid:
      return EX_DATAERR;
    case ErrorKind::kNotFound:
    case ErrorKind::kBlobUnknown:
    case ErrorKind::kBlobUploadUnknown:
    case ErrorKind::kManifestUnknown:
    case ErrorKind::kManifestBlobUnknown:
    case ErrorKind::kNameUnknown:
      return EX_NOINPUT;
    case ErrorKind::kUnsupported:
    case ErrorKind::kTooManyRequests:
      return EX_UNAVAILABLE;
    case ErrorKind::kDenied:
    case ErrorKind::kUnauthorized:
      return EX_NOPERM;
    case ErrorKind::kConfigInvalid:
      return EX_CONFIG;
    case ErrorKind::kNoSpace:
    case ErrorKind::kIo:
      return EX_IOERR;
    case ErrorKind::kInternal:
      return EX_SOFTWARE;
  }
  return EX_SOFTWARE;
}

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
  if (int rc = parseCommandLine(*app_, argc, argv); rc >= 0) return rc;
  for (const auto& [command, run] : commands_) {
    if (!command->parsed()) continue;
    try {
      return run();
    } catch (const Error& e) {
      std::cerr << "regfsctl " << command->get_name() << ": " << e.what() << "\n";
      return exitStatusFor(e.kind());
    } catch (const std::exception& e) {
      std::cerr << "regfsctl " << command->get_name() << ": " << e.what() << "\n";
      return EX_SOFTWARE;
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
  StoreRoot opened = openStoreRoot(root, processEnvironment());
  return StoreAt{opened.rootdirectory, std::make_shared<Store>(opened.driver),
                 opened.uploadPurgingAge};
}

std::filesystem::path newStoreRoot(const std::string& root) {
  return localStoreRoot(root, processEnvironment(), RootMust::kMayBeNew);
}

}  // namespace regfs::tools
