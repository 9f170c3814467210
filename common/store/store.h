#pragma once
// Every operation on a store, over a StorageDriver and the paths of common/store/layout.h.
// Writes are atomic and ordered so that a crash at any instant never leaves a link to
// content that is missing: blob data before the link to it, manifest before its
// revision link, revision link before any tag that points at it.
//
// Errors are regfs::Error with the kind the registry API answers with
// (kBlobUnknown, kManifestUnknown, kDigestInvalid, kRangeInvalid, ...).

#include <time.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/digest.h"
#include "common/names.h"
#include "common/storage/driver.h"

namespace regfs {

struct BlobInfo {
  Digest digest;
  uint64_t size = 0;
  timespec mtime{};
};

struct UploadInfo {
  std::string uuid;
  uint64_t size = 0;      // bytes received so far
  std::string startedAt;  // RFC 3339 UTC, as written at start
};

class Repository;

// What a pull-through cache holds in a repository, from its records (layout::mirrorDir).
struct MirrorRecord {
  enum class Kind { kTag, kManifest, kLayer };
  Kind kind = Kind::kLayer;
  std::optional<Tag> tag;        // kTag
  std::optional<Digest> digest;  // kManifest, kLayer
  timespec at{};                 // confirmed (a tag) or fetched (the others)
};

// One request's exclusive hold on an upload session: the session's writer file, created
// exclusively (StorageDriver::createExclusive) and removed when the hold ends. A hold whose
// process died stays: the session can then no longer be written and is purged with age.
class UploadHold {
 public:
  UploadHold() = default;
  // Takes the hold on `path`; throws kRangeInvalid when another request has it.
  UploadHold(std::shared_ptr<StorageDriver> driver, std::string path, std::string_view uuid);
  UploadHold(UploadHold&& other) noexcept { *this = std::move(other); }
  UploadHold& operator=(UploadHold&& other) noexcept;
  ~UploadHold();  // release(); if that fails the session stays held, as after a crash
  // Lets the next request write the session.
  void release();
  // The session was removed, and the hold's file with it.
  void forget() { path_.clear(); }

 private:
  std::shared_ptr<StorageDriver> driver_;
  std::string path_;  // empty: not held
};

// Writes the next bytes of one upload session, holding it (UploadHold) until released or
// destroyed. Hashing is the caller's business (a caller that hashes the whole stream passes
// the digest to commitUpload).
class UploadWriter {
 public:
  explicit UploadWriter(std::unique_ptr<FileWriter> file, UploadHold hold = {})
      : hold_(std::move(hold)), file_(std::move(file)) {}
  void write(const void* data, size_t size) { file_->write(data, size); }
  void write(std::string_view data) { write(data.data(), data.size()); }
  uint64_t size() const { return file_->size(); }
  // Throws kRangeInvalid unless `offset` (when given) is where the upload `uuid` ends.
  void requireOffset(std::string_view uuid, std::optional<uint64_t> offset) const;
  bool writesBehind() const { return file_->writesBehind(); }
  void sync() { file_->sync(); }
  // Hands buffered bytes to storage; a request that wrote to an upload calls this before
  // it reports the upload's size.
  void flush() { file_->flush(); }
  // Makes everything written one complete file (FileWriter::commit); no writes follow.
  void commit() { file_->commit(); }
  // Ends the hold once everything written is in storage (flush): the next request may
  // write the session. No writes follow.
  void release() {
    file_->flush();
    hold_.release();
  }
  // The session was removed (cancelUpload), the hold with it.
  void sessionRemoved() { hold_.forget(); }

 private:
  UploadHold hold_;  // before file_: released after the file is closed and its parts stored
  std::unique_ptr<FileWriter> file_;
};

class Store {
 public:
  explicit Store(std::shared_ptr<StorageDriver> driver);
  // A store on the local file system at `rootdirectory`.
  static Store openLocal(const std::filesystem::path& rootdirectory);

  StorageDriver& driver() const { return *driver_; }
  const std::shared_ptr<StorageDriver>& driverPtr() const { return driver_; }

