#include "common/layers/image.h"

#include <array>
#include <set>

#include "common/error.h"

namespace regfs::layers {

bool isTarLayer(std::string_view mediaType) {
  static constexpr std::array<std::string_view, 10> kTypes = {
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.diff.tar",
      media::kDockerForeignLayer,
      media::kDockerSchema1Layer,
  };
  for (std::string_view type : kTypes) {
    if (mediaType == type) return true;
  }
  return false;
}

std::string whyNoRootfs(const std::optional<Descriptor>& config,
                        const std::vector<Descriptor>& layers) {
  if (config && config->mediaType != "application/vnd.oci.image.config.v1+json" &&
      config->mediaType != "application/vnd.docker.container.image.v1+json")
    return "an artifact (config " + config->mediaType + "), not an image";
  for (const Descriptor& layer : layers) {
    if (!isTarLayer(layer.mediaType))
      return "layer " + layer.digest.str() + " is " + layer.mediaType + ", not a tar layer";
  }
  return {};
}

ImageLayers imageLayers(const Manifest& manifest) {
  ImageLayers out;
  if (manifest.kind != ManifestKind::kImage) {
    out.why = "an index: its images are its children";
    return out;
  }
  out.why = whyNoRootfs(manifest.config, manifest.layers);
  if (out.why.empty()) out.layers = manifest.layers;
  return out;
}

ImageReference parseImageReference(std::string_view text) {
  if (size_t at = text.find('@'); at != std::string_view::npos) {
    return ImageReference{RepoName::parse(text.substr(0, at)), std::nullopt,
                          Digest::parse(text.substr(at + 1))};
  }
  size_t slash = text.rfind('/');
  size_t colon = text.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    return ImageReference{RepoName::parse(text.substr(0, colon)),
                          Tag::parse(text.substr(colon + 1)), std::nullopt};
  }
  return ImageReference{RepoName::parse(text), std::nullopt, std::nullopt};
}

namespace {

// Adds the layers of manifest `d` of `repo` (and of its children) to `out`.
void addLayers(const Repository& repo, const Digest& d, std::set<Digest>& seen,
               std::set<Digest>& seenLayers, std::vector<Descriptor>& out) {
  if (!seen.insert(d).second) return;
  Manifest manifest;
  try {
    manifest = parseStoredManifest(repo.getManifest(d));
  } catch (const Error& e) {
    // Not there, or not a manifest: fsck's business. A failing store is the caller's.
    if (e.kind() != ErrorKind::kManifestUnknown && !isManifestParseError(e.kind())) throw;
    return;
  }
  for (const Descriptor& child : manifest.manifestReferences())
    addLayers(repo, child.digest, seen, seenLayers, out);
  for (const Descriptor& layer : imageLayers(manifest).layers) {
    if (seenLayers.insert(layer.digest).second) out.push_back(layer);
  }
}

}  // namespace

std::vector<Descriptor> layersOf(const Store& store, const std::optional<ImageReference>& ref) {
  std::vector<Descriptor> out;
  std::set<Digest> seenLayers;
  auto addRepository = [&](const Repository& repo, const std::vector<Digest>& manifests) {
    std::set<Digest> seen;
    for (const Digest& d : manifests) addLayers(repo, d, seen, seenLayers, out);
  };
  if (!ref) {
    for (const std::string& name : store.catalog(SIZE_MAX)) {
      Repository repo = store.repository(RepoName::parse(name));
      addRepository(repo, repo.listManifests());
    }
    return out;
  }
  Repository repo = store.repository(ref->name);
  if (!repo.exists())
    throw Error(ErrorKind::kNameUnknown, "no repository " + ref->name.str() + " in the store");
  if (ref->tag) {
    auto d = repo.resolveTag(*ref->tag);
    if (!d)
      throw Error(ErrorKind::kManifestUnknown,
                  "no tag " + ref->tag->str() + " in " + ref->name.str());
    addRepository(repo, {*d});
  } else if (ref->digest) {
    if (!repo.hasManifest(*ref->digest))
      throw Error(ErrorKind::kManifestUnknown,
                  "no manifest " + ref->digest->str() + " in " + ref->name.str());
    addRepository(repo, {*ref->digest});
  } else {
    addRepository(repo, repo.listManifests());
  }
  return out;
}

}  // namespace regfs::layers
