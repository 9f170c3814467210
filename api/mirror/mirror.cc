#include "api/mirror/mirror.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "api/mirror/blob_fill.h"
#include "common/config/defaults.h"
#include "common/error.h"
#include "common/manifest.h"

namespace regfs::api::mirror {
namespace {

std::chrono::system_clock::time_point timeOf(const timespec& t) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec)));
}

// Why an upstream answer other than 200 leaves the request without what it asked for.
Error upstreamFailure(const UpstreamReply& reply, const std::string& name) {
  if (reply.status == 429) {
    return Error(ErrorKind::kTooManyRequests, "upstream " + name + " answered 429");
  }
  std::string why = reply.status == 0 ? reply.error : "answered " + std::to_string(reply.status);
  return Error(ErrorKind::kUnavailable, "upstream " + name + ": " + why);
}

// Runs `work`; a kTooManyRequests out of it tells the client when `up` takes requests again
// (Retry-After).
template <typename Work>
auto passingOnThePause(const Upstream* up, Work&& work) {
  try {
    return work();
  } catch (const RetryLater&) {
    throw;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kTooManyRequests || !up) throw;
    throw RetryLater(e.what(), up->pauseLeft());
  }
}

// How often expiry looks for what outlived proxy.ttl: a fraction of it, so nothing outlives
// it by much, within bounds that keep the walk of the store cheap.
std::chrono::nanoseconds expiryInterval(std::chrono::nanoseconds ttl) {
  return std::clamp<std::chrono::nanoseconds>(ttl / 4, std::chrono::seconds(1),
                                              std::chrono::minutes(10));
}

}  // namespace

const std::vector<std::string>& manifestAccept() {
  static const std::vector<std::string> types{
      std::string(media::kOciIndex), std::string(media::kOciManifest),
      std::string(media::kDockerManifestList), std::string(media::kDockerManifest)};
  return types;
}

bool Coalescer::run(const std::string& key, const std::function<void()>& work) {
  std::promise<void> promise;
  std::shared_future<void> outcome;
  {
    std::lock_guard lock(mu_);
    if (auto it = running_.find(key); it != running_.end()) {
      outcome = it->second;
    } else {
      running_[key] = promise.get_future().share();
    }
  }
  if (outcome.valid()) {
    outcome.get();  // rethrows the runner's error
    return false;
  }
  auto finish = [&] {
    std::lock_guard lock(mu_);
    running_.erase(key);
  };
  try {
    work();
  } catch (...) {
    // Handed to every caller that joined, then to this one.
    promise.set_exception(std::current_exception());
    finish();
    throw;
  }
  promise.set_value();
  finish();
  return true;
}

Mirror::Mirror(Store store, const ProxyConfig& config, const std::vector<PrefixUpstream>& byPrefix)
    : store_(std::move(store)),
      upstreams_(config, byPrefix),
      fills_(std::make_unique<BlobFills>(store_, counters_)) {
  if (auto shortest = upstreams_.shortestTtl(); shortest.count() > 0) {
    auto every = expiryInterval(shortest);
    expiry_.startEvery(every, every, [this] {
      try {
        expireOnce();
      } catch (const Error& e) {
        spdlog::error("mirror: expiry: {}", e.what());
      }
    });
  }
}

Mirror::~Mirror() {
  expiry_.stop();
  fills_.reset();
}

void Mirror::stopFills() { fills_->stopAll(); }

Upstreams::Choice Mirror::upstreamFor(const RepoName& repo) const {
  auto choice = upstreams_.forRepository(repo.str());
  if (!choice.upstream) {
    throw Error(ErrorKind::kNameUnknown, "no upstream mirrors " + repo.str());
  }
  return choice;
}

