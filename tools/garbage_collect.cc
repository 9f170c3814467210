// regfsctl garbage-collect ROOT [--dry-run] [--delete-untagged] [--grace D] [--settle D] [--json]
// Mark and sweep over common/gc, safe while servers write to the store.
#include <iostream>

#include "common/config/defaults.h"
#include "common/error.h"
#include "common/maintenance/gc.h"
#include "tools/command.h"
#include "tools/duration.h"
#include "tools/output.h"

namespace regfs::tools {
namespace {

struct GarbageCollectOptions {
  std::string root;
  bool dryRun = false;
  bool deleteUntagged = false;
  std::string grace = humanDuration(kDefaultMaintenanceGrace);
  std::string settle = humanDuration(kDefaultGcSettle);
  bool json = false;
};

void printJson(const GcResult& r, const GcOptions& o) {
  JsonOut out;
  auto manifests = [&](std::string_view key, const std::vector<GcManifest>& list) {
    out.key(key);
    out.w().StartArray();
    for (const GcManifest& m : list) {
      out.w().StartObject();
      out.field("repository", m.repository);
      out.field("digest", m.digest.str());
      out.w().EndObject();
    }
    out.w().EndArray();
  };
  auto blobs = [&](std::string_view key, const std::vector<GcBlob>& list) {
    out.key(key);
    out.w().StartArray();
    for (const GcBlob& b : list) {
      out.w().StartObject();
      out.field("digest", b.digest.str());
      out.field("size", b.size);
      out.w().EndObject();
    }
    out.w().EndArray();
  };
  out.w().StartObject();
  out.field("dryRun", o.dryRun);
  out.field("deleteUntagged", o.deleteUntagged);
  out.field("graceSeconds", static_cast<uint64_t>(o.grace.count()));
  out.field("repositories", static_cast<uint64_t>(r.repositories));
  out.field("manifestsMarked", static_cast<uint64_t>(r.manifestsMarked));
  out.field("blobsMarked", static_cast<uint64_t>(r.blobsMarked));
  out.field("blobsSeen", static_cast<uint64_t>(r.blobsSeen));
  manifests("manifests", r.manifests);
  blobs("blobs", r.blobs);
  manifests("layerLinks", r.layerLinks);
  blobs("layerIndexes", r.layerIndexes);
  blobs("youngBlobs", r.youngBlobs);
  manifests("youngManifests", r.youngManifests);
  out.key("restored");
  out.w().StartArray();
  for (const Digest& d : r.restored) out.string(d.str());
  out.w().EndArray();
  out.field("recovered", static_cast<uint64_t>(r.recovered));
  out.field("bytesFreed", r.bytesFreed);
  out.key("warnings");
  out.w().StartArray();
  for (const std::string& w : r.warnings) out.string(w);
  out.w().EndArray();
  out.w().EndObject();
  out.print();
}

void printText(const GcResult& r, const GcOptions& o) {
  const char* verb = o.dryRun ? "would remove" : "removed";
  for (const std::string& w : r.warnings) std::cout << "warning: " << w << "\n";
  if (r.recovered)
    std::cout << "moved back " << r.recovered
              << " blobs an interrupted run had left in quarantine\n";
  for (const GcManifest& m : r.manifests) {
    std::cout << verb << " manifest " << m.repository << "@" << m.digest.str() << " (untagged)\n";
  }
  for (const GcBlob& b : r.blobs) {
    std::cout << verb << " blob " << b.digest.str() << " (" << humanBytes(b.size) << ")\n";
  }
  for (const GcManifest& l : r.layerLinks) {
    std::cout << verb << " layer link " << l.repository << " -> " << l.digest.str() << "\n";
  }
  for (const GcBlob& b : r.layerIndexes) {
    std::cout << verb << " the index of layer " << b.digest.str() << " (its blob is gone)\n";
  }
  std::string grace = humanDuration(o.grace);
  for (const GcManifest& m : r.youngManifests) {
    std::cout << "kept manifest " << m.repository << "@" << m.digest.str()
              << " (untagged, younger than " << grace << ")\n";
  }
  for (const GcBlob& b : r.youngBlobs) {
    std::cout << "kept blob " << b.digest.str() << " (unreferenced, younger than " << grace
              << ")\n";
  }
  for (const Digest& d : r.restored) {
    std::cout << "kept blob " << d.str() << " (referenced again while being swept)\n";
  }
  std::cout << r.repositories << " repositories, " << r.manifestsMarked << " manifests and "
            << r.blobsMarked << " blobs marked, " << r.blobsSeen << " blobs in the store; " << verb
            << " " << r.manifests.size() << " manifests, " << r.blobs.size() << " blobs and "
            << r.layerIndexes.size() << " layer indexes (" << humanBytes(r.bytesFreed) << "), "
            << r.layerLinks.size() << " layer links\n";
}

int runGarbageCollect(const GarbageCollectOptions& opts) {
  GcOptions options;
  options.dryRun = opts.dryRun;
  options.deleteUntagged = opts.deleteUntagged;
  options.grace =
      std::chrono::duration_cast<std::chrono::seconds>(durationArgument("--grace", opts.grace));
  options.settle = std::chrono::duration_cast<std::chrono::milliseconds>(
      durationArgument("--settle", opts.settle));
  StoreAt at = openStore(opts.root);
  ProgressBar bar;
  options.progress = bar.callback();
  GcResult result = collectGarbage(*at.store, options);
  bar.finish();
  if (opts.json) {
    printJson(result, options);
  } else {
    printText(result, options);
  }
  return kExitOk;
}

}  // namespace

void addGarbageCollectCommand(Commands& commands) {
  auto opts = std::make_shared<GarbageCollectOptions>();
  Command cmd = commands.add(
      "garbage-collect",
      "remove blobs no manifest references (safe while the server runs; see docs/tools.md)",
      [opts] { return runGarbageCollect(*opts); });
  addRootArgument(cmd, opts->root);
  cmd.flag("-d,--dry-run", opts->dryRun, "print what would be removed, change nothing");
  cmd.flag("-m,--delete-untagged", opts->deleteUntagged,
           "also remove manifests no tag reaches (children of a kept index stay)");
  cmd.optionWithDefault(
      "--grace", opts->grace,
      "keep blobs, layer links and untagged manifests written more recently than this");
  cmd.optionWithDefault(
      "--settle", opts->settle,
      "how long swept blobs wait in quarantine for a racing push to reference them");
  addJsonFlag(cmd, opts->json);
}

}  // namespace regfs::tools