  // --- Blobs (global, content-addressed) ---
  std::optional<BlobInfo> statBlob(const Digest& digest) const;
  // The whole blob; for small blobs (manifests, configs). Throws kBlobUnknown.
  std::string readBlob(const Digest& digest) const;
  // Stores `bytes` under their digest; a no-op when the blob exists (its mtime stays).
  Digest putBlob(std::string_view bytes);
  // The local file holding the blob, for zero-copy reads; nullopt on remote storage.
  std::optional<std::filesystem::path> localBlobPath(const Digest& digest) const;
  // The blob's local file opened for reading (StorageDriver::openLocal: no symlink is
  // followed); throws kBlobUnknown when it is missing. An empty fd on remote storage.
  UniqueFd openLocalBlob(const Digest& digest) const;
  // Up to `length` bytes of the blob from `offset`, fewer at its end. Throws kBlobUnknown.
  std::string readBlobRange(const Digest& digest, uint64_t offset, uint64_t length) const;
  // Hands `length` bytes of the blob from `offset` to `sink` as they arrive, until `sink`
  // returns false (StorageDriver::readStream). Throws kBlobUnknown, or kIo midway.
  void streamBlob(const Digest& digest, uint64_t offset, uint64_t length,
                  const std::function<bool(std::string_view)>& sink) const;
  // A URL clients may fetch the blob from directly for a while (storage.redirect on S3);
  // nullopt: serve the bytes.
  std::optional<std::string> blobRedirectUrl(const Digest& digest) const;
  void deleteBlob(const Digest& digest);
  // Calls `fn` for every blob in the store (order unspecified).
  void forEachBlob(const std::function<void(const Digest&)>& fn) const;

  // --- Repositories ---
  // Up to `n` repository names after `last` (exclusive), in distribution's catalog
  // order (component-wise, see catalogLess). A directory is a repository iff it has
  // a child "_manifests". Subtrees entirely before `last` are not read.
  std::vector<std::string> catalog(size_t n, std::string_view last = {}) const;
  Repository repository(const RepoName& name) const;

 private:
  std::shared_ptr<StorageDriver> driver_;
};

class Repository {
 public:
  Repository(std::shared_ptr<StorageDriver> driver, RepoName name);
  const RepoName& name() const { return name_; }
  // A repository exists once it has a _manifests directory.
  bool exists() const;

  // --- Layer links: which blobs this repository may serve ---
  void linkLayer(const Digest& digest);
  bool hasLayer(const Digest& digest) const;
  // The blob, if this repository links it and it exists.
  std::optional<BlobInfo> statLayer(const Digest& digest) const;
  void unlinkLayer(const Digest& digest);
  std::vector<Digest> listLayers() const;

  // --- Manifests ---
  // Stores the manifest blob and links it as a revision. Callers validate first.
  Digest putManifest(std::string_view bytes);
  bool hasManifest(const Digest& digest) const;
  // The exact bytes; throws kManifestUnknown when this repository has no such revision.
  std::string getManifest(const Digest& digest) const;
  // Removes the revision link and every tag that points at it; kManifestUnknown if absent.
  // Finding those tags reads every tag's link (tagsFor).
  void deleteManifest(const Digest& digest);
  // The same with the tags that point at it as the caller read them (from one resolveTags
  // for many deletes): those of `tags` that still point at it go, then the revision link.
  // A tag moved onto the manifest after the caller's reading is not seen.
  void deleteManifest(const Digest& digest, const std::vector<Tag>& tags);
  std::vector<Digest> listManifests() const;
  // listManifests with each revision link's metadata, from the same pass (its mtime is when
  // the manifest was pushed to this repository).
  std::vector<std::pair<Digest, FileInfo>> listManifestLinks() const;
  // The revision link's metadata (its mtime is when the manifest was pushed here).
  std::optional<FileInfo> statManifest(const Digest& digest) const;

  // --- Tags ---
  // Points `tag` at a manifest, which must already be a revision here.
  void putTag(const Tag& tag, const Digest& manifest);
  std::optional<Digest> resolveTag(const Tag& tag) const;
  // The manifest a reference names, by `tag` or by `digest` (one of them set): what the tag
  // points at, or the digest as is (getManifest says whether this repository holds it). A
  // tag that points nowhere throws Error(kManifestUnknown), or Error(kNameUnknown) when the
  // repository does not exist, as distribution answers.
  Digest manifestOf(const std::optional<Tag>& tag, const std::optional<Digest>& digest) const;
  // The tag's current link metadata (its mtime is when the tag last moved).
  std::optional<FileInfo> statTag(const Tag& tag) const;
  // Tags in bytewise order: those whose current link holds a digest (a crash inside putTag
  // can leave a tag directory without one; a damaged link names nothing either). One read
  // per tag, as many requests as a stat on object storage.
  std::vector<Tag> listTags() const;
  // listTags with each tag's current link metadata, from the same pass (the view polls
  // these mtimes to see which tags moved without reading every link).
  std::vector<std::pair<Tag, FileInfo>> listTagLinks() const;
  // Every tag listTags() names, with the manifest it points at, from the same pass.
  std::vector<std::pair<Tag, Digest>> resolveTags() const;
  std::vector<Tag> tagsFor(const Digest& manifest) const;
  // Removes the tag; false if it did not exist.
  bool deleteTag(const Tag& tag);

