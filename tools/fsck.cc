// regfsctl fsck ROOT [--repair] [--grace D] [--json]
// Re-hashes every blob, checks every link and manifest reference (common/fsck).
// Exit status: 0 the store is clean (or every problem found was repaired), 4 problems are
// left, 1 the check itself failed.
#include <iostream>

#include "common/config/defaults.h"
#include "common/error.h"
#include "common/maintenance/fsck.h"
#include "tools/command.h"
#include "tools/duration.h"
#include "tools/output.h"

namespace regfs::tools {
namespace {

constexpr int kExitProblemsLeft = 4;

struct FsckCommandOptions {
  std::string root;
  bool repair = false;
  std::string grace = humanDuration(kDefaultMaintenanceGrace);
  bool json = false;
};

int runFsck(const FsckCommandOptions& opts) {
  auto grace = durationArgument("--grace", opts.grace);
  StoreAt at = openStore(opts.root);
  FsckOptions options;
  options.repair = opts.repair;
  options.grace = std::chrono::duration_cast<std::chrono::seconds>(grace);
  ProgressBar bar;
  options.progress = bar.callback();
  FsckResult result = checkStore(*at.store, options);
  bar.finish();
  auto where = [&](const std::string& path) {
    auto local = at.store->driver().localPath(path);
    return local ? local->string() : path;
  };
  size_t repaired = 0;
  for (const FsckProblem& p : result.problems) repaired += p.repaired;
  if (opts.json) {
    JsonOut out;
    out.w().StartObject();
    out.field("clean", result.clean());
    out.field("repair", opts.repair);
    out.field("blobs", result.blobs);
    out.field("blobBytes", result.blobBytes);
    out.field("repositories", result.repositories);
    out.field("manifests", result.manifests);
    out.field("links", result.links);
    out.field("uploads", result.uploads);
    out.field("layerIndexes", result.layerIndexes);
    out.key("problems");
    out.w().StartArray();
    for (const FsckProblem& p : result.problems) {
      out.w().StartObject();
      out.field("kind", fsckProblemName(p.kind));
      out.field("path", where(p.path));
      out.field("detail", p.detail);
      out.field("repaired", p.repaired);
      out.w().EndObject();
    }
    out.w().EndArray();
    out.w().EndObject();
    out.print();
  } else {
    for (const FsckProblem& p : result.problems) {
      std::cout << fsckProblemName(p.kind) << " " << where(p.path) << ": " << p.detail
                << (p.repaired ? " [repaired]" : "") << "\n";
    }
    std::cout << result.blobs << " blobs (" << humanBytes(result.blobBytes) << ") re-hashed, "
              << result.repositories << " repositories, " << result.manifests << " manifests, "
              << result.links << " links, " << result.uploads << " uploads, " << result.layerIndexes
              << " layer indexes checked: ";
    if (result.problems.empty()) {
      std::cout << "clean\n";
    } else {
      std::cout << result.problems.size() << " problems, " << repaired << " repaired"
                << (result.clean() ? "; clean now" : "") << "\n";
    }
  }
  return result.clean() ? kExitOk : kExitProblemsLeft;
}

}  // namespace

void addFsckCommand(Commands& commands) {
  auto opts = std::make_shared<FsckCommandOptions>();
  Command cmd = commands.add(
      "fsck",
      "re-hash every blob and check every link and manifest (exit 0 clean, 4 problems left)",
      [opts] { return runFsck(*opts); });
  addRootArgument(cmd, opts->root);
  cmd.flag("--repair", opts->repair,
           "remove what is provably broken (never a blob that matches its digest)");
  cmd.optionWithDefault("--grace", opts->grace,
                        "leftovers of writes (temp files, torn uploads, half-written links) count "
                        "only once older than this");
  addJsonFlag(cmd, opts->json);
}

}  // namespace regfs::tools
