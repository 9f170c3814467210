#include "common/maintenance/fsck.h"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "common/error.h"
#include "common/layers/layer_index.h"
#include "common/maintenance/gc.h"
#include "common/maintenance/purge.h"
#include "common/manifest.h"
#include "common/store/layout.h"
#include "common/store/walk.h"

namespace regfs {
namespace {

constexpr uint64_t kHashChunk = 4 << 20;

std::string algDir(DigestAlgorithm a) { return std::string(digestAlgorithmName(a)); }

// True for what a link being written by distribution shows for a moment: it truncates the
// file and then writes the digest, so a reader may see nothing or the digest's beginning.
bool mayBeUnfinishedWrite(std::string_view content) {
  for (DigestAlgorithm a : kDigestAlgorithms) {
    std::string whole = algDir(a) + ":" + std::string(Digest::of("", a).hex().size(), 'f');
    if (content.size() >= whole.size()) continue;
    size_t colon = algDir(a).size();
    std::string_view head = content.substr(0, std::min(content.size(), colon + 1));
    std::string_view hex = content.size() > colon ? content.substr(colon + 1) : std::string_view();
    if (whole.starts_with(head) && std::all_of(hex.begin(), hex.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        })) {
      return true;
    }
  }
  return false;
}

// A link's content for a one-line message: quoted, at most 80 bytes, other than printable
// ASCII escaped.
std::string quoteContent(std::string_view content) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : content.substr(0, 80)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (content.size() > 80) out += "...";
  return out + "\"";
}

class Checker {
 public:
  Checker(Store& store, const FsckOptions& options)
      : store_(store),
        driver_(store.driver()),
        options_(options),
        cutoff_(std::chrono::system_clock::now() - options.grace) {}

  FsckResult run() {
    checkQuarantine();
    checkBlobs();
    for (const RepoName& name : listRepositoryDirs(driver_)) {
      ++result_.repositories;
      checkRepository(name);
    }
    checkLayerIndexes();
    checkFiles();
    return std::move(result_);
  }

 private:
  // Settled: older than the grace, so no writer in progress can still finish it.
  bool settled(const std::string& path) const {
    auto info = driver_.stat(path);
    return info && toTimePoint(info->mtime) < cutoff_;
  }

  FsckProblem& report(FsckProblemKind kind, std::string path, std::string detail) {
    result_.problems.push_back({kind, std::move(path), std::move(detail), false});
    return result_.problems.back();
  }

  // Removes `path` (a file or directory) when repairing; marks the problem repaired.
  void repairByRemoving(FsckProblem& p, const std::string& path) {
    if (!options_.repair) return;
    driver_.remove(path);
    p.repaired = true;
  }

  void checkQuarantine() {
    size_t parked = 0;
    for (DigestAlgorithm a : kDigestAlgorithms) {
      for (const std::string& hex : driver_.list(layout::quarantineAlgorithmDir(a))) {
        if (auto d = layout::digestFromDirNames(a, hex)) {
          report(FsckProblemKind::kQuarantined, layout::quarantineEntry(*d),
                 d->str() + " left in quarantine by an interrupted garbage-collect");
          ++parked;
        }
      }
    }
    if (parked && options_.repair) {
      restoreQuarantine(store_);
      for (FsckProblem& p : result_.problems) p.repaired = true;
    }
  }

