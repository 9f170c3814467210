// regfsctl du ROOT [--json]
// Space per repository (everything its manifests reach), unique to it or shared with other
// repositories, and what garbage-collect would free, with and without --delete-untagged.
#include <cstdio>
#include <iostream>
#include <map>
#include <unordered_map>

#include "common/maintenance/gc.h"
#include "common/store/walk.h"
#include "tools/command.h"
#include "tools/output.h"

namespace regfs::tools {
namespace {

struct DuOptions {
  std::string root;
  bool json = false;
};

struct RepositoryUsage {
  std::string name;
  size_t manifests = 0;
  size_t tags = 0;
  size_t blobs = 0;
  uint64_t total = 0;
  uint64_t unique = 0;
  uint64_t shared = 0;
};

int runDu(const DuOptions& opts) {
  StoreAt at = openStore(opts.root);
  Store& store = *at.store;
  ProgressBar bar;
  StoreMarks all = markStore(store, false, bar.callback());
  StoreMarks tagged = markStore(store, true, bar.callback());
  bar.finish();

  std::unordered_map<Digest, uint64_t> sizes;
  uint64_t storeBytes = 0;
  store.forEachBlob([&](const Digest& d) {
    if (auto info = store.statBlob(d)) storeBytes += sizes[d] = info->size;
  });
  std::unordered_map<Digest, size_t> owners;
  for (const RepositoryMarks& repo : all.repositories) {
    for (const Digest& d : repo.blobs) ++owners[d];
  }
  std::vector<RepositoryUsage> usage;
  for (const RepositoryMarks& repo : all.repositories) {
    RepositoryUsage u{repo.name.str(), repo.revisions.size(), repo.tags};
    for (const Digest& d : repo.blobs) {
      auto it = sizes.find(d);
      if (it == sizes.end()) continue;  // referenced but missing: fsck's business
      ++u.blobs;
      u.total += it->second;
      (owners[d] > 1 ? u.shared : u.unique) += it->second;
    }
    usage.push_back(u);
  }
  auto freed = [&](const StoreMarks& marks) {
    uint64_t bytes = 0;
    for (const auto& [d, size] : sizes) {
      if (!marks.marked.count(d)) bytes += size;
    }
    return bytes;
  };
  uint64_t gcFrees = freed(all), gcUntaggedFrees = freed(tagged);
  uint64_t uploadBytes = 0, uploads = 0;
  for (const RepoName& name : listRepositoryDirs(store.driver())) {
    for (const UploadInfo& u : store.repository(name).listUploads()) {
      ++uploads;
      uploadBytes += u.size;
    }
  }

  if (opts.json) {
    JsonOut out;
    out.w().StartObject();
    out.key("repositories");
    out.w().StartArray();
    for (const RepositoryUsage& u : usage) {
      out.w().StartObject();
      out.field("name", u.name);
      out.field("manifests", static_cast<uint64_t>(u.manifests));
      out.field("tags", static_cast<uint64_t>(u.tags));
      out.field("blobs", static_cast<uint64_t>(u.blobs));
      out.field("bytes", u.total);
      out.field("uniqueBytes", u.unique);
      out.field("sharedBytes", u.shared);
      out.w().EndObject();
    }
    out.w().EndArray();
    out.field("blobs", static_cast<uint64_t>(sizes.size()));
    out.field("blobBytes", storeBytes);
    out.field("uploads", uploads);
    out.field("uploadBytes", uploadBytes);
    out.field("gcFrees", gcFrees);
    out.field("gcDeleteUntaggedFrees", gcUntaggedFrees);
    out.w().EndObject();
    out.print();
    return kExitOk;
  }
  size_t width = 10;
  for (const RepositoryUsage& u : usage) width = std::max(width, u.name.size());
  std::printf("%-*s %9s %5s %6s %10s %10s %10s\n", static_cast<int>(width), "REPOSITORY",
              "MANIFESTS", "TAGS", "BLOBS", "SIZE", "UNIQUE", "SHARED");
  for (const RepositoryUsage& u : usage) {
    std::printf("%-*s %9zu %5zu %6zu %10s %10s %10s\n", static_cast<int>(width), u.name.c_str(),
                u.manifests, u.tags, u.blobs, humanBytes(u.total).c_str(),
                humanBytes(u.unique).c_str(), humanBytes(u.shared).c_str());
  }
  std::cout << "store: " << sizes.size() << " blobs, " << humanBytes(storeBytes) << "; " << uploads
            << " upload sessions, " << humanBytes(uploadBytes) << "\n"
            << "garbage-collect would free " << humanBytes(gcFrees) << ", with --delete-untagged "
            << humanBytes(gcUntaggedFrees) << " (blobs younger than its --grace stay)\n";
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