Digest Mirror::fetchManifest(const RepoName& name, const Upstreams::Choice& up,
                             const std::string& reference, const std::optional<Digest>& expected) {
  UpstreamRequest get;
  get.repository = up.remoteName;
  get.path = "manifests/" + reference;
  get.headers["Accept"] = manifestAccept();
  UpstreamReply reply = up.upstream->send(get);
  if (reply.status == 404) {
    throw Error(ErrorKind::kManifestUnknown, "manifest unknown upstream: " + reference);
  }
  if (reply.status != 200) {
    counters_.upstreamErrors++;
    throw upstreamFailure(reply, up.upstream->name());
  }
  counters_.upstreamBytes += reply.body.size();
  if (reply.truncated || reply.body.size() > kMaxManifestBytes) {
    counters_.upstreamErrors++;
    throw Error(ErrorKind::kUnavailable, "upstream manifest " + reference + " is too large");
  }
  DigestAlgorithm algorithm = expected ? expected->algorithm() : DigestAlgorithm::kSha256;
  Digest actual = Digest::of(reply.body, algorithm);
  if (expected && actual != *expected) {
    counters_.upstreamErrors++;
    throw Error(ErrorKind::kUnavailable, "upstream sent manifest " + actual.str() + " for " +
                                             expected->str() + "; nothing kept");
  }
  // Parsed as a push would be (a malformed manifest is not cached), stored byte for byte.
  std::string contentType = firstHeader(reply.headers, "content-type").value_or("");
  (void)parseManifest(reply.body, bareMediaType(contentType));
  Repository repo = store_.repository(name);
  Digest digest = repo.putManifest(reply.body);
  repo.recordMirrorFetch(MirrorRecord::Kind::kManifest, digest);
  counters_.misses++;
  return digest;
}

std::optional<Digest> Mirror::headTag(const Upstreams::Choice& up, const Tag& tag) {
  UpstreamRequest head;
  head.method = "HEAD";
  head.repository = up.remoteName;
  head.path = "manifests/" + tag.str();
  head.headers["Accept"] = manifestAccept();
  UpstreamReply reply = up.upstream->send(head);
  if (reply.status == 404) {
    throw Error(ErrorKind::kManifestUnknown, "manifest unknown upstream: " + tag.str());
  }
  if (reply.status != 200) {
    counters_.upstreamErrors++;
    throw upstreamFailure(reply, up.upstream->name());
  }
  auto header = firstHeader(reply.headers, "docker-content-digest");
  // No digest in the answer (some registries omit it on HEAD): the GET will say.
  return header ? Digest::tryParse(*header) : std::nullopt;
}

void Mirror::checkTag(const RepoName& name, const Tag& tag) {
  Repository repo = store_.repository(name);
  auto up = upstreamFor(name);
  std::optional<Digest> cached = repo.resolveTag(tag);
  try {
    std::optional<Digest> current = headTag(up, tag);
    if (cached && current && *cached == *current) {
      repo.recordMirrorTag(tag);
      counters_.hits++;
      return;
    }
    Digest digest = fetchManifest(name, up, current ? current->str() : tag.str(), current);
    repo.putTag(tag, digest);
    repo.recordMirrorTag(tag);
  } catch (const Error& e) {
    bool upstreamDown =
        e.kind() == ErrorKind::kUnavailable || e.kind() == ErrorKind::kTooManyRequests;
    if (!cached || !upstreamDown) throw;
    // The upstream cannot answer: the cached tag is served as it is.
    counters_.servedStale++;
    spdlog::warn("mirror: serving {}:{} from the cache: {}", name.str(), tag.str(), e.what());
  }
}

void Mirror::refreshTag(const RepoName& name, const Tag& tag) {
  Repository repo = store_.repository(name);
  if (repo.resolveTag(tag)) {
    if (auto confirmed = repo.mirrorTagConfirmedAt(tag);
        (confirmed &&
         std::chrono::system_clock::now() - timeOf(*confirmed) < kDefaultProxyTagFreshness) ||
        !upstreams_.forRepository(name.str()).upstream) {
      // Fresh, or cached under a name no upstream serves any more: served as it is.
      counters_.hits++;
      return;
    }
  }
  bool ran = passingOnThePause(upstreams_.forRepository(name.str()).upstream, [&] {
    return manifests_.run(name.str() + ":" + tag.str(), [&] { checkTag(name, tag); });
  });
  if (!ran) counters_.coalesced++;
}

