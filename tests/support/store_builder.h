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

namespace regfs::testing {

inline std::string descriptor(const std::string& mediaType, const Digest& d, size_t size) {
  return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + d.str() +
         "\",\"size\":" + std::to_string(size) + "}";
}

struct BuiltImage {
  Digest manifest;
  Digest config;
  std::vector<Digest> layers;
  std::string bytes;
};

// Uploads `layers` (contents) and a config into `repo`, then the manifest; optional subject.
inline BuiltImage pushImage(Store& store, Repository& repo, const std::vector<std::string>& layers,
                            const std::string& arch = "amd64",
                            const std::optional<BuiltImage>& subject = std::nullopt) {
  BuiltImage image{Digest::of(""), Digest::of(""), {}, {}};
  std::string layerJson;
  for (const std::string& content : layers) {
    Digest d = store.putBlob(content);
    repo.linkLayer(d);
    image.layers.push_back(d);
    if (!layerJson.empty()) layerJson += ",";
    layerJson += descriptor("application/vnd.oci.image.layer.v1.tar+gzip", d, content.size());
  }
  std::string config = "{\"architecture\":\"" + arch + "\",\"os\":\"linux\",\"n\":\"" +
                       std::to_string(layers.size()) + layers.back() + "\"}";
  image.config = store.putBlob(config);
  repo.linkLayer(image.config);
  image.bytes =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"config\":" +
      descriptor("application/vnd.oci.image.config.v1+json", image.config, config.size()) +
      ",\"layers\":[" + layerJson + "]";
  if (subject) {
    image.bytes += ",\"subject\":" + descriptor("application/vnd.oci.image.manifest.v1+json",
                                                subject->manifest, subject->bytes.size());
  }
  image.bytes += "}";
  image.manifest = repo.putManifest(image.bytes);
  return image;
}

inline Digest pushIndex(Repository& repo, const std::vector<BuiltImage>& children) {
  std::string json =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
      "\"manifests\":[";
  for (size_t i = 0; i < children.size(); ++i) {
    if (i) json += ",";
    json += descriptor("application/vnd.oci.image.manifest.v1+json", children[i].manifest,
                       children[i].bytes.size());
  }
  return repo.putManifest(json + "]}");
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
