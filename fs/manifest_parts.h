#pragma once
// What the view shows of a manifest: its media type, its config, the other blobs it
// lists (in order) and, for an index, its children. common/manifest.h parses it; when
// that strict parser refuses a stored manifest (an artifact without a config, an old
// artifact manifest with "blobs", a type it does not know), a lenient reading still
// finds every descriptor, because the view shows whatever the store holds. Bytes that
// are not JSON at all yield no parts: the manifest itself is still shown.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/manifest.h"

namespace regfs::view {

struct ManifestParts {
  std::string mediaType;
  std::optional<Descriptor> config;
  std::vector<Descriptor> blobs;     // layers (or an artifact manifest's "blobs")
  std::vector<Descriptor> children;  // an index's manifests
};

ManifestParts describeManifest(std::string_view bytes);

}  // namespace regfs::view
