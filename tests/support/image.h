#pragma once
// Test support: what images are made of (digests, descriptors, manifests), OCI image
// layouts on disk (real gzip'd tar layers, configs, manifests, indexes) pushed with skopeo,
// and the reference registry (Debian's docker-registry) on a temp store.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.h"

namespace regfs::testing {

inline const std::string kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline const std::string kOciIndexType = "application/vnd.oci.image.index.v1+json";
inline const std::string kOciConfigType = "application/vnd.oci.image.config.v1+json";
inline const std::string kOciLayerType = "application/vnd.oci.image.layer.v1.tar+gzip";

// "sha256:<hex>" of `bytes`.
std::string digestOf(std::string_view bytes);

// A descriptor's JSON, {"mediaType":…,"digest":…,"size":…} in that order; `extraFields`
// (each starting with a comma, e.g. ",\"platform\":{…}") go after the size.
std::string descriptor(std::string_view mediaType, std::string_view digest, uint64_t size,
                       std::string_view extraFields = {});
// The descriptor of `bytes` themselves.
std::string descriptorOf(std::string_view mediaType, std::string_view bytes);

// An OCI image manifest over `config` and `layers` (any bytes: the registry does not look
// inside blobs). `annotation` makes manifests with equal blobs distinct.
std::string ociManifest(const std::string& config, const std::vector<std::string>& layers,
                        const std::string& annotation = "");
// An OCI image manifest over descriptors (artifacts, media types of any kind, blobs not at
// hand): `config` ("" for none), the layers, then `extraFields` (each starting with a comma).
std::string manifestJson(std::string_view config, const std::vector<std::string>& layers,
                         std::string_view extraFields = {});
// An OCI index over the descriptors of its manifests.
std::string indexJson(const std::vector<std::string>& manifests);

// An image as a client pushes it: its blobs, then its manifest of type `mediaType`.
struct ImageBytes {
  std::string config;
  std::vector<std::string> layers;
  std::string manifest;
  std::string mediaType = kOciManifestType;
  // The config, then the layers: the order a client uploads them in.
  std::vector<std::string> blobs() const;
  std::string digest() const { return digestOf(manifest); }
};
// An image of `layers` with `config`, its manifest from ociManifest().
ImageBytes ociImage(std::string config, std::vector<std::string> layers,
                    const std::string& annotation = "");

// Deterministic pseudo-random bytes, the same for a seed; they do not compress.
std::string randomBytes(size_t n, uint64_t seed);

struct Blob {
  std::string mediaType;
  std::string digest;  // "sha256:<hex>"
  size_t size = 0;
  std::string bytes;
};

struct ImagePlatform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;
};

// What an image's config and manifest hold beyond the platform and the layers (JSON text).
struct ImageExtras {
  std::string containerConfig = R"({"Cmd":["/bin/sh"]})";  // the config's "config" object
  std::string configFields;    // more members of the config ("history", "created"), each ",…"
  std::string manifestFields;  // more members of the manifest ("annotations"), each ",…"
};

// An OCI image layout directory ("oci:DIR:TAG" for skopeo).
class OciLayout {
 public:
  explicit OciLayout(std::filesystem::path dir);
  const std::filesystem::path& dir() const { return dir_; }

  Blob addBlob(const std::string& mediaType, const std::string& bytes);
  // A gzip'd tar layer holding `files` (name -> content), reproducible byte for byte.
  Blob addLayer(const std::map<std::string, std::string>& files);
  // An image: config for `platform` + the layers, as an OCI manifest (or Docker schema 2).
  Blob addImage(const std::vector<Blob>& layers, const ImagePlatform& platform = {},
                bool dockerMediaTypes = false, const ImageExtras& extras = {});
  // An OCI index over images, each with its platform.
  Blob addIndex(const std::vector<std::pair<Blob, ImagePlatform>>& images);
  // Names `manifest` as `tag` in index.json (skopeo reads "oci:DIR:TAG").
  void tag(const std::string& tag, const Blob& manifest);
  std::string ref(const std::string& tag) const { return "oci:" + dir_.string() + ":" + tag; }

 private:
  void writeIndexJson();
  std::filesystem::path dir_;
  std::vector<std::pair<std::string, Blob>> tags_;
};

// podman and its options for a store of its own under `dir` (vfs, cgroupfs, no events), so
// that nothing of the machine's podman changes; the command's arguments go after these.
std::vector<std::string> privatePodman(const std::filesystem::path& dir);

// skopeo copy SRC DST without TLS verification; fails the test with skopeo's message.
CommandResult skopeoCopy(const std::string& src, const std::string& dst,
                         const std::vector<std::string>& extra = {});

// Debian's docker-registry serving `root` on a free loopback port.
class ReferenceRegistry {
 public:
  explicit ReferenceRegistry(const std::filesystem::path& root, bool deleteEnabled = true);
  // On the storage driver `storage` names (lines under `storage:`, e.g. an s3 block).
  static std::unique_ptr<ReferenceRegistry> withStorage(const std::string& storage);
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return "http://" + host(); }
  std::string log() const { return process_->log(); }

 private:
  ReferenceRegistry(const std::string& driver, bool deleteEnabled, int);
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// curl with the given arguments; returns status/stdout/stderr.
CommandResult curl(const std::vector<std::string>& args);

}  // namespace regfs::testing
