#pragma once
// The on-disk format, in one place: distribution's storage layout, byte for byte.
// Every path here is a storage-driver path ("/docker/registry/v2/..."), relative to
// the store's rootdirectory. Nothing else in regfs composes a store path.
//
//   blobs/<alg>/<hh>/<hex>/data                                    every blob, manifests included
//   repositories/<name>/_layers/<alg>/<hex>/link                   the repository may read this
//   blob repositories/<name>/_manifests/revisions/<alg>/<hex>/link      the manifest belongs to it
//   repositories/<name>/_manifests/tags/<tag>/current/link         tag -> manifest
//   repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link   tag history
//   repositories/<name>/_uploads/<uuid>/{data,startedat}           uploads in progress
//   repositories/<name>/_uploads/<uuid>/_regfs_writer              regfs only: a request writes it
//   repositories/<name>/_referrers/<alg>/<hex>/<alg>/<hex>/link    regfs only: subject -> referrer
//   repositories/<name>/_regfs_mirror/{tags/<tag>,manifests/<alg>/<hex>,layers/<alg>/<hex>}
//                                                  regfs only: what a pull-through cache fetched,
//                                                  when
//   repositories/<name>/_regfs_deleting                            regfs only: a delete's fence
//   _regfs_gc_lease                                                regfs only: scheduled GC's lease
//   _quarantine/<alg>/<hex>/data                                   regfs only: blobs being swept
//   _layer_index/<alg>/<hh>/<hex>/index                            regfs only: a layer's contents
//
// A link file holds exactly "<alg>:<hex>" with no newline; startedat is RFC 3339 UTC.
// A directory under repositories/ is a repository iff it has a child "_manifests";
// distribution skips every other "_"-prefixed directory, which is why regfs keeps its
// own metadata (referrers) under one.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/names.h"