  void checkBlobs() {
    std::vector<Digest> digests;
    for (DigestAlgorithm a : kDigestAlgorithms) {
      std::string root = layout::blobAlgorithmDir(a);
      for (const std::string& prefix : driver_.list(root)) {
        for (const std::string& hex : driver_.list(layout::blobPrefixDir(a, prefix))) {
          auto d = layout::digestFromDirNames(a, hex);
          if (d && d->hex().substr(0, 2) == prefix) digests.push_back(*d);
        }
      }
    }
    uint64_t done = 0, bytes = 0;
    for (const Digest& d : digests) {
      std::string dir = layout::blobDir(d);
      std::string data = layout::blobData(d);
      auto info = driver_.stat(data);
      if (!info || info->isDirectory) {
        if (driver_.isSymlink(data)) continue;  // reported by checkFiles
        if (driver_.stat(dir) && settled(dir) && !store_.statBlob(d)) {
          auto& p = report(FsckProblemKind::kBlobWithoutData, dir, d.str() + ": no data file");
          repairByRemoving(p, dir);
        }
      } else {
        ++result_.blobs;
        result_.blobBytes += info->size;
        Hasher hasher(d.algorithm());
        std::optional<std::string> readError;
        for (uint64_t offset = 0; offset < info->size; offset += kHashChunk) {
          std::string chunk;
          try {
            chunk = driver_.readRange(data, offset, kHashChunk);
          } catch (const Error& e) {
            if (e.kind() != ErrorKind::kIo) throw;
            readError = e.what();
            break;
          }
          if (chunk.empty()) break;
          hasher.update(chunk);
          bytes += chunk.size();
          if (options_.progress) options_.progress({"hashing blobs", done, digests.size(), bytes});
        }
        if (readError) {
          // Not provably broken (the storage may recover), so repair leaves it alone.
          report(FsckProblemKind::kUnreadableBlob, data, *readError);
        } else if (Digest actual = hasher.digest(); actual != d) {
          corrupt_.insert(d);
          auto& p = report(FsckProblemKind::kCorruptBlob, data,
                           "content hashes to " + actual.str() + ", not " + d.str());
          repairByRemoving(p, dir);
        }
      }
      if (options_.progress) options_.progress({"hashing blobs", ++done, digests.size(), bytes});
    }
  }

  // A blob that exists, is not known corrupt, or is being swept by a garbage-collect right
  // now (which moves it back if anything links it).
  bool blobPresent(const Digest& d) const {
    if (corrupt_.count(d)) return false;
    return store_.statBlob(d) || isQuarantined(store_, d);
  }

  // Checks one link file; returns the digest when it is well-formed.
  std::optional<Digest> checkLink(const std::string& link, const Digest& expected,
                                  const std::string& removeOnRepair) {
    ++result_.links;
    std::string content;
    try {
      content = driver_.read(link);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
      throw;
    }
    if (content != expected.str()) {
      if (!Digest::tryParse(content)) {
        checkMalformedLink(link, content, removeOnRepair);
        return std::nullopt;
      }
      if (!settled(link)) return std::nullopt;
      auto& p = report(FsckProblemKind::kBadLink, link,
                       "holds \"" + content + "\", not " + expected.str());
      repairByRemoving(p, removeOnRepair);
      return std::nullopt;
    }
    return expected;
  }

  // A link holding no digest: distribution's readlink refuses it as regfs does, so whatever
  // it is for is broken. Only what a write in progress shows waits for the grace.
  void checkMalformedLink(const std::string& link, const std::string& content,
                          const std::string& removeOnRepair) {
    if (mayBeUnfinishedWrite(content) && !settled(link)) return;
    auto& p = report(
        FsckProblemKind::kMalformedLink, link,
        content.empty() ? "empty link file" : "holds " + quoteContent(content) + ", not a digest");
    repairByRemoving(p, removeOnRepair);
  }

  void checkRepository(const RepoName& name) {
    Repository repo = store_.repository(name);
    // Layer links.
    for (DigestAlgorithm a : kDigestAlgorithms) {
      for (const std::string& hex : driver_.list(layout::layersDir(name, a))) {
        auto d = layout::digestFromDirNames(a, hex);
        if (!d) continue;
        std::string link = layout::layerLink(name, *d);
        if (!checkLink(link, *d, parentPath(link))) continue;
        if (!blobPresent(*d)) {
          auto& p = report(FsckProblemKind::kDanglingLink, link,
                           name.str() + ": layer link to " +
                               (corrupt_.count(*d) ? "corrupt" : "missing") + " blob " + d->str());
          repairByRemoving(p, parentPath(link));
        }
      }
    }
    // Revisions, and what each manifest references.
    for (DigestAlgorithm a : kDigestAlgorithms) {
      for (const std::string& hex : driver_.list(layout::revisionsDir(name, a))) {
        auto d = layout::digestFromDirNames(a, hex);
        if (!d) continue;
        std::string link = layout::revisionLink(name, *d);
        if (!checkLink(link, *d, parentPath(link))) continue;
        if (!blobPresent(*d)) {
          auto& p = report(FsckProblemKind::kDanglingLink, link,
                           name.str() + "@" + d->str() + ": manifest blob is " +
                               (corrupt_.count(*d) ? "corrupt" : "missing"));
          repairByRemoving(p, parentPath(link));
          continue;
        }
        ++result_.manifests;
        checkManifest(repo, *d, link);
      }
    }
    checkTags(repo);
    checkUploads(repo);
  }

