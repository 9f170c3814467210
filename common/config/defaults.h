#pragma once
// regfs's default values, each defined once: distribution's defaults for the config.yml keys
// regfs reads, and the maintenance commands' own. The config schema, regfs-server and regfsctl
// all take them from here.

#include <chrono>
#include <cstddef>
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

// The web UI's per-digest manifest facts kept in memory (common/browse/facts.h): at most this
// many digests and this many bytes, whichever is reached first.
inline constexpr size_t kDefaultFactCacheEntries = 100'000;
inline constexpr size_t kDefaultFactCacheBytes = 64 << 20;
// regfs.ui.refresh: the web UI's catalog and storage figures are read from the store again
// when they are older than this (changes made through the server itself show at once).
inline constexpr std::chrono::seconds kDefaultUiRefresh{30};

// proxy.ttl: what the pull-through cache fetched is removed this long after (distribution's
// default); a manifest it holds by tag is served without asking the upstream for this long
// after the upstream last confirmed the tag.
inline constexpr std::chrono::hours kDefaultProxyTtl{168};
inline constexpr std::chrono::seconds kDefaultProxyTagFreshness{30};
// A repository delete (common/store/repository_delete.h) waits this long between raising its
// fence and removing anything; a manifest push confirms itself in a window shorter than this.
inline constexpr std::chrono::seconds kRepositoryDeleteSettle{2};
// A delete's fence expires this long after it was last renewed: what a deleter that died
// makes pushes into the repository wait at most.
inline constexpr std::chrono::minutes kRepositoryDeleteFenceTtl{10};
// regfs.retention.interval: how often regfs-server runs the retention policies.
inline constexpr std::chrono::hours kDefaultRetentionInterval{24};

}  // namespace regfs
