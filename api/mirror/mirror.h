#pragma once
// The pull-through cache (proxy.remoteurl): the registry's read handlers ask it to bring
// what a pull names into the store before they serve it, and it fetches from the repository's
// upstream (api/mirror/upstream.h) only what is missing or stale. Manifests are stored byte for
// byte, so digests never change. Concurrent lookups of one manifest make one upstream request;
// concurrent pulls of one blob make one upstream fetch (api/mirror/blob_fill.h) that streams to
// every client as it arrives. What was fetched is recorded in the repository
// (Repository::recordMirrorFetch) and removed its upstream's ttl later by the expiry worker.

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/http/response.h"
#include "api/mirror/upstream.h"
#include "common/config/config.h"
#include "common/store/store.h"
#include "common/worker.h"

namespace regfs::api::mirror {

class BlobFills;

// What the metrics report; every counter only grows.
struct MirrorCounters {
  std::atomic<uint64_t> hits{0};            // answered from the cache
  std::atomic<uint64_t> misses{0};          // fetched from the upstream
  std::atomic<uint64_t> upstreamBytes{0};   // body bytes received from upstreams
  std::atomic<uint64_t> coalesced{0};       // requests that joined another's fetch
  std::atomic<uint64_t> upstreamErrors{0};  // upstream unreachable, 5xx, 429, bad bytes
  std::atomic<uint64_t> servedStale{0};     // cached manifests served while the upstream failed
  std::atomic<uint64_t> expired{0};         // items removed by proxy.ttl
};

// An uncached blob being fetched: its size and, for a GET, the file its bytes land in, to be
// sent as it grows.
struct BlobStream {
  uint64_t size = 0;
  FileBody::Open open;
  std::shared_ptr<GrowingFile> growing;
};

// Runs one piece of work per key at a time: callers of the same key while it runs wait for
// its outcome (its exception included) instead of running it again.
class Coalescer {
 public:
  // True when this call ran `work`, false when it joined another's.
  bool run(const std::string& key, const std::function<void()>& work);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_future<void>> running_;  // under mu_
};

class Mirror {
 public:
  // Mirrors `config`'s upstream (when it names one) and those of `byPrefix`.
  Mirror(Store store, const ProxyConfig& config, const std::vector<PrefixUpstream>& byPrefix = {});
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // Makes the repository's `tag` point at the upstream's manifest, as of at most the tag
  // freshness window ago; when the upstream cannot answer, a cached tag stays as it is
  // (a log line and servedStale say so). Throws kManifestUnknown (the upstream has no such
  // tag), kUnavailable or kTooManyRequests (and nothing cached).
  void refreshTag(const RepoName& repo, const Tag& tag);
  // Makes the repository hold the manifest `digest`, fetched and verified if it did not.
  void ensureManifest(const RepoName& repo, const Digest& digest);
  // A blob the store does not hold yet: its size from the upstream, and for a GET the file
  // the one fetch of it (started by this call or joined) lands in. Throws kBlobUnknown when
  // the upstream has none, kUnavailable or kTooManyRequests.
  BlobStream blob(const RepoName& repo, const Digest& digest, bool head);
  // A blob the store holds for other repositories: linked into `repo`, without fetching its
  // bytes again, once its upstream confirms (HEAD, with the repository's credentials) that
  // the repository there has it, of `size` bytes. Throws kBlobUnknown when it has not,
  // kUnavailable or kTooManyRequests.
  void linkStoredBlob(const RepoName& repo, const Digest& digest, uint64_t size);
  // A hit: the handler served the item from the cache.
  void noteHit() { counters_.hits++; }
  // Stops the blob fetches still running, so that their clients, which wait on them rather
  // than on a socket, are cut short at once (the server's drain, once its time is up).
  void stopFills();

  const MirrorCounters& counters() const { return counters_; }
  Upstreams& upstreams() { return upstreams_; }

  // Removes what was fetched longer ago than the ttl of the repository's upstream (tags with
  // their manifests, layer links); the blobs then go with garbage collection. Repositories
  // no upstream serves any more are left alone. The expiry worker runs this.
  void expireOnce();

 private:
  Upstreams::Choice upstreamFor(const RepoName& repo) const;
  // GETs the manifest `reference` and stores it verified (against `expected` when given).
  Digest fetchManifest(const RepoName& repo, const Upstreams::Choice& up,
                       const std::string& reference, const std::optional<Digest>& expected);
  // HEAD of a manifest by tag: its digest (nullopt when the answer names none); throws
  // kManifestUnknown (no such tag upstream), kUnavailable or kTooManyRequests.
  std::optional<Digest> headTag(const Upstreams::Choice& up, const Tag& tag);
  void checkTag(const RepoName& repo, const Tag& tag);
  // HEAD of a blob: its size; throws kBlobUnknown, kUnavailable or kTooManyRequests.
  uint64_t headBlob(const Upstreams::Choice& up, const Digest& digest);
  BlobStream blobFrom(const Upstreams::Choice& up, const RepoName& repo, const Digest& digest,
                      bool head);

  Store store_;
  Upstreams upstreams_;
  MirrorCounters counters_;
  Coalescer manifests_;
  std::unique_ptr<BlobFills> fills_;
  Worker expiry_{"mirror-expiry"};  // last: stopped first
};

// Accept of every manifest lookup upstream: every manifest media type, so the cache holds
// what the tag really is; clients then get what they accept from the cache.
const std::vector<std::string>& manifestAccept();

}  // namespace regfs::api::mirror
