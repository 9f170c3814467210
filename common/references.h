#pragma once
// What a stored manifest points at, as garbage collection and fsck see it.

#include <optional>
#include <string_view>
#include <vector>

#include "common/digest.h"

namespace regfs {

struct ManifestReferences {
  std::vector<Digest> blobs;      // config and layers (schema 1: fsLayers)
  std::vector<Digest> manifests;  // the children of an index / manifest list
  std::optional<Digest> subject;  // OCI 1.1: the manifest this one refers to
};

// The references of a manifest of any kind distribution stores (Docker schema 1 and 2,
// manifest list, OCI manifest, OCI index, artifacts); nullopt when `bytes` is not one.
std::optional<ManifestReferences> manifestReferences(std::string_view bytes);

}  // namespace regfs