  void checkManifest(const Repository& repo, const Digest& d, const std::string& link) {
    const std::string& name = repo.name().str();
    std::optional<Manifest> manifest;
    auto info = store_.statBlob(d);
    if (!info) return;  // being swept right now
    if (info->size <= kMaxManifestBytes) {
      try {
        manifest = parseStoredManifest(store_.readBlob(d));
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kBlobUnknown) return;
        if (e.kind() == ErrorKind::kIo) return;  // reported as an unreadable blob
        report(FsckProblemKind::kInvalidManifest, link, name + "@" + d.str() + ": " + e.what());
        return;
      }
    } else {
      report(FsckProblemKind::kInvalidManifest, link,
             name + "@" + d.str() + ": too large for a manifest");
      return;
    }
    for (const Descriptor& ref : manifest->requiredBlobs()) {
      if (!blobPresent(ref.digest)) {
        report(FsckProblemKind::kMissingReference, link,
               name + "@" + d.str() + " references " +
                   (corrupt_.count(ref.digest) ? "corrupt" : "missing") + " blob " +
                   ref.digest.str());
      } else if (!repo.hasLayer(ref.digest)) {
        report(FsckProblemKind::kMissingReference, link,
               name + "@" + d.str() + " references blob " + ref.digest.str() +
                   ", which the repository does not link");
      }
    }
    for (const Descriptor& child : manifest->manifestReferences()) {
      if (!repo.hasManifest(child.digest) || !blobPresent(child.digest)) {
        report(FsckProblemKind::kMissingReference, link,
               name + "@" + d.str() + " references missing manifest " + child.digest.str());
      }
    }
  }

  void checkTags(const Repository& repo) {
    const RepoName& name = repo.name();
    for (const std::string& tagName : driver_.list(layout::tagsDir(name))) {
      auto tag = Tag::tryParse(tagName);
      if (!tag) continue;
      std::string dir = layout::tagDir(name, *tag);
      // History entries first: a malformed one is removed on its own.
      for (DigestAlgorithm a : kDigestAlgorithms) {
        std::string indexDir = layout::tagIndexDir(name, *tag, a);
        for (const std::string& hex : driver_.list(indexDir)) {
          auto d = layout::digestFromDirNames(a, hex);
          if (!d) continue;
          std::string link = layout::tagIndexLink(name, *tag, *d);
          checkLink(link, *d, parentPath(link));
        }
      }
      std::string current = layout::tagCurrentLink(name, *tag);
      ++result_.links;
      std::string content;
      try {
        content = driver_.read(current);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kNotFound) throw;
        if (settled(dir)) {
          auto& p = report(FsckProblemKind::kDanglingTag, dir,
                           name.str() + ":" + tagName + ": no current link");
          repairByRemoving(p, dir);
        }
        continue;
      }
      auto d = Digest::tryParse(content);
      if (!d) {
        checkMalformedLink(current, content, dir);
        continue;
      }
      if (!repo.hasManifest(*d) || !blobPresent(*d)) {
        auto& p = report(
            FsckProblemKind::kDanglingTag, current,
            name.str() + ":" + tagName + " names " + d->str() + ", which is not a manifest here");
        repairByRemoving(p, dir);
      }
    }
  }

  void checkUploads(Repository& repo) {
    const RepoName& name = repo.name();
    for (const std::string& uuid : driver_.list(layout::uploadsDir(name))) {
      ++result_.uploads;
      std::string dir = layout::uploadDir(name, uuid);
      auto info = repo.statUpload(uuid);
      std::string why;
      if (!layout::isValidUploadId(uuid)) {
        why = "not an upload id";
      } else if (!info) {
        why = driver_.stat(layout::uploadData(name, uuid)) ? "no startedat" : "no data";
      } else if (!parseRfc3339(info->startedAt)) {
        why = "startedat \"" + info->startedAt.substr(0, 40) + "\" is not a time";
      }
      if (why.empty() || !settled(dir)) continue;
      auto& p =
          report(FsckProblemKind::kTornUpload, dir, name.str() + ": upload " + uuid + ": " + why);
      repairByRemoving(p, dir);
    }
  }

  // Every layer index must be intact and belong to a blob of the store; a bad one would be
  // built again on its next use anyway, and repair removes it now.
  void checkLayerIndexes() {
    for (DigestAlgorithm a : kDigestAlgorithms) {
      const std::string root = layout::layerIndexAlgorithmDir(a);
      for (const std::string& prefix : driver_.list(root)) {
        for (const std::string& hex : driver_.list(root + "/" + prefix)) {
          auto d = layout::digestFromDirNames(a, hex);
          if (!d || d->hex().substr(0, 2) != prefix) continue;
          ++result_.layerIndexes;
          if (auto why = layerIndexProblem(*d)) {
            auto& p = report(FsckProblemKind::kBadLayerIndex, layout::layerIndexFile(*d),
                             d->str() + ": " + *why);
            repairByRemoving(p, layout::layerIndexDir(*d));
          }
        }
      }
    }
  }

  std::optional<std::string> layerIndexProblem(const Digest& d) {
    if (!store_.statBlob(d) && !isQuarantined(store_, d)) return "an index of a blob that is gone";
    try {
      layers::decodeIndex(driver_.read(layout::layerIndexFile(d)), d);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kNotFound) {
        // Its first write may be in progress (the temporary file is there, not yet renamed).
        if (!settled(layout::layerIndexDir(d))) return std::nullopt;
        return "an index directory without its index file";
      }
      if (e.kind() != ErrorKind::kInvalidArgument) throw;
      return std::string(e.what());
    }
    return std::nullopt;
  }

  // Temporary files of interrupted writes, and symlinks, anywhere in the store.
  void checkFiles() {
    auto symlink = [&](const std::string& path) {
      report(FsckProblemKind::kSymlink, path,
             "a symbolic link, which regfs does not follow: what it leads to is not in the store");
    };
    // A symlink on the way to v2Root() hides the whole store.
    const std::string v2 = layout::v2Root();
    for (size_t slash = v2.find('/', 1);; slash = v2.find('/', slash + 1)) {
      std::string dir = v2.substr(0, slash);
      if (driver_.isSymlink(dir)) {
        symlink(dir);
        return;
      }
      if (slash == std::string::npos) break;
    }
    auto tempFile = [&](const std::string& path) {
      std::string_view base = std::string_view(path).substr(path.rfind('/') + 1);
      if (base.substr(0, kAtomicTempPrefix.size()) != kAtomicTempPrefix || !settled(path)) return;
      auto& p = report(FsckProblemKind::kTempFile, path, "temporary file of an interrupted write");
      repairByRemoving(p, path);
    };
    forEachFile(driver_, v2, tempFile, symlink);
  }

  Store& store_;
  StorageDriver& driver_;
  const FsckOptions& options_;
  std::chrono::system_clock::time_point cutoff_;
  FsckResult result_;
  std::unordered_set<Digest> corrupt_;
};

}  // namespace

