#pragma once
// Builds small stores with common/ for the tools' tests: images (config + layers + OCI
// manifest), indexes, referrers, and ages files so the grace period does not protect them.

#include <sys/stat.h>

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/store/store.h"
#include "support/image.h"

namespace regfs::testing {

struct BuiltImage {
  Digest manifest;
  Digest config;
  std::vector<Digest> layers;
  std::string bytes;
};

// Uploads `layers` (contents) and a config into `repo`, then the manifest; optional subject.
// The config is `config` when given, else one of `arch` that differs with the layers.
inline BuiltImage pushImage(Store& store, Repository& repo, const std::vector<std::string>& layers,
                            const std::string& arch = "amd64",
                            const std::optional<BuiltImage>& subject = std::nullopt,
                            const std::optional<std::string>& config = std::nullopt) {
  BuiltImage image{Digest::of(""), Digest::of(""), {}, {}};
  std::vector<std::string> layerDescriptors;
  for (const std::string& content : layers) {
    Digest d = store.putBlob(content);
    repo.linkLayer(d);
    image.layers.push_back(d);
    layerDescriptors.push_back(descriptor(kOciLayerType, d.str(), content.size()));
  }
  std::string configBytes =
      config ? *config
             : "{\"architecture\":\"" + arch + "\",\"os\":\"linux\",\"n\":\"" +
                   std::to_string(layers.size()) + (layers.empty() ? "" : layers.back()) + "\"}";
  image.config = store.putBlob(configBytes);
  repo.linkLayer(image.config);
  image.bytes = manifestJson(
      descriptor(kOciConfigType, image.config.str(), configBytes.size()), layerDescriptors,
      subject ? ",\"subject\":" +
                    descriptor(kOciManifestType, subject->manifest.str(), subject->bytes.size())
              : "");
  image.manifest = repo.putManifest(image.bytes);
  return image;
}

inline Digest pushIndex(Repository& repo, const std::vector<BuiltImage>& children) {
  std::vector<std::string> manifests;
  for (const BuiltImage& child : children) {
    manifests.push_back(descriptor(kOciManifestType, child.manifest.str(), child.bytes.size()));
  }
  return repo.putManifest(indexJson(manifests));
}

// Sets every file's and directory's mtime under `root` to `age` ago.
inline void ageTree(const std::filesystem::path& root, std::chrono::seconds age) {
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ::time(nullptr) - age.count();
  times[0].tv_nsec = times[1].tv_nsec = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    ::utimensat(AT_FDCWD, e.path().c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
}

}  // namespace regfs::testing
