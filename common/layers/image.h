#pragma once
// Which manifests have a root file system, and which blobs make it: the layers of an image
// manifest whose config is an image config, base first, when every one of them is a tar
// layer (plain, gzip or zstd; OCI, Docker, non-distributable). An index has none of its own
// (its children do); an artifact (a Helm chart, a signature) has none; an image with an
// encrypted layer or one of a media type regfs does not read has none either, and says why.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/manifest.h"
#include "common/names.h"
#include "common/store/store.h"

namespace regfs::layers {

// True for the media types of tar layers: the OCI layer types (+gzip, +zstd, plain,
// non-distributable), Docker's rootfs.diff.tar.gzip (foreign too) and schema 1's x-gtar.
bool isTarLayer(std::string_view mediaType);

struct ImageLayers {
  std::vector<Descriptor> layers;  // base first; empty when `why` is set
  std::string why;                 // why the manifest has no root file system; empty if it has
};

// The layers of the image `manifest` (as parseStoredManifest reads it).
ImageLayers imageLayers(const Manifest& manifest);
// The same from an image manifest's config and layers (the view reads manifests leniently):
// why they make no root file system, or empty when they make one.
std::string whyNoRootfs(const std::optional<Descriptor>& config,
                        const std::vector<Descriptor>& layers);

// "NAME", "NAME:TAG" or "NAME@<alg>:<hex>": what regfsctl's commands take to name images.
struct ImageReference {
  RepoName name;
  std::optional<Tag> tag;
  std::optional<Digest> digest;
};
// Throws Error(kNameInvalid / kTagInvalid / kDigestInvalid) with the reason.
ImageReference parseImageReference(std::string_view text);

// The tar layers of the images `ref` names (every manifest of NAME; the one NAME:TAG or
// NAME@DIGEST names; every manifest of the store when nullopt), the images of an index's
// children included, each layer once, in the order found. Manifests that are missing or that
// do not parse are passed over; other errors (a failing store) propagate. Throws
// Error(kNameUnknown / kManifestUnknown) when `ref` names nothing.
std::vector<Descriptor> layersOf(const Store& store, const std::optional<ImageReference>& ref);

}  // namespace regfs::layers
