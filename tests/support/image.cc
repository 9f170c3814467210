#include "support/image.h"

#include <stdexcept>

#include "common/digest.h"

namespace regfs::testing {

std::string digestOf(std::string_view bytes) { return Digest::of(bytes).str(); }

std::string descriptor(std::string_view mediaType, std::string_view digest, uint64_t size,
                       std::string_view extraFields) {
  std::string out = "{\"mediaType\":\"";
  out += mediaType;
  out += "\",\"digest\":\"";
  out += digest;
  out += "\",\"size\":" + std::to_string(size);
  out += extraFields;
  return out + "}";
}

std::string descriptorOf(std::string_view mediaType, std::string_view bytes) {
  return descriptor(mediaType, digestOf(bytes), bytes.size());
}

std::string ociManifest(const std::string& config, const std::vector<std::string>& layers,
                        const std::string& annotation) {
  std::vector<std::string> descriptors;
  for (const std::string& layer : layers) descriptors.push_back(descriptorOf(kOciLayerType, layer));
  return manifestJson(
      descriptorOf(kOciConfigType, config), descriptors,
      annotation.empty() ? "" : ",\"annotations\":{\"test\":\"" + annotation + "\"}");
}

namespace {

// `items` joined by commas.
std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out;
}

}  // namespace

std::string manifestJson(std::string_view config, const std::vector<std::string>& layers,
                         std::string_view extraFields) {
  std::string out = "{\"schemaVersion\":2,\"mediaType\":\"" + kOciManifestType + "\"";
  if (!config.empty()) (out += ",\"config\":") += config;
  out += ",\"layers\":[" + joined(layers) + "]";
  out += extraFields;
  return out + "}";
}

std::string indexJson(const std::vector<std::string>& manifests) {
  return "{\"schemaVersion\":2,\"mediaType\":\"" + kOciIndexType + "\",\"manifests\":[" +
         joined(manifests) + "]}";
}

std::vector<std::string> ImageBytes::blobs() const {
  std::vector<std::string> out = {config};
  out.insert(out.end(), layers.begin(), layers.end());
  return out;
}

ImageBytes ociImage(std::string config, std::vector<std::string> layers,
                    const std::string& annotation) {
  std::string manifest = ociManifest(config, layers, annotation);
  return ImageBytes{std::move(config), std::move(layers), std::move(manifest)};
}

std::string randomBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

namespace {

std::string descriptorJson(const Blob& b, std::string_view extraFields = {}) {
  return descriptor(b.mediaType, b.digest, b.size, extraFields);
}

std::string platformJson(const ImagePlatform& p) {
  std::string s = "{\"architecture\":\"" + p.architecture + "\",\"os\":\"" + p.os + "\"";
  if (!p.variant.empty()) s += ",\"variant\":\"" + p.variant + "\"";
  return s + "}";
}

}  // namespace

OciLayout::OciLayout(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_ / "blobs" / "sha256");
  writeFile(dir_ / "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
  writeIndexJson();
}

Blob OciLayout::addBlob(const std::string& mediaType, const std::string& bytes) {
  std::string hex = sha256Hex(bytes);
  writeFile(dir_ / "blobs" / "sha256" / hex, bytes);
  return Blob{mediaType, "sha256:" + hex, bytes.size(), bytes};
}

Blob OciLayout::addLayer(const std::map<std::string, std::string>& files) {
  TempDir src;
  for (const auto& [name, content] : files) writeFile(src / name, content);
  auto r = sh("tar -C '" + src.path().string() +
              "' --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -n");
  if (r.status != 0) throw std::runtime_error("tar | gzip failed: " + r.err);
  return addBlob(kOciLayerType, r.out);
}

