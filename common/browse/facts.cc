#include "common/browse/facts.h"

#include "common/browse/image_config.h"
#include "common/error.h"
#include "common/layers/platform.h"
#include "common/manifest.h"

namespace regfs::browse {
namespace {

uint64_t sizeOf(const Descriptor& d) { return d.size > 0 ? static_cast<uint64_t>(d.size) : 0; }

void addBlob(ManifestFacts& facts, const Descriptor& d) {
  for (const BlobRef& b : facts.blobs) {
    if (b.digest == d.digest) return;
  }
  facts.blobs.push_back({d.digest, sizeOf(d)});
}

void addChild(ManifestFacts& facts, const Descriptor& d) {
  std::string platform = d.platform ? layers::platformString(*d.platform) : std::string();
  if (d.platform && (d.platform->os.empty() || d.platform->architecture.empty())) platform.clear();
  // Docker's attestation manifests carry "unknown/unknown": no platform to pull.
  if (platform == "unknown/unknown") platform.clear();
  if (!platform.empty()) facts.platforms.push_back(platform);
  facts.children.push_back({{d.digest, sizeOf(d)}, d.mediaType, std::move(platform)});
}

// An image's platform and creation date, from its config.
void readConfig(const Store& store, const Descriptor& config, ManifestFacts& facts) {
  auto info = store.statBlob(config.digest);
  if (!info || info->size > kMaxImageConfigBytes) return;
  std::string bytes;
  try {
    bytes = store.readBlob(config.digest);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kBlobUnknown) return;  // deleted meanwhile: no platform to show
    throw;
  }
  auto parsed = parseImageConfig(bytes);
  if (!parsed) return;
  facts.created = parsed->created;
  if (!parsed->os.empty() && !parsed->architecture.empty()) {
    facts.platforms.push_back(layers::platformString(
        Platform{parsed->os, parsed->architecture, parsed->variant, {}, {}}));
  }
}

// Facts from bytes parseStoredManifest refuses: what describeManifest still finds.
ManifestFacts lenientFacts(std::string_view bytes) {
  ManifestParts parts = describeManifest(bytes);
  ManifestFacts facts;
  facts.mediaType = parts.mediaType;
  facts.isIndex = !parts.children.empty();
  if (parts.config) addBlob(facts, *parts.config);
  for (const Descriptor& d : parts.blobs) addBlob(facts, d);
  for (const Descriptor& d : parts.children) addChild(facts, d);
  return facts;
}

// Indexes of indexes are followed this deep; below, a child counts its descriptor's size
// (a chain of pushed indexes must not take the stack).
constexpr int kMaxIndexDepth = 8;

void addPulledBlobsFrom(const Store& store, FactCache& cache, const Digest& digest,
                        std::map<std::string, uint64_t>& seen, int depth) {
  auto facts = cache.get(store, digest);
  seen.emplace(digest.str(), facts->size);
  for (const BlobRef& b : facts->blobs) seen.emplace(b.digest.str(), b.size);
  for (const ChildFacts& child : facts->children) {
    if (seen.count(child.manifest.digest.str())) continue;
    if (depth >= kMaxIndexDepth) {
      seen.emplace(child.manifest.digest.str(), child.manifest.size);
      continue;
    }
    try {
      addPulledBlobsFrom(store, cache, child.manifest.digest, seen, depth + 1);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kManifestUnknown) throw;
      seen.emplace(child.manifest.digest.str(), child.manifest.size);
    }
  }
}

}  // namespace

std::string ManifestFacts::artifactTypeShown() const {
  if (artifactType == "application/vnd.oci.image.config.v1+json" ||
      artifactType == "application/vnd.docker.container.image.v1+json")
    return {};
  return artifactType;
}

size_t ManifestFacts::memoryBytes() const {
  size_t n = sizeof(ManifestFacts) + mediaType.size() + artifactType.size() +
             blobs.size() * sizeof(BlobRef) + (created ? created->size() : 0);
  for (const auto& [key, value] : annotations) n += 64 + key.size() + value.size();
  for (const ChildFacts& c : children)
    n += sizeof(ChildFacts) + c.mediaType.size() + c.platform.size();
  for (const std::string& p : platforms) n += sizeof(std::string) + p.size();
  return n;
}

ManifestFacts readManifestFacts(const Store& store, const Digest& digest) {
  std::string bytes;
  try {
    bytes = store.readBlob(digest);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kBlobUnknown) throw;
    throw Error(ErrorKind::kManifestUnknown, "manifest unknown: " + digest.str());
  }
  ManifestFacts facts;
  try {
    Manifest m = parseStoredManifest(bytes);
    facts.mediaType = m.mediaType;
    facts.isIndex = m.kind == ManifestKind::kIndex;
    facts.artifactType = m.artifactType;
    if (m.subject) facts.subject = m.subject->digest;
    facts.annotations = m.annotations;
    for (const Descriptor& d : m.blobReferences()) addBlob(facts, d);
    for (const Descriptor& d : m.manifests) addChild(facts, d);
    if (m.config && !facts.isIndex) readConfig(store, *m.config, facts);
  } catch (const Error& e) {
    if (!isManifestParseError(e.kind())) throw;
    facts = lenientFacts(bytes);
  }
  facts.size = bytes.size();
  return facts;
}

std::shared_ptr<const ManifestFacts> FactCache::get(const Store& store, const Digest& digest) {
  std::string key = digest.str();
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      ages_.splice(ages_.begin(), ages_, it->second.age);
      return it->second.facts;
    }
  }
  // Read outside the lock: a slow store (S3) must not hold up the hits of other requests.
  auto facts = std::make_shared<const ManifestFacts>(readManifestFacts(store, digest));
  insert(key, facts);
  return facts;
}

void FactCache::insert(const std::string& key, std::shared_ptr<const ManifestFacts> facts) {
  size_t size = facts->memoryBytes() + key.size();
  std::lock_guard lock(mu_);
  if (entries_.count(key) || size > maxBytes_ || maxEntries_ == 0) return;
  while (!ages_.empty() && (entries_.size() >= maxEntries_ || bytes_ + size > maxBytes_)) {
    auto oldest = entries_.find(ages_.back());
    bytes_ -= oldest->second.bytes;
    entries_.erase(oldest);
    ages_.pop_back();
  }
  ages_.push_front(key);
  entries_.emplace(key, Entry{std::move(facts), size, ages_.begin()});
  bytes_ += size;
}

size_t FactCache::entries() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

size_t FactCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

void addPulledBlobs(const Store& store, FactCache& cache, const Digest& digest,
                    std::map<std::string, uint64_t>& seen) {
  addPulledBlobsFrom(store, cache, digest, seen, 0);
}

uint64_t pullSize(const Store& store, FactCache& cache, const Digest& digest) {
  std::map<std::string, uint64_t> seen;
  addPulledBlobs(store, cache, digest, seen);
  uint64_t total = 0;
  for (const auto& [d, size] : seen) total += size;
  return total;
}

}  // namespace regfs::browse
