#include "common/view/names.h"

#include <algorithm>

namespace regfs::view_names {

std::string manifestDir(const Digest& manifest) {
  return std::string(kManifestDirPrefix) + manifest.str();
}

std::optional<Digest> manifestDirDigest(std::string_view name) {
  if (!name.starts_with(kManifestDirPrefix)) return std::nullopt;
  return Digest::tryParse(std::string(name.substr(kManifestDirPrefix.size())));
}

std::string tagAlias(std::string_view tag) {
  return std::string(kTagAliasPrefix) + std::string(tag);
}

std::string_view tagOfEntry(std::string_view name) {
  return name.starts_with(kTagAliasPrefix) ? name.substr(kTagAliasPrefix.size()) : name;
}

std::string layerFile(size_t index, size_t count, const Digest& digest,
                      std::string_view extension) {
  size_t width = std::max<size_t>(2, std::to_string(count > 0 ? count - 1 : 0).size());
  std::string name = std::to_string(index);
  if (name.size() < width) name.insert(0, width - name.size(), '0');
  return name + "-" + digest.hex() + std::string(extension);
}

std::string layerContentsDir(size_t index, size_t count, const Digest& digest) {
  return layerFile(index, count, digest, "");
}

std::optional<Digest> layerFileDigest(std::string_view name, DigestAlgorithm algorithm) {
  size_t dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  size_t dot = name.find('.', dash);
  std::string_view hex =
      name.substr(dash + 1, dot == std::string_view::npos ? dot : dot - dash - 1);
  return Digest::tryParse(std::string(digestAlgorithmName(algorithm)) + ":" + std::string(hex));
}

}  // namespace regfs::view_names
