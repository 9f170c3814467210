#pragma once
// regfs's default values, each defined once: distribution's defaults for the config.yml keys
// regfs reads, and the maintenance commands' own. The config schema, regfs-server and regfsctl
// all take them from here.

#include <chrono>
#include <string_view>

namespace regfs {

// storage.filesystem.rootdirectory, as distribution and the registry:2 image have it.
inline constexpr std::string_view kDefaultRootDirectory = "/var/lib/registry";

// storage.maintenance.uploadpurging: sessions older than the age are purged, every interval
// (distribution's values).
inline constexpr std::chrono::hours kDefaultUploadPurgingAge{168};
inline constexpr std::chrono::hours kDefaultUploadPurgingInterval{24};

// Garbage collection and fsck leave alone what was written more recently than this: blobs,
// links and manifests of a push, or leftovers of a write, that may still be in progress.
inline constexpr std::chrono::hours kDefaultMaintenanceGrace{1};
// How long the blobs garbage collection sweeps wait in quarantine for a racing push.
inline constexpr std::chrono::seconds kDefaultGcSettle{5};

// regfs.retention.interval: how often regfs-server runs the retention policies.
inline constexpr std::chrono::hours kDefaultRetentionInterval{24};

}  // namespace regfs