void Mirror::ensureManifest(const RepoName& name, const Digest& digest) {
  Repository repo = store_.repository(name);
  if (repo.hasManifest(digest)) {
    counters_.hits++;
    return;
  }
  auto up = upstreamFor(name);
  bool ran = passingOnThePause(up.upstream, [&] {
    return manifests_.run(name.str() + "@" + digest.str(),
                          [&] { fetchManifest(name, up, digest.str(), digest); });
  });
  if (!ran) counters_.coalesced++;
}

BlobStream Mirror::blob(const RepoName& name, const Digest& digest, bool head) {
  auto up = upstreamFor(name);
  return passingOnThePause(up.upstream, [&] { return blobFrom(up, name, digest, head); });
}

uint64_t Mirror::headBlob(const Upstreams::Choice& up, const Digest& digest) {
  UpstreamRequest request;
  request.method = "HEAD";
  request.repository = up.remoteName;
  request.path = "blobs/" + digest.str();
  UpstreamReply reply = up.upstream->send(request);
  if (reply.status == 404)
    throw Error(ErrorKind::kBlobUnknown, "blob unknown upstream: " + digest.str());
  if (reply.status != 200) {
    counters_.upstreamErrors++;
    throw upstreamFailure(reply, up.upstream->name());
  }
  auto length = contentLength(reply.headers);
  if (!length) {
    counters_.upstreamErrors++;
    throw Error(ErrorKind::kUnavailable,
                "upstream " + up.upstream->name() + " sent no Content-Length for " + digest.str());
  }
  return *length;
}

void Mirror::linkStoredBlob(const RepoName& name, const Digest& digest, uint64_t size) {
  auto up = upstreamFor(name);
  uint64_t upstreamSize = passingOnThePause(up.upstream, [&] { return headBlob(up, digest); });
  if (upstreamSize != size) {
    counters_.upstreamErrors++;
    throw Error(ErrorKind::kUnavailable, "upstream " + up.upstream->name() + " says " +
                                             digest.str() + " has " + std::to_string(upstreamSize) +
                                             " bytes, the store holds " + std::to_string(size));
  }
  Repository repo = store_.repository(name);
  repo.linkLayer(digest);
  repo.recordMirrorFetch(MirrorRecord::Kind::kLayer, digest);
  counters_.hits++;
}

BlobStream Mirror::blobFrom(const Upstreams::Choice& up, const RepoName& name, const Digest& digest,
                            bool head) {
  std::shared_ptr<BlobFill> fill =
      head ? fills_->find(name, digest) : fills_->join(name, digest, up);
  if (!fill) {
    // A HEAD of a blob nobody fetches: the upstream's answer, nothing fetched.
    BlobStream out;
    out.size = headBlob(up, digest);
    return out;
  }
  BlobStream out;
  out.size = fill->waitForSize();
  out.open = [fill] { return fill->openSource(); };
  out.growing = fill;
  return out;
}

void Mirror::expireOnce() {
  const auto now = std::chrono::system_clock::now();
  for (const std::string& name : store_.catalog(std::numeric_limits<size_t>::max())) {
    auto repoName = RepoName::tryParse(name);
    if (!repoName) continue;
    const std::chrono::nanoseconds ttl = upstreams_.forRepository(name).ttl;
    if (ttl.count() == 0) continue;
    Repository repo = store_.repository(*repoName);
    for (const MirrorRecord& record : repo.listMirrorRecords()) {
      bool old = now - timeOf(record.at) >= ttl;
      switch (record.kind) {
        case MirrorRecord::Kind::kManifest:
          if (!old) continue;
          // Its tags go with it (Repository::deleteManifest).
          if (repo.hasManifest(*record.digest)) repo.deleteManifest(*record.digest);
          break;
        case MirrorRecord::Kind::kLayer:
          if (!old) continue;
          if (repo.hasLayer(*record.digest)) repo.unlinkLayer(*record.digest);
          break;
        case MirrorRecord::Kind::kTag:
          // A confirmation outlives its tag only when the tag's manifest expired.
          if (repo.resolveTag(*record.tag)) continue;
          break;
      }
      repo.removeMirrorRecord(record);
      if (record.kind != MirrorRecord::Kind::kTag) counters_.expired++;
    }
  }
}

}  // namespace regfs::api::mirror
