#pragma once
// What the web UI needs to know of a manifest, read once per digest: the bytes stored under a
// digest never change, so neither do these facts, and a cache of them is never stale.

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config/defaults.h"
#include "common/digest.h"
#include "common/store/store.h"

namespace regfs::browse {

struct BlobRef {
  Digest digest;
  uint64_t size = 0;  // as the descriptor says (negative sizes read 0)
};

struct ChildFacts {
  BlobRef manifest;
  std::string mediaType;
  std::string platform;  // "os/architecture[/variant]", "" when the descriptor has none
};

struct ManifestFacts {
  std::string mediaType;
  uint64_t size = 0;  // of the manifest's own bytes
  bool isIndex = false;
  std::string artifactType;  // Manifest::artifactType
  std::optional<Digest> subject;
  std::map<std::string, std::string> annotations;
  std::vector<BlobRef> blobs;        // the config and the layers, each digest once
  std::vector<ChildFacts> children;  // an index's manifests
  // An index's children's platforms (those that have one), an image's from its config; empty
  // for an artifact.
  std::vector<std::string> platforms;
  std::optional<std::string> created;  // the image config's

  // artifactType unless it is an image config's media type (a plain image): "" then.
  std::string artifactTypeShown() const;
  // Roughly the memory these facts hold, for the cache's bound.
  size_t memoryBytes() const;
};

// The facts of the manifest stored under `digest`: its bytes, and for an image its config
// (up to kMaxImageConfigBytes; a missing or unreadable config leaves platforms and created
// empty). Bytes that parseStoredManifest refuses are read leniently (describeManifest).
// Throws Error(kManifestUnknown) when the store has no such blob.
ManifestFacts readManifestFacts(const Store& store, const Digest& digest);

// Facts by digest, the most recently used kept, up to `maxEntries` digests and `maxBytes` of
// memory (ManifestFacts::memoryBytes), whichever is reached first. Thread-safe; two threads
// missing the same digest may both read it.
class FactCache {
 public:
  explicit FactCache(size_t maxEntries = kDefaultFactCacheEntries,
                     size_t maxBytes = kDefaultFactCacheBytes)
      : maxEntries_(maxEntries), maxBytes_(maxBytes) {}
  // The facts of `digest`, read from `store` on a miss (readManifestFacts, and what it throws).
  std::shared_ptr<const ManifestFacts> get(const Store& store, const Digest& digest);
  size_t entries() const;
  size_t bytes() const;

 private:
  struct Entry {
    std::shared_ptr<const ManifestFacts> facts;
    size_t bytes = 0;
    std::list<std::string>::iterator age;
  };
  void insert(const std::string& key, std::shared_ptr<const ManifestFacts> facts);

  const size_t maxEntries_;
  const size_t maxBytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // by digest string, under mu_
  std::list<std::string> ages_;                     // most recently used first, under mu_
  size_t bytes_ = 0;                                // under mu_
};

// The distinct blobs pulling `digest` fetches: the manifest, its config and layers, and for an
// index each child manifest and its blobs (a child missing from the store counts its
// descriptor's size only). Adds them to `seen` (digest -> size), so a caller can total
// several manifests with shared blobs counted once.
void addPulledBlobs(const Store& store, FactCache& cache, const Digest& digest,
                    std::map<std::string, uint64_t>& seen);
// The sum of addPulledBlobs for `digest` alone.
uint64_t pullSize(const Store& store, FactCache& cache, const Digest& digest);

}  // namespace regfs::browse