Blob OciLayout::addImage(const std::vector<Blob>& layers, const ImagePlatform& platform,
                         bool dockerMediaTypes, const ImageExtras& extras) {
  std::string diffIds;
  for (const Blob& l : layers) {
    TempDir t;
    writeFile(t / "l.gz", l.bytes);
    // The diff ID: the digest of the layer's tar, whatever it is compressed with.
    std::string unpack = l.mediaType.ends_with("+zstd")  ? "zstd -dc"
                         : l.mediaType.ends_with(".tar") ? "cat"
                                                         : "gzip -dc";
    auto unz = sh(unpack + " '" + (t / "l.gz").string() + "' | sha256sum | cut -d' ' -f1");
    if (!diffIds.empty()) diffIds += ",";
    diffIds += "\"sha256:" + unz.out.substr(0, 64) + "\"";
  }
  std::string config =
      "{\"architecture\":\"" + platform.architecture + "\",\"os\":\"" + platform.os + "\"," +
      (platform.variant.empty() ? "" : "\"variant\":\"" + platform.variant + "\",") +
      "\"config\":" + extras.containerConfig + ",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" +
      diffIds + "]}" + extras.configFields + "}";
  std::string configType =
      dockerMediaTypes ? "application/vnd.docker.container.image.v1+json" : kOciConfigType;
  std::string layerType =
      dockerMediaTypes ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : kOciLayerType;
  std::string manifestType =
      dockerMediaTypes ? "application/vnd.docker.distribution.manifest.v2+json" : kOciManifestType;
  Blob cfg = addBlob(configType, config);
  std::string manifest = "{\"schemaVersion\":2,\"mediaType\":\"" + manifestType +
                         "\",\"config\":" + descriptorJson(cfg) + ",\"layers\":[";
  for (size_t i = 0; i < layers.size(); ++i) {
    Blob l = layers[i];
    // An OCI layer keeps its own type (plain, zstd); anything else is taken as gzip'd tar.
    if (dockerMediaTypes || !l.mediaType.starts_with("application/vnd.oci.image.layer."))
      l.mediaType = layerType;
    manifest += (i ? "," : "") + descriptorJson(l);
  }
  manifest += "]" + extras.manifestFields + "}";
  return addBlob(manifestType, manifest);
}

Blob OciLayout::addIndex(const std::vector<std::pair<Blob, ImagePlatform>>& images) {
  std::vector<std::string> manifests;
  for (const auto& [image, platform] : images) {
    manifests.push_back(descriptorJson(image, ",\"platform\":" + platformJson(platform)));
  }
  return addBlob(kOciIndexType, indexJson(manifests));
}

void OciLayout::tag(const std::string& tag, const Blob& manifest) {
  tags_.emplace_back(tag, manifest);
  writeIndexJson();
}

void OciLayout::writeIndexJson() {
  std::string index = "{\"schemaVersion\":2,\"manifests\":[";
  for (size_t i = 0; i < tags_.size(); ++i) {
    index += (i ? "," : "") +
             descriptorJson(tags_[i].second,
                            ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" +
                                tags_[i].first + "\"}");
  }
  index += "]}";
  writeFile(dir_ / "index.json", index);
}

std::vector<std::string> privatePodman(const std::filesystem::path& dir) {
  return {"podman",
          "--root",
          (dir / "root").string(),
          "--runroot",
          (dir / "run").string(),
          "--storage-driver",
          "vfs",
          "--cgroup-manager",
          "cgroupfs",
          "--events-backend",
          "none"};
}

CommandResult skopeoCopy(const std::string& src, const std::string& dst,
                         const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"skopeo",  "--insecure-policy",      "copy",
                                   "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(src);
  argv.push_back(dst);
  return run(argv);
}

ReferenceRegistry::ReferenceRegistry(const std::filesystem::path& root, bool deleteEnabled)
    : ReferenceRegistry("  filesystem:\n    rootdirectory: " + root.string() + "\n", deleteEnabled,
                        0) {}

std::unique_ptr<ReferenceRegistry> ReferenceRegistry::withStorage(const std::string& storage) {
  return std::unique_ptr<ReferenceRegistry>(new ReferenceRegistry(storage, true, 0));
}

ReferenceRegistry::ReferenceRegistry(const std::string& driver, bool deleteEnabled, int) {
  port_ = freePort();
  std::string config = "version: 0.1\nlog:\n  level: warn\nstorage:\n" + driver +
                       "  delete:\n    enabled: " + (deleteEnabled ? "true" : "false") +
                       "\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n";
  writeFile(dir_ / "config.yml", config);
  std::string binary =
      haveProgram("docker-registry") ? "docker-registry" : "/usr/bin/docker-registry";
  // Its S3 driver panics at start when AWS_CA_BUNDLE is set: run it without.
  process_ = std::make_unique<Process>(
      std::vector<std::string>{binary, "serve", (dir_ / "config.yml").string()},
      std::map<std::string, std::string>{{"AWS_CA_BUNDLE", ""}}, dir_ / "registry.log");
  if (!waitForPort(port_)) {
    throw std::runtime_error("docker-registry did not start: " + process_->log());
  }
}

CommandResult curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"curl", "-sS"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

}  // namespace regfs::testing
