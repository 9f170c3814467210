#include "api/mirror/blob_fill.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

namespace regfs::api::mirror {
namespace {

// Bytes from the upstream are written to the file as they arrive, and shown to the clients
// in steps of this size: large enough that waking them costs little, small enough that they
// start at once.
constexpr size_t kFillPiece = 1 << 20;

// The error a client gets for an upstream answer other than 200.
Error upstreamRefused(const UpstreamReply& reply, const Digest& digest, const std::string& name) {
  if (reply.status == 404) {
    return Error(ErrorKind::kBlobUnknown, "blob unknown upstream: " + digest.str());
  }
  if (reply.status == 429) {
    return Error(ErrorKind::kTooManyRequests, "upstream " + name + " answered 429");
  }
  std::string why = reply.status == 0 ? reply.error : "answered " + std::to_string(reply.status);
  return Error(ErrorKind::kUnavailable, "upstream " + name + ": " + why);
}

// Remote storage cannot read an upload back before it is committed: the fill also writes the
// bytes to a file of its own in the temporary directory (TMPDIR), unlinked from the start, for
// its clients to follow. The file goes with its last reader.
UniqueFd openSpool() {
  std::error_code ec;
  std::string dir = std::filesystem::temp_directory_path(ec).string();
  if (ec) dir = "/tmp";
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // A file system without O_TMPFILE: a named file, unlinked at once.
    std::string path = dir + "/regfs-mirror-XXXXXX";
    fd.reset(::mkostemp(path.data(), O_CLOEXEC));
    if (fd) ::unlink(path.c_str());
  }
  if (!fd) {
    throw Error(ErrorKind::kIo,
                "cannot make the mirror's spool file in " + dir + ": " + std::strerror(errno));
  }
  return fd;
}

void writeSpool(int fd, std::string_view data, uint64_t offset) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw Error(ErrorKind::kIo,
                  std::string("writing the mirror's spool file: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

}  // namespace

uint64_t BlobFill::waitForSize() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return size_ || failure_; });
  if (failure_) throw *failure_;
  return *size_;
}

UniqueFd BlobFill::openSource() const {
  // The source is set before the size, which every client waits for.
  UniqueFd fd(::fcntl(source_.get(), F_DUPFD_CLOEXEC, 0));
  if (!fd) {
    throw Error(ErrorKind::kIo,
                std::string("opening a blob being fetched: ") + std::strerror(errno));
  }
  return fd;
}

uint64_t BlobFill::readable(uint64_t offset, std::function<void()> wake) {
  std::lock_guard lock(mu_);
  if (failure_) throw Error(ErrorKind::kUnavailable, failure_->what());
  if (landed_ > offset) return landed_;
  if (done_) throw Error(ErrorKind::kUnavailable, "the blob ended early");
  waiting_.push_back(std::move(wake));
  return landed_;
}

void BlobFill::wakeAll(std::vector<std::function<void()>> waiting) {
  for (auto& wake : waiting) wake();
}

void BlobFill::setSource(UniqueFd fd) {
  std::lock_guard lock(mu_);
  source_ = std::move(fd);
}

void BlobFill::setSize(uint64_t size) {
  std::lock_guard lock(mu_);
  size_ = size;
  changed_.notify_all();
}

void BlobFill::landed(uint64_t bytes) {
  std::vector<std::function<void()>> waiting;
  {
    std::lock_guard lock(mu_);
    landed_ += bytes;
    waiting.swap(waiting_);
  }
  wakeAll(std::move(waiting));
}

void BlobFill::succeed() {
  std::vector<std::function<void()>> waiting;
  {
    std::lock_guard lock(mu_);
    done_ = true;
    waiting.swap(waiting_);
  }
  wakeAll(std::move(waiting));
}

void BlobFill::fail(ErrorKind kind, std::string why) {
  std::vector<std::function<void()>> waiting;
  {
    std::lock_guard lock(mu_);
    if (!failure_) failure_.emplace(kind, std::move(why));
    changed_.notify_all();
    waiting.swap(waiting_);
  }
  wakeAll(std::move(waiting));
}

BlobFills::~BlobFills() { stopAll(); }

void BlobFills::stopAll() {
  std::list<Filler> fillers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    fillers.swap(fillers_);
  }
  // Not under mu_: a fill thread takes it to leave running_.
  for (Filler& f : fillers) f.worker->stop();
}

std::shared_ptr<BlobFill> BlobFills::find(const RepoName& repo, const Digest& digest) {
  std::lock_guard lock(mu_);
  auto it = running_.find(repo.str() + "@" + digest.str());
  return it == running_.end() ? nullptr : it->second;
}

