// Blob uploads: POST /v2/<name>/blobs/uploads/ (start, monolithic with ?digest=, or
// cross-repository mount with ?mount=&from=) and GET/HEAD/PATCH/PUT/DELETE on
// /v2/<name>/blobs/uploads/<uuid>. Sessions live in the store, so any server process on
// the same root can continue one. Bodies stream to the upload file and are hashed on the
// way; the hash state is cached per session so commit does not read the data again.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

#include "api/registry/errors.h"
#include "api/registry/handlers.h"
#include "common/error.h"
#include "common/store/write_behind.h"

namespace regfs::api {
namespace {

constexpr size_t kStageSize = 1 << 20;

std::string rangeHeader(uint64_t size) { return "0-" + std::to_string(size ? size - 1 : 0); }

Response uploadStatus(int status, const Route& route, const std::string& uuid, uint64_t size) {
  Response r(status);
  r.set("Location", uploadPath(route.name, uuid));
  r.set("Range", rangeHeader(size));
  r.set("Docker-Upload-UUID", uuid);
  return r;
}

// `from`: the repository a blob was mounted from, empty for a push.
Response blobCreated(const Route& route, const BlobInfo& blob, const std::string& from = "") {
  Response r(201);
  r.set("Location", blobPath(route.name, blob.digest.str()));
  r.set("Docker-Content-Digest", blob.digest.str());
  r.event = RegistryEvent{from.empty() ? "push" : "mount",
                          RegistryEvent::Target::kBlob,
                          route.name,
                          blob.digest.str(),
                          "",
                          "application/octet-stream",
                          blob.size,
                          from};
  return r;
}

// Removes a committed session, and with it the hold of `writer` on it; a failure leaves
// files that upload purging removes later.
void removeSession(Repository& repo, const std::string& uuid, UploadWriter& writer) {
  try {
    repo.cancelUpload(uuid);
    writer.sessionRemoved();
  } catch (const std::exception& e) {
    spdlog::warn("could not remove the session of committed upload {}: {}", uuid, e.what());
  }
}

// Writes a request body into an upload session, hashing it on the way; then either
// reports progress (PATCH) or commits the blob (PUT, monolithic POST).
class UploadSink : public BodySink {
 public:
  // `ownsSession`: the session was opened for this request alone (a monolithic POST), so
  // no client can resume it; it is removed, with its space, unless the blob is committed.
  UploadSink(Registry& registry, Repository repo, Route route, std::string uuid,
             UploadWriter writer, std::optional<Hasher> hasher, std::optional<Digest> commitAs,
             bool ownsSession)
      : registry_(registry),
        repo_(std::move(repo)),
        route_(std::move(route)),
        uuid_(std::move(uuid)),
        writer_(std::move(writer)),
        hasher_(std::move(hasher)),
        commitAs_(std::move(commitAs)),
        ownsSession_(ownsSession) {}

  ~UploadSink() override {
    behind_.reset();  // the thread is done with the session's file before it is removed
    if (!ownsSession_ || committed_) return;
    try {
      repo_.cancelUpload(uuid_);
      writer_.sessionRemoved();
    } catch (const std::exception& e) {
      spdlog::warn("could not remove the session of a failed upload {}: {}", uuid_, e.what());
    }
  }

  // Fills stages; a full stage is hashed and written by the write-behind threads, started
  // once a body outgrows one stage. Stages end at file offsets that are multiples of
  // FileWriter::kDirectAlign, so each one can be written by direct I/O from its own memory.
  // A writer that writes behind itself (S3) takes the bytes at once, hashed here.
  void write(std::string_view data) override {
    if (writer_.writesBehind()) {
      if (hasher_) hasher_->update(data);
      writer_.write(data);
      return;
    }
    while (!data.empty()) {
      std::span<char> free = room();
      size_t n = std::min(free.size(), data.size());
      std::memcpy(free.data(), data.data(), n);
      data.remove_prefix(n);
      received(n);
    }
  }

  // The rest of the stage being filled: the server receives into it.
  std::span<char> room() override {
    if (writer_.writesBehind()) return {};
    if (staged_.capacity() == 0) {
      staged_ = StageBuffer(kStageSize);
      stageEnd_ = kStageSize - writer_.size() % FileWriter::kDirectAlign;
    }
    return staged_.space().first(stageEnd_ - staged_.size());
  }

