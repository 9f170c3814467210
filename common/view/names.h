#pragma once
// The names of the view: how the store appears as files (docs/view.md). regfs-mount writes
// them and regfsctl restore reads them back from a copy of the view, so both take them from
// here.
//
//   <repo…>/<tag> -> @<digest>             a tag; "@tag:<tag>" where a nested repository
//                                          has the same name
//   <repo…>/@<digest>/manifest.json        a manifest directory
//                     config.json
//                     layers/NN-<hex><ext>
//                     platforms/<os-arch…> -> ../../@<digest>
//                     rootfs/…                 inside an image: its file system
//                     layer-contents/NN-<hex>/…   one layer's own files

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"

namespace regfs::view_names {

inline constexpr std::string_view kManifestFile = "manifest.json";
inline constexpr std::string_view kConfigFile = "config.json";
inline constexpr std::string_view kLayersDir = "layers";
inline constexpr std::string_view kPlatformsDir = "platforms";
inline constexpr std::string_view kRootfsDir = "rootfs";
inline constexpr std::string_view kLayerContentsDir = "layer-contents";
inline constexpr std::string_view kManifestDirPrefix = "@";
inline constexpr std::string_view kTagAliasPrefix = "@tag:";

// "@sha256:<hex>", and back (nullopt for any other name).
std::string manifestDir(const Digest& manifest);
std::optional<Digest> manifestDirDigest(std::string_view name);

// "@tag:<tag>", and the tag a tag symlink's name stands for ("<tag>" or "@tag:<tag>").
std::string tagAlias(std::string_view tag);
std::string_view tagOfEntry(std::string_view name);

// Layer `index` of `count`: "NN-<hex><extension>", the index zero-padded to two digits or as
// many as the last index needs, so names sort in manifest order.
std::string layerFile(size_t index, size_t count, const Digest& digest, std::string_view extension);
// Layer `index` of `count`'s directory under layer-contents/: "NN-<hex>", as layerFile names it
// without the extension.
std::string layerContentsDir(size_t index, size_t count, const Digest& digest);
// The digest (of `algorithm`, the manifest's) a layer file's name holds; nullopt if none.
std::optional<Digest> layerFileDigest(std::string_view name, DigestAlgorithm algorithm);

}  // namespace regfs::view_names