std::string_view fsckProblemName(FsckProblemKind kind) {
  switch (kind) {
    case FsckProblemKind::kCorruptBlob:
      return "corrupt-blob";
    case FsckProblemKind::kUnreadableBlob:
      return "unreadable-blob";
    case FsckProblemKind::kBlobWithoutData:
      return "blob-without-data";
    case FsckProblemKind::kBadLink:
      return "bad-link";
    case FsckProblemKind::kMalformedLink:
      return "malformed-link";
    case FsckProblemKind::kDanglingLink:
      return "dangling-link";
    case FsckProblemKind::kDanglingTag:
      return "dangling-tag";
    case FsckProblemKind::kInvalidManifest:
      return "invalid-manifest";
    case FsckProblemKind::kMissingReference:
      return "missing-reference";
    case FsckProblemKind::kTornUpload:
      return "torn-upload";
    case FsckProblemKind::kTempFile:
      return "temp-file";
    case FsckProblemKind::kQuarantined:
      return "quarantined";
    case FsckProblemKind::kBadLayerIndex:
      return "bad-layer-index";
    case FsckProblemKind::kSymlink:
      return "symlink";
  }
  return "unknown";
}

bool FsckResult::clean() const {
  for (const FsckProblem& p : problems) {
    if (!p.repaired) return false;
  }
  return true;
}

FsckResult checkStore(Store& store, const FsckOptions& options) {
  return Checker(store, options).run();
}

}  // namespace regfs
