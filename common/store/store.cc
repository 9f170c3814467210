#include "common/store/store.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <utility>

#include "common/error.h"
#include "common/store/layout.h"
#include "common/utc.h"

namespace regfs {
namespace {

constexpr uint64_t kHashChunk = 4 << 20;

std::string newUploadId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw Error(ErrorKind::kInternal, "RAND_bytes failed");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

void walkCatalog(const StorageDriver& driver, const std::string& dir, const std::string& name,
                 std::string_view last, size_t n, std::vector<std::string>& out) {
  std::vector<std::string> children = driver.list(dir);
  if (!name.empty() &&
      std::binary_search(children.begin(), children.end(), std::string(layout::kManifestsDir))) {
    if (last.empty() || catalogLess(last, name)) out.push_back(name);
  }
  for (const std::string& child : children) {
    if (out.size() >= n) return;
    if (child.empty() || child[0] == '_' || child[0] == '.') continue;
    std::string childName = name.empty() ? child : name + "/" + child;
    // Skip a subtree whose every path sorts at or before `last`.
    if (!last.empty() && catalogLess(childName, last) && !startsWith(last, childName + "/")) {
      continue;
    }
    if (!RepoName::tryParse(childName)) continue;
    walkCatalog(driver, dir + "/" + child, childName, last, n, out);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Store

Store::Store(std::shared_ptr<StorageDriver> driver) : driver_(std::move(driver)) {}

Store Store::openLocal(const std::filesystem::path& rootdirectory) {
  return Store(makeFsDriver(rootdirectory));
}

std::optional<BlobInfo> Store::statBlob(const Digest& digest) const {
  auto info = driver_->statFile(layout::blobData(digest));
  if (!info) return std::nullopt;
  return BlobInfo{digest, info->size, info->mtime};
}

namespace {

// Runs `read`, a read of blob `digest`; a missing file is an unknown blob.
template <typename F>
auto readingBlob(const Digest& digest, F&& read) {
  try {
    return read();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) {
      throw Error(ErrorKind::kBlobUnknown, "blob unknown: " + digest.str());
    }
    throw;
  }
}

}  // namespace

std::string Store::readBlob(const Digest& digest) const {
  return readingBlob(digest, [&] { return driver_->read(layout::blobData(digest)); });
}

UniqueFd Store::openLocalBlob(const Digest& digest) const {
  return readingBlob(digest, [&] { return driver_->openLocal(layout::blobData(digest)); });
}

std::string Store::readBlobRange(const Digest& digest, uint64_t offset, uint64_t length) const {
  return readingBlob(digest,
                     [&] { return driver_->readRange(layout::blobData(digest), offset, length); });
}

void Store::streamBlob(const Digest& digest, uint64_t offset, uint64_t length,
                       const std::function<bool(std::string_view)>& sink) const {
  readingBlob(digest, [&] { driver_->readStream(layout::blobData(digest), offset, length, sink); });
}

std::optional<std::string> Store::blobRedirectUrl(const Digest& digest) const {
  return driver_->redirectUrl(layout::blobData(digest));
}

Digest Store::putBlob(std::string_view bytes) {
  Digest digest = Digest::of(bytes);
  if (!statBlob(digest)) driver_->writeAtomic(layout::blobData(digest), bytes);
  return digest;
}

std::optional<std::filesystem::path> Store::localBlobPath(const Digest& digest) const {
  return driver_->localPath(layout::blobData(digest));
}

void Store::deleteBlob(const Digest& digest) { driver_->remove(layout::blobDir(digest)); }

void Store::forEachBlob(const std::function<void(const Digest&)>& fn) const {
  for (DigestAlgorithm algorithm : kDigestAlgorithms) {
    std::string root = layout::blobAlgorithmDir(algorithm);
    for (const std::string& prefix : driver_->list(root)) {
      for (const std::string& hex : driver_->list(layout::blobPrefixDir(algorithm, prefix))) {
        auto digest = layout::digestFromDirNames(algorithm, hex);
        if (!digest || digest->hex().substr(0, 2) != prefix) continue;
        if (statBlob(*digest)) fn(*digest);
      }
    }
  }
}

std::vector<std::string> Store::catalog(size_t n, std::string_view last) const {
  std::vector<std::string> out;
  if (n == 0) return out;
  walkCatalog(*driver_, layout::repositoriesRoot(), "", last, n, out);
  return out;
}

Repository Store::repository(const RepoName& name) const { return Repository(driver_, name); }

// ---------------------------------------------------------------------------------------
// Repository

Repository::Repository(std::shared_ptr<StorageDriver> driver, RepoName name)
    : driver_(std::move(driver)), name_(std::move(name)) {}

bool Repository::exists() const {
  auto info = driver_->stat(layout::manifestsDir(name_));
  return info && info->isDirectory;
}

std::optional<Digest> Repository::readLink(const std::string& path) const {
  try {
    return Digest::tryParse(driver_->read(path));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
    throw;
  }
}

void Repository::writeLink(const std::string& path, const Digest& digest) {
  // An unchanged link is left alone: no write, and its mtime keeps meaning "last changed".
  if (readLink(path) == digest) return;
  driver_->writeAtomic(path, digest.str());
}

std::vector<Digest> Repository::listLinkedDigests(
    const std::function<std::string(DigestAlgorithm)>& dirFor,
    const std::function<std::string(const Digest&)>& linkFor) const {
  std::vector<Digest> out;
  for (auto& [digest, info] : listLinks(dirFor, linkFor)) out.push_back(digest);
  return out;
}

std::vector<std::pair<Digest, FileInfo>> Repository::listLinks(
    const std::function<std::string(DigestAlgorithm)>& dirFor,
    const std::function<std::string(const Digest&)>& linkFor) const {
  std::vector<std::pair<Digest, FileInfo>> out;
  for (DigestAlgorithm algorithm : kDigestAlgorithms) {
    for (const std::string& hex : driver_->list(dirFor(algorithm))) {
      auto digest = layout::digestFromDirNames(algorithm, hex);
      if (!digest) continue;
      // distribution deletes only the link file, so a bare directory means "gone".
      if (auto info = driver_->statFile(linkFor(*digest))) out.emplace_back(*digest, *info);
    }
  }
  return out;
}

void Repository::linkLayer(const Digest& digest) {
  writeLink(layout::layerLink(name_, digest), digest);
}

bool Repository::hasLayer(const Digest& digest) const {
  return driver_->statFile(layout::layerLink(name_, digest)).has_value();
}

std::optional<BlobInfo> Repository::statLayer(const Digest& digest) const {
  if (!hasLayer(digest)) return std::nullopt;
  return Store(driver_).statBlob(digest);
}

void Repository::unlinkLayer(const Digest& digest) {
  driver_->remove(parentPath(layout::layerLink(name_, digest)));
}

std::vector<Digest> Repository::listLayers() const {
  return listLinkedDigests([&](DigestAlgorithm a) { return layout::layersDir(name_, a); },
                           [&](const Digest& d) { return layout::layerLink(name_, d); });
}

Digest Repository::putManifest(std::string_view bytes) {
  Digest digest = Store(driver_).putBlob(bytes);
  writeLink(layout::revisionLink(name_, digest), digest);
  return digest;
}

bool Repository::hasManifest(const Digest& digest) const {
  return driver_->statFile(layout::revisionLink(name_, digest)).has_value();
}

std::string Repository::getManifest(const Digest& digest) const {
  if (!hasManifest(digest)) {
    throw Error(ErrorKind::kManifestUnknown,
                "manifest unknown: " + name_.str() + "@" + digest.str());
  }
  try {
    return Store(driver_).readBlob(digest);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kBlobUnknown) throw;
    throw Error(ErrorKind::kManifestUnknown,
                "manifest unknown: " + name_.str() + "@" + digest.str() + " (blob missing)");
  }
}

void Repository::deleteManifest(const Digest& digest) {
  if (!hasManifest(digest)) {
    throw Error(ErrorKind::kManifestUnknown,
                "manifest unknown: " + name_.str() + "@" + digest.str());
  }
  deleteManifest(digest, tagsFor(digest));
}

void Repository::deleteManifest(const Digest& digest, const std::vector<Tag>& tags) {
  if (!hasManifest(digest)) {
    throw Error(ErrorKind::kManifestUnknown,
                "manifest unknown: " + name_.str() + "@" + digest.str());
  }
  // Tags first, so no tag is ever left pointing at a manifest that is gone.
  for (const Tag& tag : tags) {
    if (resolveTag(tag) == digest) deleteTag(tag);
  }
  driver_->remove(parentPath(layout::revisionLink(name_, digest)));
}

std::vector<Digest> Repository::listManifests() const {
  return listLinkedDigests([&](DigestAlgorithm a) { return layout::revisionsDir(name_, a); },
                           [&](const Digest& d) { return layout::revisionLink(name_, d); });
}

std::vector<std::pair<Digest, FileInfo>> Repository::listManifestLinks() const {
  return listLinks([&](DigestAlgorithm a) { return layout::revisionsDir(name_, a); },
                   [&](const Digest& d) { return layout::revisionLink(name_, d); });
}

std::optional<FileInfo> Repository::statManifest(const Digest& digest) const {
  return driver_->statFile(layout::revisionLink(name_, digest));
}

void Repository::putTag(const Tag& tag, const Digest& manifest) {
  if (!hasManifest(manifest)) {
    throw Error(ErrorKind::kManifestUnknown,
                "manifest unknown: " + name_.str() + "@" + manifest.str());
  }
  writeLink(layout::tagIndexLink(name_, tag, manifest), manifest);
  writeLink(layout::tagCurrentLink(name_, tag), manifest);
}

std::optional<Digest> Repository::resolveTag(const Tag& tag) const {
  return readLink(layout::tagCurrentLink(name_, tag));
}

Digest Repository::manifestOf(const std::optional<Tag>& tag,
                              const std::optional<Digest>& digest) const {
  if (digest) return *digest;
  if (!tag) throw Error(ErrorKind::kManifestUnknown, "manifest unknown: no tag or digest given");
  if (auto d = resolveTag(*tag)) return *d;
  if (!exists()) throw Error(ErrorKind::kNameUnknown, "repository name not known: " + name_.str());
  throw Error(ErrorKind::kManifestUnknown, "manifest unknown: " + name_.str() + ":" + tag->str());
}

std::optional<FileInfo> Repository::statTag(const Tag& tag) const {
  return driver_->statFile(layout::tagCurrentLink(name_, tag));
}

std::vector<Tag> Repository::listTags() const {
  std::vector<Tag> tags;
  for (auto& [tag, manifest] : resolveTags()) tags.push_back(std::move(tag));
  return tags;
}

std::vector<std::pair<Tag, Digest>> Repository::resolveTags() const {
  std::vector<std::pair<Tag, Digest>> tags;
  for (const std::string& name : driver_->list(layout::tagsDir(name_))) {
    auto tag = Tag::tryParse(name);
    if (!tag) continue;
    if (auto manifest = resolveTag(*tag)) tags.emplace_back(std::move(*tag), *manifest);
  }
  return tags;
}

std::vector<std::pair<Tag, FileInfo>> Repository::listTagLinks() const {
  std::vector<std::pair<Tag, FileInfo>> tags;
  for (const std::string& name : driver_->list(layout::tagsDir(name_))) {
    // putTag writes the index link before the current link, so a crash in between leaves
    // a tag directory without a current link: a tag that points at nothing is no tag.
    auto tag = Tag::tryParse(name);
    if (!tag) continue;
    if (auto link = driver_->statFile(layout::tagCurrentLink(name_, *tag)))
      tags.emplace_back(std::move(*tag), *link);
  }
  return tags;
}

std::vector<Tag> Repository::tagsFor(const Digest& manifest) const {
  std::vector<Tag> out;
  for (auto& [tag, target] : resolveTags()) {
    if (target == manifest) out.push_back(std::move(tag));
  }
  return out;
}

bool Repository::deleteTag(const Tag& tag) {
  std::string dir = layout::tagDir(name_, tag);
  if (!driver_->stat(dir)) return false;
  driver_->remove(dir);
  return true;
}

std::string Repository::startUpload() {
  std::string uuid = newUploadId();
  try {
    driver_->openAppend(layout::uploadData(name_, uuid));
    driver_->writeAtomic(layout::uploadStartedAt(name_, uuid), rfc3339Now());
  } catch (const Error&) {
    // A session that could not be started leaves no torn directory behind; if even the
    // removal fails, the first error is the one to report (fsck finds the rest).
    try {
      driver_->remove(layout::uploadDir(name_, uuid));
    } catch (const Error& e) {
      spdlog::warn("upload {} could not be started, nor its directory removed: {}", uuid, e.what());
    }
    throw;
  }
  return uuid;
}

std::optional<UploadInfo> Repository::statUpload(std::string_view uuid) const {
  if (!layout::isValidUploadId(uuid)) return std::nullopt;
  auto data = driver_->stat(layout::uploadData(name_, uuid));
  if (!data || data->isDirectory) return std::nullopt;
  std::string startedAt;
  try {
    startedAt = driver_->read(layout::uploadStartedAt(name_, uuid));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
    throw;
  }
  return UploadInfo{std::string(uuid), data->size, std::move(startedAt)};
}

UploadHold::UploadHold(std::shared_ptr<StorageDriver> driver, std::string path,
                       std::string_view uuid)
    : driver_(std::move(driver)) {
  // Unique bytes, so that a request retried by the driver recognises its own creation.
  if (!driver_->createExclusive(path, newUploadId())) {
    throw Error(
        ErrorKind::kRangeInvalid,
        "upload " + std::string(uuid) + " is being written by another request; one at a time");
  }
  path_ = std::move(path);
}

namespace {

// Where no exception may leave (a destructor, a move): a hold that stays is logged; the
// session then stays held, as after a crash.
void releaseOrWarn(UploadHold& hold) noexcept {
  try {
    hold.release();
  } catch (const Error& e) {
    spdlog::warn("an upload session stays held: {}", e.what());
  }
}

}  // namespace

UploadHold& UploadHold::operator=(UploadHold&& other) noexcept {
  if (this != &other) {
    releaseOrWarn(*this);
    driver_ = std::move(other.driver_);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

UploadHold::~UploadHold() { releaseOrWarn(*this); }

void UploadHold::release() {
  if (path_.empty()) return;
  std::string path = std::exchange(path_, {});
  driver_->remove(path);
}

UploadWriter Repository::openUpload(std::string_view uuid, std::optional<uint64_t> expectedOffset) {
  if (!layout::isValidUploadId(uuid)) {
    throw Error(ErrorKind::kBlobUploadUnknown, "blob upload unknown: " + std::string(uuid));
  }
  // The hold first: what is read of the session after it stays true until it is released.
  UploadHold hold = [&] {
    try {
      return UploadHold(driver_, layout::uploadWriter(name_, uuid), uuid);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
      throw Error(ErrorKind::kBlobUploadUnknown, "blob upload unknown: " + std::string(uuid));
    }
  }();
  auto info = statUpload(uuid);
  if (!info)
    throw Error(ErrorKind::kBlobUploadUnknown, "blob upload unknown: " + std::string(uuid));
  UploadWriter writer(driver_->openAppend(layout::uploadData(name_, uuid)), std::move(hold));
  writer.requireOffset(uuid, expectedOffset);
  return writer;
}

void UploadWriter::requireOffset(std::string_view uuid, std::optional<uint64_t> offset) const {
  if (offset && *offset != size()) {
    throw Error(ErrorKind::kRangeInvalid,
                "upload " + std::string(uuid) + " holds " + std::to_string(size()) +
                    " bytes; a chunk must start there, not at " + std::to_string(*offset));
  }
}

BlobInfo Repository::commitUpload(std::string_view uuid, const Digest& expected,
                                  const std::optional<Digest>& computed) {
  UploadWriter writer = openUpload(uuid);
  BlobInfo blob = commitOpenUpload(uuid, writer, expected, computed);
  cancelUpload(uuid);
  writer.sessionRemoved();
  return blob;
}

BlobInfo Repository::commitOpenUpload(std::string_view uuid, UploadWriter& writer,
                                      const Digest& expected,
                                      const std::optional<Digest>& computed) {
  std::string data = layout::uploadData(name_, uuid);
  // Everything written becomes one complete, durable file (on S3: the multipart upload
  // is completed into its object) before it is hashed or moved.
  writer.commit();
  uint64_t size = writer.size();
  Digest actual = computed ? *computed : [&] {
    Hasher hasher(expected.algorithm());
    for (uint64_t offset = 0; offset < size; offset += kHashChunk) {
      hasher.update(driver_->readRange(data, offset, kHashChunk));
    }
    return hasher.digest();
  }();
  if (actual != expected) {
    cancelUpload(uuid);
    writer.sessionRemoved();
    throw Error(ErrorKind::kDigestInvalid,
                "digest mismatch: content is " + actual.str() + ", expected " + expected.str());
  }
  Store store(driver_);
  if (!store.statBlob(expected)) {
    try {
      driver_->move(data, layout::blobData(expected));
    } catch (const Error& e) {
      // Not found: the session was removed under the commit (a purge), or the storage
      // cannot make the blob's path, which is its failure and no missing resource.
      if (e.kind() != ErrorKind::kNotFound) throw;
      if (driver_->stat(data)) throw Error(ErrorKind::kIo, e.what());
      throw Error(ErrorKind::kBlobUploadUnknown,
                  "blob upload " + std::string(uuid) + " was removed during its commit");
    }
  }
  linkLayer(expected);
  auto blob = store.statBlob(expected);
  if (!blob) throw Error(ErrorKind::kIo, "blob vanished after commit: " + expected.str());
  return *blob;
}

UniqueFd Repository::openLocalUpload(std::string_view uuid) const {
  if (!layout::isValidUploadId(uuid)) return UniqueFd();
  return driver_->openLocal(layout::uploadData(name_, uuid));
}

void Repository::cancelUpload(std::string_view uuid) {
  if (!layout::isValidUploadId(uuid)) return;
  driver_->remove(layout::uploadDir(name_, uuid));
}

std::vector<UploadInfo> Repository::listUploads() const {
  std::vector<UploadInfo> out;
  for (const std::string& uuid : driver_->list(layout::uploadsDir(name_))) {
    if (auto info = statUpload(uuid)) out.push_back(std::move(*info));
  }
  return out;
}

void Repository::addReferrer(const Digest& subject, const Digest& referrer) {
  writeLink(layout::referrerLink(name_, subject, referrer), referrer);
}

std::vector<Digest> Repository::listReferrers(const Digest& subject) const {
  std::vector<Digest> out;
  for (const Digest& d : listLinkedDigests(
           [&](DigestAlgorithm a) { return layout::referrersDir(name_, subject, a); },
           [&](const Digest& r) { return layout::referrerLink(name_, subject, r); })) {
    if (hasManifest(d)) out.push_back(d);
  }
  return out;
}

void Repository::recordMirrorTag(const Tag& tag) {
  driver_->writeAtomic(layout::mirrorTagRecord(name_, tag), rfc3339Now());
}

void Repository::recordMirrorFetch(MirrorRecord::Kind kind, const Digest& digest) {
  std::string path = kind == MirrorRecord::Kind::kManifest
                         ? layout::mirrorManifestRecord(name_, digest)
                         : layout::mirrorLayerRecord(name_, digest);
  driver_->writeAtomic(path, rfc3339Now());
}

std::optional<timespec> Repository::mirrorTagConfirmedAt(const Tag& tag) const {
  auto info = driver_->stat(layout::mirrorTagRecord(name_, tag));
  if (!info || info->isDirectory) return std::nullopt;
  return info->mtime;
}

std::vector<MirrorRecord> Repository::listMirrorRecords() const {
  const std::string root = layout::mirrorDir(name_) + "/";
  std::vector<MirrorRecord> out;
  for (const auto& [path, info] : driver_->listTree(layout::mirrorDir(name_))) {
    if (!path.starts_with(root)) continue;
    std::string_view rest = std::string_view(path).substr(root.size());
    MirrorRecord record;
    record.at = info.mtime;
    if (rest.starts_with("tags/")) {
      record.kind = MirrorRecord::Kind::kTag;
      record.tag = Tag::tryParse(rest.substr(5));
      if (!record.tag) continue;
    } else {
      size_t slash = rest.find('/');
      if (slash == rest.npos) continue;
      std::string_view kind = rest.substr(0, slash);
      if (kind != "manifests" && kind != "layers") continue;
      record.kind =
          kind == "manifests" ? MirrorRecord::Kind::kManifest : MirrorRecord::Kind::kLayer;
      std::string text(rest.substr(slash + 1));
      size_t sep = text.find('/');
      if (sep == text.npos) continue;
      text[sep] = ':';
      record.digest = Digest::tryParse(text);
      if (!record.digest) continue;
    }
    out.push_back(std::move(record));
  }
  return out;
}

void Repository::removeMirrorRecord(const MirrorRecord& record) {
  std::string path;
  switch (record.kind) {
    case MirrorRecord::Kind::kTag:
      path = layout::mirrorTagRecord(name_, *record.tag);
      break;
    case MirrorRecord::Kind::kManifest:
      path = layout::mirrorManifestRecord(name_, *record.digest);
      break;
    case MirrorRecord::Kind::kLayer:
      path = layout::mirrorLayerRecord(name_, *record.digest);
      break;
  }
  driver_->remove(path);
}

}  // namespace regfs