  void received(size_t n) override {
    staged_.grow(n);
    if (staged_.size() == stageEnd_) passStage();
  }

  Response finish() override {
    auto bodyEnd = std::chrono::steady_clock::now();
    if (behind_) {
      if (staged_.size() > 0) passStage();
      behind_->drain();
      behind_.reset();  // its threads are done with writer_ and hasher_
    } else if (staged_.size() > 0) {
      if (hasher_) hasher_->update(staged_.data(), staged_.size());
      writer_.write(staged_.data(), staged_.size());
    }
    staged_.clear();
    writer_.flush();
    auto flushed = std::chrono::steady_clock::now();
    spdlog::debug("upload {}: stored {:.1f} ms after the body ended", uuid_,
                  std::chrono::duration<double, std::milli>(flushed - bodyEnd).count());
    if (!commitAs_) {
      uint64_t size = writer_.size();
      if (hasher_) registry_.hashers().put(uuid_, size, std::move(*hasher_));
      writer_.release();  // before the answer, which the client's next chunk may follow at once
      return uploadStatus(202, route_, uuid_, size);
    }
    std::optional<Digest> computed;
    if (hasher_ && hasher_->algorithm() == commitAs_->algorithm()) computed = hasher_->digest();
    registry_.hashers().erase(uuid_);
    BlobInfo blob = repo_.commitOpenUpload(uuid_, writer_, *commitAs_, computed);
    committed_ = true;
    if (writer_.writesBehind()) {
      // On remote storage removing the session takes a few requests (docs/benchmarks.md,
      // "Measured facts behind design choices") that the client need not wait for: the blob
      // is in place and linked, and what is left is only the session's own files. The
      // session stays held until then.
      registry_.afterAnswer().add([repo = repo_, uuid = uuid_,
                                   open = std::make_shared<UploadWriter>(std::move(
                                       writer_))]() mutable { removeSession(repo, uuid, *open); });
    } else {
      // The session goes before the answer, but the writer still holds its data open: if
      // the store already had the blob, freeing that copy's space happens at the close,
      // after the answer (before the 201, it was a visible part of a large upload's commit).
      removeSession(repo_, uuid_, writer_);
      registry_.afterAnswer().add(
          [open = std::make_shared<UploadWriter>(std::move(writer_))]() mutable { open.reset(); });
    }
    spdlog::debug(
        "upload {}: committed in {:.1f} ms", uuid_,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - flushed)
            .count());
    return blobCreated(route_, blob);
  }

 private:
  void passStage() {
    if (!behind_) behind_ = std::make_unique<WriteBehind>(writer_, hasher_ ? &*hasher_ : nullptr);
    StageBuffer next = behind_->spare(kStageSize);
    stageEnd_ = kStageSize;
    behind_->write(std::exchange(staged_, std::move(next)));
  }