namespace regfs::layout {

inline constexpr std::string_view kManifestsDir = "_manifests";
inline constexpr std::string_view kLayersDir = "_layers";
inline constexpr std::string_view kUploadsDir = "_uploads";
inline constexpr std::string_view kReferrersDir = "_referrers";     // regfs only
inline constexpr std::string_view kQuarantineDir = "_quarantine";   // regfs only
inline constexpr std::string_view kLayerIndexDir = "_layer_index";  // regfs only
inline constexpr std::string_view kMirrorDir = "_regfs_mirror";     // regfs only
inline constexpr std::string_view kLinkFile = "link";
inline constexpr std::string_view kDataFile = "data";

std::string v2Root();                                     // /docker/registry/v2
std::string blobsRoot();                                  // .../blobs
std::string blobAlgorithmDir(DigestAlgorithm algorithm);  // .../blobs/sha256
std::string blobPrefixDir(DigestAlgorithm algorithm,
                          std::string_view prefix);  // .../blobs/sha256/<hh>
std::string blobDir(const Digest& digest);           // .../blobs/sha256/<hh>/<hex>
std::string blobData(const Digest& digest);          // .../blobs/sha256/<hh>/<hex>/data

// A file the health check writes and removes again to prove the store is writable;
// distribution ignores anything in v2Root() but blobs/ and repositories/.
std::string healthProbeFile();                     // /docker/registry/v2/_regfs_health
std::string repositoriesRoot();                    // .../repositories
std::string repositoryDir(std::string_view name);  // .../repositories/<name>
std::string repositoryDir(const RepoName& repo);
std::string manifestsDir(const RepoName& repo);  // <repo>/_manifests

// Where a driver path lies below repositories/: the directory names before the first one
// that starts with '_' (a repository's name, or a namespace's when nothing follows), and the
// rest. ".../repositories/a/b/_manifests/tags/x" -> {"a/b", "_manifests/tags/x"},
// ".../repositories/a" -> {"a", ""}; nullopt for a path outside repositories/ or for the
// directory itself. The name is not validated.
struct PathInRepositories {
  std::string name;
  std::string rest;
};
std::optional<PathInRepositories> splitRepositoryPath(std::string_view path);

std::string layersDir(const RepoName& repo, DigestAlgorithm algorithm);
std::string layerLink(const RepoName& repo, const Digest& digest);
std::string revisionsDir(const RepoName& repo, DigestAlgorithm algorithm);
std::string revisionLink(const RepoName& repo, const Digest& digest);

std::string tagsDir(const RepoName& repo);
std::string tagDir(const RepoName& repo, const Tag& tag);
std::string tagCurrentLink(const RepoName& repo, const Tag& tag);
std::string tagIndexDir(const RepoName& repo, const Tag& tag,
                        DigestAlgorithm algorithm);  // <tag>/index/<alg>
std::string tagIndexLink(const RepoName& repo, const Tag& tag, const Digest& digest);

std::string uploadsDir(const RepoName& repo);
std::string uploadDir(const RepoName& repo, std::string_view uuid);
std::string uploadData(const RepoName& repo, std::string_view uuid);
std::string uploadStartedAt(const RepoName& repo, std::string_view uuid);
// regfs only: present while a request writes the session (Repository::openUpload);
// distribution reads only data and startedat of an upload.
std::string uploadWriter(const RepoName& repo, std::string_view uuid);  // <uuid>/_regfs_writer

std::string referrersDir(const RepoName& repo, const Digest& subject, DigestAlgorithm algorithm);
std::string referrerLink(const RepoName& repo, const Digest& subject, const Digest& referrer);

// regfs only: the records of a pull-through cache (api/mirror), one small file per item it
// holds, whose mtime says when: for a tag, when the upstream last confirmed what it points
// at; for a manifest revision or a layer link, when it was fetched. The file holds that time
// in RFC 3339 UTC for people. Expiry (proxy.ttl) removes what they name.
std::string mirrorDir(const RepoName& repo);                        // <repo>/_regfs_mirror
std::string mirrorTagRecord(const RepoName& repo, const Tag& tag);  // .../tags/<tag>
std::string mirrorManifestRecord(const RepoName& repo,
                                 const Digest& digest);  // .../manifests/<alg>/<hex>
std::string mirrorLayerRecord(const RepoName& repo,
                              const Digest& digest);  // .../layers/<alg>/<hex>
// regfs only: stands while the repository is being deleted (common/store/repository_delete.h);
// a lease record (common/store/lease.h). The repository's directories are named one by one
// (manifestsDir, uploadsDir, ...) for the delete; these are the rest of its own.
std::string repositoryDeleteFence(const RepoName& repo);   // <repo>/_regfs_deleting
std::string repositoryLayersDir(const RepoName& repo);     // <repo>/_layers
std::string repositoryReferrersDir(const RepoName& repo);  // <repo>/_referrers

// regfs only: the lease that lets one server of those sharing the store run the scheduled
// garbage collection (api/ops/scheduled_gc.h); a lease record (common/store/lease.h).
std::string gcLease();  // /docker/registry/v2/_regfs_gc_lease

// regfs only: where garbage collection parks a blob directory between sweeping it and
// removing it (common/maintenance/gc.h). distribution walks only blobs/ and repositories/.
std::string quarantineDir();                                    // .../_quarantine
std::string quarantineAlgorithmDir(DigestAlgorithm algorithm);  // .../_quarantine/<alg>
std::string quarantineEntry(const Digest& digest);              // .../_quarantine/<alg>/<hex>
std::string quarantineData(const Digest& digest);               // .../_quarantine/<alg>/<hex>/data

// regfs only: the index of a layer blob's contents (common/layers/layer_index.h), kept beside
// the blobs the way blobs/ keeps them; garbage collection removes it with its blob.
std::string layerIndexRoot();                                   // .../_layer_index
std::string layerIndexAlgorithmDir(DigestAlgorithm algorithm);  // .../_layer_index/<alg>
std::string layerIndexDir(const Digest& digest);                // .../<alg>/<hh>/<hex>
std::string layerIndexFile(const Digest& digest);               // .../<alg>/<hh>/<hex>/index

// True for an upload id regfs or distribution could have made: 1-128 of [A-Za-z0-9-],
// which keeps it a single safe path component.
bool isValidUploadId(std::string_view uuid);

// The digest named by a "<alg>/<hex>" pair of directory names, as listed under _layers,
// revisions, tag index and _referrers directories; nullopt for anything else.
std::optional<Digest> digestFromDirNames(DigestAlgorithm algorithm, std::string_view hex);

// What a file of the store is, read from its path alone, for walks that list the whole
// store in one pass (common/store/walk.h). Files under repositories/<name>/_manifests, _layers
// or _uploads belong to repository <name>; the links among them name their digest (and
// tag); a blob's or a quarantined blob's data file, and a layer index, names its digest.
struct StoreFile {
  enum class Kind {
    kOther,
    kBlobData,
    kQuarantinedData,
    kLayerIndex,
    kRepositoryData,  // any other file of a repository (uploads, unknown files)
    kLayerLink,
    kRevisionLink,
    kTagCurrentLink,
    kTagIndexLink,
  };
  Kind kind = Kind::kOther;
  std::optional<RepoName> repository;
  std::optional<Digest> digest;
  std::optional<Tag> tag;
};
StoreFile classifyFile(std::string_view path);

}  // namespace regfs::layout