std::shared_ptr<BlobFill> BlobFills::join(const RepoName& repo, const Digest& digest,
                                          const Upstreams::Choice& up) {
  std::string key = repo.str() + "@" + digest.str();
  std::lock_guard lock(mu_);
  if (stopped_) throw Error(ErrorKind::kUnavailable, "the registry is stopping");
  reap();
  if (auto it = running_.find(key); it != running_.end()) {
    counters_.coalesced++;
    return it->second;
  }
  auto fill = std::make_shared<BlobFill>();
  running_[key] = fill;
  counters_.misses++;
  Filler filler{fill, std::make_unique<Worker>("mirror-fill"),
                std::make_shared<std::atomic<bool>>(false)};
  Worker& worker = *filler.worker;
  worker.start([this, fill, repo, digest, up, key, &worker, finished = filler.finished] {
    try {
      run(fill, repo, digest, up, worker.stopFlag());
    } catch (const std::exception& e) {
      // The store failed under the fill (disk full, …): the clients are told, nothing is kept.
      spdlog::error("mirror: fetching {} into {}: {}", digest.str(), repo.str(), e.what());
      fill->fail(ErrorKind::kIo, e.what());
    }
    {
      std::lock_guard done(mu_);
      running_.erase(key);
    }
    finished->store(true);
  });
  fillers_.push_back(std::move(filler));
  return fill;
}

void BlobFills::reap() {
  for (auto it = fillers_.begin(); it != fillers_.end();) {
    if (it->finished->load()) {
      it->worker->stop();
      it = fillers_.erase(it);
    } else {
      ++it;
    }
  }
}

void BlobFills::run(const std::shared_ptr<BlobFill>& fill, const RepoName& name,
                    const Digest& digest, const Upstreams::Choice& up,
                    const std::atomic<bool>& stop) {
  Repository repo = store_.repository(name);
  std::string uuid = repo.startUpload();
  UploadWriter writer = repo.openUpload(uuid);
  // Clients follow the upload's own file, or on remote storage the spool beside it.
  UniqueFd source = repo.openLocalUpload(uuid);
  int spool = -1;
  uint64_t spooled = 0;
  if (!source) {
    try {
      source = openSpool();
    } catch (const Error&) {
      repo.cancelUpload(uuid);
      throw;
    }
    spool = source.get();  // owned by the fill, which outlives this call
  }
  fill->setSource(std::move(source));
  auto keep = [&](std::string_view data) {
    writer.write(data);
    if (spool < 0) {
      writer.flush();  // into the file the clients read
      return;
    }
    // The store takes its parts in its own time (the commit hands it the rest); the clients
    // read the spool.
    writeSpool(spool, data, spooled);
    spooled += data.size();
  };
  Hasher hasher(digest.algorithm());
  std::optional<uint64_t> size;
  uint64_t received = 0;
  uint64_t shown = 0;  // bytes the clients were told of (BlobFill::landed)
  std::string failure;
  std::optional<Error> storeFailure;  // the store (or the spool) failed under the fill
  UpstreamRequest get;
  get.repository = up.remoteName;
  get.path = "blobs/" + digest.str();
  get.cancel = &stop;
  get.start = [&](int, const HeaderMap& headers) {
    size = contentLength(headers);
    if (size) fill->setSize(*size);
  };
  get.sink = [&](std::string_view data) {
    if (stop.load()) {
      failure = "the registry is stopping";
      return false;
    }
    if (!size) {
      failure = "the upstream sent no Content-Length";
      return false;
    }
    received += data.size();
    counters_.upstreamBytes += data.size();
    if (received > *size) {
      failure = "the upstream sent more than its Content-Length";
      return false;
    }
    hasher.update(data);
    // No exception crosses the HTTP client's C callbacks: the transfer ends, and the
    // failure is thrown below.
    try {
      keep(data);
    } catch (const Error& e) {
      storeFailure = e;
      return false;
    }
    // The clients are told in steps, and never of the last byte before the digest check
    // below: no client is ever given a whole body of wrong bytes.
    if (received - shown >= kFillPiece && received < *size) {
      fill->landed(received - shown);
      shown = received;
    }
    return true;
  };
  UpstreamReply reply;
  try {
    reply = up.upstream->send(get);
  } catch (const Error& e) {
    counters_.upstreamErrors++;
    repo.cancelUpload(uuid);
    fill->fail(e.kind(), e.what());
    return;
  }
  if (storeFailure) {
    repo.cancelUpload(uuid);
    throw *storeFailure;  // join() tells the clients
  }
  if (failure.empty() && reply.status != 200) {
    counters_.upstreamErrors++;
    Error refused = upstreamRefused(reply, digest, up.upstream->name());
    repo.cancelUpload(uuid);
    fill->fail(refused.kind(), refused.what());
    return;
  }
  if (failure.empty() && !reply.error.empty()) failure = reply.error;
  if (failure.empty() && size && received < *size) failure = "the upstream's body ended early";
  if (failure.empty() && hasher.digest() != digest) {
    failure = "the upstream sent bytes of digest " + hasher.digest().str();
  }
  if (!failure.empty()) {
    counters_.upstreamErrors++;
    spdlog::warn("mirror: fetching {} from {}: {}; nothing kept", digest.str(), up.upstream->name(),
                 failure);
    repo.cancelUpload(uuid);
    fill->fail(ErrorKind::kUnavailable, failure);
    return;
  }
  // The rest is shown only once the blob is in the store: a client that has the whole body
  // finds the blob there.
  repo.commitOpenUpload(uuid, writer, digest, hasher.digest());
  repo.recordMirrorFetch(MirrorRecord::Kind::kLayer, digest);
  if (received > shown) fill->landed(received - shown);
  fill->succeed();
  repo.cancelUpload(uuid);  // the session's leftovers; the blob is in place
}

}  // namespace regfs::api::mirror