  Registry& registry_;
  Repository repo_;
  Route route_;
  std::string uuid_;
  UploadWriter writer_;
  std::optional<Hasher> hasher_;
  std::optional<Digest> commitAs_;
  bool ownsSession_;
  bool committed_ = false;
  StageBuffer staged_;   // allocated at the first byte
  size_t stageEnd_ = 0;  // where the stage being filled is full
  std::unique_ptr<WriteBehind>
      behind_;  // after writer_ and hasher_, which it uses: destroyed first
};

// The hash state for continuing `uuid` at `offset`: fresh at 0, cached if this process
// hashed up to there, otherwise none (commit re-hashes).
std::optional<Hasher> hasherAt(Registry& registry, const std::string& uuid, uint64_t offset) {
  auto cached = registry.hashers().take(uuid, offset);
  if (cached) return cached;
  if (offset == 0) return Hasher();
  return std::nullopt;
}

// Content-Range of a chunk, checked against Content-Length as distribution does.
std::optional<uint64_t> chunkStart(const Request& request) {
  auto header = request.headers.get("Content-Range");
  if (!header) return std::nullopt;
  auto range = parseContentRange(*header);
  if (!range)
    throw Error(ErrorKind::kRangeInvalid, "malformed Content-Range: " + std::string(*header));
  if (request.contentLength && *request.contentLength != range->length()) {
    throw Error(ErrorKind::kSizeInvalid, "Content-Range " + std::string(*header) + " spans " +
                                             std::to_string(range->length()) +
                                             " bytes but Content-Length is " +
                                             std::to_string(*request.contentLength));
  }
  return range->first;
}

// A chunk out of order, or a session another request is writing, is answered 416 with
// where the session stands, for the client to resume from.
Response rangeRefused(Repository& repo, const Route& route, const Error& error) {
  Response r = errorResponse(error);
  if (auto info = repo.statUpload(route.reference)) {
    r.set("Location", uploadPath(route.name, info->uuid));
    r.set("Range", rangeHeader(info->size));
    r.set("Docker-Upload-UUID", info->uuid);
  }
  return r;
}

// `writer` is the session opened by the caller (which thereby checked that it exists).
Dispatch streamInto(Registry& registry, Repository repo, const Route& route,
                    const std::string& uuid, UploadWriter writer, std::optional<uint64_t> start,
                    std::optional<Digest> commitAs, bool ownsSession = false) {
  writer.requireOffset(uuid, start);
  std::optional<Hasher> hasher = hasherAt(registry, uuid, writer.size());
  return Dispatch::stream(std::make_unique<UploadSink>(registry, std::move(repo), route, uuid,
                                                       std::move(writer), std::move(hasher),
                                                       std::move(commitAs), ownsSession));
}

}  // namespace

Dispatch handleUploadStart(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  registry.requireWritable();

  auto mount = queryValue(request.query, "mount");
  auto from = queryValue(request.query, "from");
  if (mount && from) {
    auto digest = Digest::tryParse(*mount);
    auto source = RepoName::tryParse(*from);
    std::optional<BlobInfo> blob;
    if (digest && source) blob = registry.store().repository(*source).statLayer(*digest);
    if (blob) {
      repo.linkLayer(blob->digest);
      return Dispatch::respond(blobCreated(route, *blob, source->str()));
    }
    // Not mountable: a normal upload session, as distribution answers.
  }

  if (auto digestText = queryValue(request.query, "digest")) {
    Digest digest = digestParam(*digestText);
    std::string uuid = repo.startUpload();
    UploadWriter writer = repo.openUpload(uuid);
    return streamInto(registry, std::move(repo), route, uuid, std::move(writer), 0, digest,
                      /*ownsSession=*/true);
  }
  std::string uuid = repo.startUpload();
  Response r = uploadStatus(202, route, uuid, 0);
  return request.hasBody() ? Dispatch::stream(bufferBody(64 * 1024, [r](std::string) { return r; }))
                           : Dispatch::respond(std::move(r));
}

Dispatch handleUpload(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  const std::string& m = request.method;
  if (m == "GET" || m == "HEAD") {
    auto info = repo.statUpload(route.reference);
    if (!info)
      throw Error(ErrorKind::kBlobUploadUnknown, "blob upload unknown: " + route.reference);
    return Dispatch::respond(uploadStatus(204, route, info->uuid, info->size));
  }
  registry.requireWritable();
  // Opening the session is its one lookup: an unknown session is the first error, as in
  // distribution. It holds the session for this request alone (Repository::openUpload).
  const std::string& uuid = route.reference;
  try {
    UploadWriter writer = repo.openUpload(uuid);
    if (m == "DELETE") {
      repo.cancelUpload(uuid);
      writer.sessionRemoved();
      registry.hashers().erase(uuid);
      Response r(204);
      r.set("Docker-Upload-UUID", uuid);
      return Dispatch::respond(std::move(r));
    }
    if (m == "PATCH") {
      return streamInto(registry, repo, route, uuid, std::move(writer), chunkStart(request),
                        std::nullopt);
    }
    // PUT ?digest= with an optional last chunk.
    auto digestText = queryValue(request.query, "digest");
    if (!digestText) throw Error(ErrorKind::kDigestInvalid, "digest missing");
    Digest digest = digestParam(*digestText);
    std::optional<uint64_t> start = request.hasBody() ? chunkStart(request) : std::nullopt;
    return streamInto(registry, repo, route, uuid, std::move(writer), start, digest);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kRangeInvalid) throw;
    return Dispatch::respond(rangeRefused(repo, route, e));
  }
}

}  // namespace regfs::api
