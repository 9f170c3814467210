// regfsctl purge-uploads ROOT [--age DURATION] [--dry-run] [--json]
// Removes upload sessions that started longer ago than the age (startedat decides).
#include <iostream>

#include "common/config/defaults.h"
#include "common/error.h"
#include "common/maintenance/purge.h"
#include "tools/command.h"
#include "tools/duration.h"
#include "tools/output.h"

namespace regfs::tools {
namespace {

struct PurgeUploadsOptions {
  std::string root;
  std::string age;
  bool dryRun = false;
  bool json = false;
};

int runPurgeUploads(const PurgeUploadsOptions& opts) {
  StoreAt at = openStore(opts.root);
  std::chrono::nanoseconds age =
      opts.age.empty() ? at.uploadPurgingAge : durationArgument("--age", opts.age);
  auto cutoff = std::chrono::system_clock::now() -
                std::chrono::duration_cast<std::chrono::system_clock::duration>(age);
  PurgeResult result = purgeUploads(*at.store, cutoff, opts.dryRun);
  uint64_t bytes = 0;
  for (const StaleUpload& u : result.purged) bytes += u.size;
  auto ageText = humanDuration(std::chrono::duration_cast<std::chrono::seconds>(age));
  if (opts.json) {
    JsonOut out;
    out.w().StartObject();
    out.field("dryRun", opts.dryRun);
    out.field("age", ageText);
    out.field("sessions", static_cast<uint64_t>(result.sessions));
    out.key("purged");
    out.w().StartArray();
    for (const StaleUpload& u : result.purged) {
      out.w().StartObject();
      out.field("repository", u.repository);
      out.field("uuid", u.uuid);
      out.field("startedAt", u.startedAt);
      out.field("size", u.size);
      out.w().EndObject();
    }
    out.w().EndArray();
    out.field("bytes", bytes);
    out.w().EndObject();
    out.print();
    return kExitOk;
  }
  const char* verb = opts.dryRun ? "would purge" : "purged";
  for (const StaleUpload& u : result.purged) {
    std::cout << verb << " " << u.repository << " upload " << u.uuid << " started " << u.startedAt
              << " (" << humanBytes(u.size) << ")\n";
  }
  std::cout << verb << " " << result.purged.size() << " of " << result.sessions
            << " upload sessions older than " << ageText << ", " << humanBytes(bytes) << "\n";
  return kExitOk;
}

}  // namespace

void addPurgeUploadsCommand(Commands& commands) {
  auto opts = std::make_shared<PurgeUploadsOptions>();
  Command cmd =
      commands.add("purge-uploads", "remove upload sessions that started longer ago than --age",
                   [opts] { return runPurgeUploads(*opts); });
  addRootArgument(cmd, opts->root);
  cmd.option("--age", opts->age,
             "purge sessions older than this (default: storage.maintenance.uploadpurging.age, "
             "else " +
                 humanDuration(kDefaultUploadPurgingAge) + ")");
  cmd.flag("--dry-run", opts->dryRun, "print what would be purged, change nothing");
  addJsonFlag(cmd, opts->json);
}

}  // namespace regfs::tools