  // --- Uploads: kept in the store, so any process on the same root can continue one ---
  // One request writes a session at a time, across threads, processes and hosts: opening
  // it takes a hold that only one can have (an exclusive create, the one atomic step that
  // local disks, CephFS and S3 all offer; S3 has no rename or lock), and a second writer is
  // refused before it writes a byte. So the bytes a commit hashes are the bytes it moves.
  std::string startUpload();
  std::optional<UploadInfo> statUpload(std::string_view uuid) const;
  // Opens the upload for appending, holding it until the writer is released or destroyed.
  // Throws kRangeInvalid when another request holds it, or, with `expectedOffset`, unless
  // the upload holds exactly that many bytes; kBlobUploadUnknown for an unknown uuid.
  UploadWriter openUpload(std::string_view uuid, std::optional<uint64_t> expectedOffset = {});
  // Verifies the upload's content against `expected` (hashing the data unless the caller
  // passes the digest it computed over all of it), moves it into the blob store, links it
  // as a layer and removes the session. A mismatch removes the session and throws
  // kDigestInvalid.
  BlobInfo commitUpload(std::string_view uuid, const Digest& expected,
                        const std::optional<Digest>& computed = std::nullopt);
  // The same for a session the caller holds open (from openUpload), without looking it up
  // and opening it again, and leaving a committed session for the caller to remove
  // (cancelUpload), which it may do after answering: the blob is in place and linked
  // either way. A mismatch removes the session as above. `writer` takes no more writes but
  // stays open: when the store already held the blob, the session's copy is still there,
  // and a caller that removes the session while the writer is open and closes it later
  // frees that copy's space (slow for a large blob) at the close, not at the removal.
  BlobInfo commitOpenUpload(std::string_view uuid, UploadWriter& writer, const Digest& expected,
                            const std::optional<Digest>& computed);
  void cancelUpload(std::string_view uuid);
  // The upload's data file opened for reading, to follow it as it grows (the pull-through
  // cache); an empty fd on remote storage or when it is gone.
  UniqueFd openLocalUpload(std::string_view uuid) const;
  std::vector<UploadInfo> listUploads() const;

  // --- Referrers (regfs metadata under _referrers, ignored by distribution) ---
  void addReferrer(const Digest& subject, const Digest& referrer);
  // Referrers of `subject` that are still revisions here.
  std::vector<Digest> listReferrers(const Digest& subject) const;

  // --- Pull-through cache records (regfs metadata under _regfs_mirror, api/mirror) ---
  // Written after what they record is in place, so a crash leaves at worst an item without
  // a record, which expiry never removes and the next fetch records.
  void recordMirrorTag(const Tag& tag);  // the upstream confirmed the tag now
  void recordMirrorFetch(MirrorRecord::Kind kind, const Digest& digest);  // fetched now
  // When the upstream last confirmed `tag`; nullopt when never.
  std::optional<timespec> mirrorTagConfirmedAt(const Tag& tag) const;
  // Every record, in no particular order (one listing of the directory tree).
  std::vector<MirrorRecord> listMirrorRecords() const;
  void removeMirrorRecord(const MirrorRecord& record);

 private:
  std::optional<Digest> readLink(const std::string& path) const;
  void writeLink(const std::string& path, const Digest& digest);
  std::vector<Digest> listLinkedDigests(
      const std::function<std::string(DigestAlgorithm)>& dirFor,
      const std::function<std::string(const Digest&)>& linkFor) const;
  std::vector<std::pair<Digest, FileInfo>> listLinks(
      const std::function<std::string(DigestAlgorithm)>& dirFor,
      const std::function<std::string(const Digest&)>& linkFor) const;

  std::shared_ptr<StorageDriver> driver_;
  RepoName name_;
};

}  // namespace regfs
