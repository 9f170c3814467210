#pragma once
// What the view needs to know about a manifest: its media type, its config, the other
// blobs it lists (in order) and, for an index, its children with their platforms.
// Tolerant by design: the view shows whatever the store holds, so unknown or broken
// manifests yield what could be read (at least the manifest itself), never an error.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"

namespace regfs::view {

struct Descriptor {
  Digest digest;
  std::string mediaType;
};

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

struct ManifestChild {
  Digest digest;
  std::string mediaType;
  std::optional<Platform> platform;
};

struct ManifestParts {
  std::string mediaType;
  std::optional<Descriptor> config;
  std::vector<Descriptor> blobs;          // "layers" (or an artifact manifest's "blobs")
  std::vector<ManifestChild> children;    // an index's / manifest list's "manifests"
};

ManifestParts describeManifest(std::string_view bytes);

// The file name extension for a blob of `mediaType`: ".tar.gz", ".tar.zst", ".tar",
// ".json", or "" when the type says nothing usable.
std::string layerFileExtension(std::string_view mediaType);

// "<os>-<arch>[-<variant>]"; "unknown" without a platform.
std::string platformName(const std::optional<Platform>& platform);

}  // namespace regfs::view
