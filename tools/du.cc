// regfsctl du ROOT [--json]
// Space per repository (everything its manifests reach), unique to it or shared with other
// repositories, and what garbage-collect would free, with and without --delete-untagged:
// common/maintenance/usage.h measures, this prints.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "common/maintenance/usage.h"
#include "tools/command.h"
#include "tools/output.h"

namespace regfs::tools {
namespace {

struct DuOptions {
  std::string root;
  bool json = false;
};

void printJson(const StoreUsage& usage) {
  JsonOut out;
  out.w().StartObject();
  out.key("repositories");
  out.w().StartArray();
  for (const RepositoryUsage& u : usage.repositories) {
    out.w().StartObject();
    out.field("name", u.name);
    out.field("manifests", static_cast<uint64_t>(u.manifests));
    out.field("tags", static_cast<uint64_t>(u.tags));
    out.field("blobs", static_cast<uint64_t>(u.blobs));
    out.field("bytes", u.bytes);
    out.field("uniqueBytes", u.uniqueBytes);
    out.field("sharedBytes", u.sharedBytes);
    out.w().EndObject();
  }
  out.w().EndArray();
  out.field("blobs", static_cast<uint64_t>(usage.blobs));
  out.field("blobBytes", usage.blobBytes);
  out.field("uploads", usage.uploads);
  out.field("uploadBytes", usage.uploadBytes);
  out.field("layerIndexes", usage.layerIndexes);
  out.field("layerIndexBytes", usage.layerIndexBytes);
  out.field("gcFrees", usage.gcFrees);
  out.field("gcDeleteUntaggedFrees", usage.gcDeleteUntaggedFrees);
  out.w().EndObject();
  out.print();
}

void printText(const StoreUsage& usage) {
  size_t width = 10;
  for (const RepositoryUsage& u : usage.repositories) width = std::max(width, u.name.size());
  std::printf("%-*s %9s %5s %6s %10s %10s %10s\n", static_cast<int>(width), "REPOSITORY",
              "MANIFESTS", "TAGS", "BLOBS", "SIZE", "UNIQUE", "SHARED");
  for (const RepositoryUsage& u : usage.repositories) {
    std::printf("%-*s %9zu %5zu %6zu %10s %10s %10s\n", static_cast<int>(width), u.name.c_str(),
                u.manifests, u.tags, u.blobs, humanBytes(u.bytes).c_str(),
                humanBytes(u.uniqueBytes).c_str(), humanBytes(u.sharedBytes).c_str());
  }
  std::cout << "store: " << usage.blobs << " blobs, " << humanBytes(usage.blobBytes) << "; "
            << usage.uploads << " upload sessions, " << humanBytes(usage.uploadBytes) << "; "
            << usage.layerIndexes << " layer indexes, " << humanBytes(usage.layerIndexBytes) << "\n"
            << "garbage-collect would free " << humanBytes(usage.gcFrees)
            << ", with --delete-untagged " << humanBytes(usage.gcDeleteUntaggedFrees)
            << " (blobs younger than its --grace stay)\n";
}

int runDu(const DuOptions& opts) {
  StoreAt at = openStore(opts.root);
  ProgressBar bar;
  StoreUsage usage = measureUsage(*at.store, bar.callback());
  bar.finish();
  if (opts.json) {
    printJson(usage);
  } else {
    printText(usage);
  }
  return kExitOk;
}

}  // namespace

void addDuCommand(Commands& commands) {
  auto opts = std::make_shared<DuOptions>();
  Command cmd = commands.add(
      "du", "space per repository, unique and shared, and what garbage-collect would free",
      [opts] { return runDu(*opts); });
  addRootArgument(cmd, opts->root);
  addJsonFlag(cmd, opts->json);
}

}  // namespace regfs::tools
