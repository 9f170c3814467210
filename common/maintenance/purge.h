#pragma once
// Purging stale upload sessions, as distribution's storage.maintenance.uploadpurging does:
// an upload whose startedat is older than the cut-off is removed with its data. Sessions
// without a readable startedat are left alone (distribution does the same; fsck reports
// them as torn). The server calls this on its interval; regfsctl purge-uploads runs it once.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/store/store.h"

namespace regfs {

struct StaleUpload {
  std::string repository;
  std::string uuid;
  std::string startedAt;  // as written in the session
  uint64_t size = 0;      // bytes received
};

struct PurgeResult {
  std::vector<StaleUpload> purged;  // removed (or, in a dry run, that would be)
  size_t sessions = 0;              // upload sessions seen
};

// Removes every upload session, in any repository directory (also one whose first push
// never got to a manifest), that started before `cutoff`. With `dryRun` nothing changes.
PurgeResult purgeUploads(Store& store, std::chrono::system_clock::time_point cutoff,
                         bool dryRun = false);

// Parses an RFC 3339 timestamp ("2024-05-01T12:00:00Z", "...T14:00:00.5+02:00").
std::optional<std::chrono::system_clock::time_point> parseRfc3339(std::string_view text);

}  // namespace regfs
