#include "common/gc.h"

#include <algorithm>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/error.h"
#include "common/layout.h"
#include "common/manifest.h"
#include "common/walk.h"

namespace regfs {
namespace {

// What a stored manifest keeps alive, for marking.
struct ManifestReferences {
  std::vector<Digest> blobs;      // config and layers
  std::vector<Digest> manifests;  // an index's children
  std::optional<Digest> subject;  // OCI 1.1 referrers
};

std::optional<ManifestReferences> referencesOf(std::string_view bytes) {
  try {
    Manifest m = parseStoredManifest(bytes);
    ManifestReferences refs;
    for (const Descriptor& d : m.blobReferences()) refs.blobs.push_back(d.digest);
    for (const Descriptor& d : m.manifestReferences()) refs.manifests.push_back(d.digest);
    if (m.subject) refs.subject = m.subject->digest;
    return refs;
  } catch (const Error&) {
    return std::nullopt;
  }
}

constexpr DigestAlgorithm kAlgorithms[] = {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512};

std::chrono::system_clock::time_point toTimePoint(const timespec& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

// Moves a quarantined blob back. Moving the data file (not the directory) cannot collide
// with a writer that recreated the blob meanwhile: a rename over theirs swaps in the same
// content.
void unpark(Store& store, const Digest& d) {
  StorageDriver& driver = store.driver();
  std::string parked = layout::quarantineEntry(d);
  std::string data = parked + "/" + std::string(layout::kDataFile);
  if (!store.statBlob(d) && driver.stat(data)) driver.move(data, layout::blobData(d));
  driver.remove(parked);
}

// The mark phase, repeatable: re-marking only visits what is new.
class Marker {
 public:
  Marker(const Store& store, bool deleteUntagged, const ProgressFn& progress)
      : store_(store), driver_(store.driver()), deleteUntagged_(deleteUntagged), progress_(progress) {}

  StoreMarks& marks() { return marks_; }

  void markAll() {
    std::vector<RepoName> names = listRepositoryDirs(driver_);
    uint64_t done = 0;
    for (const RepoName& name : names) {
      markRepository(stateFor(name));
      if (progress_) progress_({"marking", ++done, names.size(), 0});
    }
  }

  void markRepository(RepositoryMarks& repo) {
    Repository r = store_.repository(repo.name);
    std::vector<Digest> revisions = r.listManifests();
    repo.revisions.insert(revisions.begin(), revisions.end());
    std::set<Digest> tagged;
    std::vector<Tag> tags = r.listTags();
    repo.tags = tags.size();
    for (const Tag& tag : tags) {
      if (auto d = r.resolveTag(tag)) tagged.insert(*d);
    }
    for (const Digest& d : revisions) {
      if (!deleteUntagged_ || tagged.count(d)) markFrom(repo, d);
    }
    if (!deleteUntagged_) return;
    // Referrers (signatures, SBOMs) of a kept manifest are kept with it.
    for (bool changed = true; changed;) {
      changed = false;
      for (const Digest& d : revisions) {
        if (repo.kept.count(d)) continue;
        const Parsed& p = parsed(d);
        if (p.refs && p.refs->subject && repo.kept.count(*p.refs->subject)) {
          markFrom(repo, d);
          changed = true;
        }
      }
    }
  }

  // Marks `root` and everything it reaches as kept in `repo`.
  void markFrom(RepositoryMarks& repo, const Digest& root) {
    std::vector<Digest> stack{root};
    while (!stack.empty()) {
      Digest d = stack.back();
      stack.pop_back();
      if (!repo.kept.insert(d).second) continue;
      mark(repo, d);
      const Parsed& p = parsed(d);
      if (!p.present) {
        marks_.warnings.push_back(repo.name.str() + "@" + d.str() + ": manifest blob is missing");
        continue;
      }
      if (!p.refs) {
        throw Error(ErrorKind::kManifestInvalid,
                    repo.name.str() + "@" + d.str() +
                        " is not a manifest regfs can read; refusing to sweep (see fsck)");
      }
      for (const Digest& b : p.refs->blobs) mark(repo, b);
      for (const Digest& m : p.refs->manifests) stack.push_back(m);
    }
  }

  RepositoryMarks& stateFor(const RepoName& name) {
    auto it = index_.find(name.str());
    if (it != index_.end()) return marks_.repositories[it->second];
    index_.emplace(name.str(), marks_.repositories.size());
    marks_.repositories.push_back(RepositoryMarks{name, {}, 0, {}, {}});
    return marks_.repositories.back();
  }

 private:
  struct Parsed {
    bool present = false;
    std::optional<ManifestReferences> refs;
  };

  void mark(RepositoryMarks& repo, const Digest& d) {
    repo.blobs.insert(d);
    marks_.marked.insert(d);
  }

  // A manifest's bytes, also while a concurrent collection has it in quarantine.
  std::optional<std::string> readManifest(const Digest& d) {
    for (const std::string& path :
         {layout::blobData(d), layout::quarantineEntry(d) + "/" + std::string(layout::kDataFile)}) {
      auto info = driver_.stat(path);
      if (!info || info->isDirectory) continue;
      // Nothing over the push limit was stored as a manifest; do not read a layer whole.
      if (info->size > kMaxManifestBytes) return std::string();
      try {
        return driver_.read(path);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kNotFound) throw;
      }
    }
    return std::nullopt;
  }

  const Parsed& parsed(const Digest& d) {
    auto it = cache_.find(d);
    if (it != cache_.end()) return it->second;
    Parsed p;
    if (auto bytes = readManifest(d)) {
      p.present = true;
      p.refs = referencesOf(*bytes);
    }
    return cache_.emplace(d, std::move(p)).first->second;
  }

  const Store& store_;
  const StorageDriver& driver_;
  bool deleteUntagged_;
  const ProgressFn& progress_;
  StoreMarks marks_;
  std::map<std::string, size_t> index_;
  std::unordered_map<Digest, Parsed> cache_;
};

class Collector {
 public:
  Collector(Store& store, const GcOptions& options)
      : store_(store),
        driver_(store.driver()),
        options_(options),
        cutoff_(std::chrono::system_clock::now() - options.grace),
        marker_(store, options.deleteUntagged, options.progress) {}

  GcResult run() {
    if (!options_.dryRun) result_.recovered = restoreQuarantine(store_);
    marker_.markAll();
    if (options_.deleteUntagged) sweepUntaggedRevisions();
    remark();
    std::vector<GcBlob> candidates = findUnmarkedBlobs();
    if (options_.dryRun) {
      for (const GcBlob& b : candidates) swept_.insert(b.digest);
      result_.blobs = candidates;
    } else {
      sweepBlobs(candidates);
    }
    sweepLayerLinks();
    summarize();
    return std::move(result_);
  }

 private:
  bool young(const timespec& mtime) const { return toTimePoint(mtime) >= cutoff_; }

  void sweepUntaggedRevisions() {
    for (RepositoryMarks& repo : marker_.marks().repositories) {
      Repository r = store_.repository(repo.name);
      for (const Digest& d : repo.revisions) {
        if (repo.kept.count(d)) continue;
        auto link = driver_.stat(layout::revisionLink(repo.name, d));
        if (!link) continue;  // deleted meanwhile
        if (young(link->mtime)) {
          result_.youngManifests.push_back({repo.name.str(), d});
          marker_.markFrom(repo, d);
          continue;
        }
        // A tag may have moved onto it since the mark.
        std::vector<Tag> tags = r.listTags();
        if (std::any_of(tags.begin(), tags.end(), [&](const Tag& t) { return r.resolveTag(t) == d; })) {
          marker_.markFrom(repo, d);
          continue;
        }
        result_.manifests.push_back({repo.name.str(), d});
        removed_[repo.name.str()].insert(d);
        if (options_.dryRun) continue;
        for (const Tag& tag : tags) {
          driver_.remove(layout::parentPath(layout::tagIndexLink(repo.name, tag, d)));
        }
        driver_.remove(layout::parentPath(layout::revisionLink(repo.name, d)));
      }
    }
  }

  // Marks what appeared since the mark: new repositories and revisions, and revisions we
  // removed that a tag names again (those links are restored).
  void remark() {
    for (const RepoName& name : listRepositoryDirs(driver_)) {
      RepositoryMarks& repo = marker_.stateFor(name);
      Repository r = store_.repository(name);
      std::set<Digest>& removed = removed_[name.str()];
      if (!removed.empty() && !options_.dryRun) {
        for (const Tag& tag : r.listTags()) {
          auto d = r.resolveTag(tag);
          if (!d || !removed.count(*d)) continue;
          driver_.writeAtomic(layout::revisionLink(name, *d), d->str());
          removed.erase(*d);
          std::erase_if(result_.manifests, [&](const GcManifest& m) {
            return m.repository == name.str() && m.digest == *d;
          });
        }
      }
      for (const Digest& d : r.listManifests()) {
        repo.revisions.insert(d);
        if (!repo.kept.count(d) && !removed.count(d)) marker_.markFrom(repo, d);
      }
    }
  }

  bool hasYoungLayerLink(const Digest& d, const std::vector<RepoName>& repos) const {
    for (const RepoName& name : repos) {
      auto link = driver_.stat(layout::layerLink(name, d));
      if (link && young(link->mtime)) return true;
    }
    return false;
  }

  std::vector<GcBlob> findUnmarkedBlobs() {
    std::vector<Digest> unmarked;
    store_.forEachBlob([&](const Digest& d) {
      ++result_.blobsSeen;
      if (!marker_.marks().marked.count(d)) unmarked.push_back(d);
    });
    std::vector<RepoName> repos = listRepositoryDirs(driver_);
    std::vector<GcBlob> candidates;
    uint64_t done = 0;
    for (const Digest& d : unmarked) {
      if (options_.progress) options_.progress({"checking unreferenced blobs", ++done, unmarked.size(), 0});
      auto info = store_.statBlob(d);
      if (!info) continue;
      if (young(info->mtime) || hasYoungLayerLink(d, repos)) {
        result_.youngBlobs.push_back({d, info->size});
        continue;
      }
      candidates.push_back({d, info->size});
    }
    return candidates;
  }

  void sweepBlobs(const std::vector<GcBlob>& candidates) {
    std::vector<GcBlob> quarantined;
    uint64_t done = 0;
    for (const GcBlob& b : candidates) {
      if (options_.progress) options_.progress({"sweeping", ++done, candidates.size(), 0});
      if (!driver_.stat(layout::blobDir(b.digest))) continue;
      try {
        driver_.move(layout::blobDir(b.digest), layout::quarantineEntry(b.digest));
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kNotFound) continue;  // removed meanwhile
        throw;
      }
      quarantined.push_back(b);
    }
    if (quarantined.empty()) return;
    std::this_thread::sleep_for(options_.settle);
    remark();
    std::vector<RepoName> repos = listRepositoryDirs(driver_);
    for (const GcBlob& b : quarantined) {
      std::string parked = layout::quarantineEntry(b.digest);
      if (marker_.marks().marked.count(b.digest) || hasYoungLayerLink(b.digest, repos)) {
        result_.restored.push_back(b.digest);
        unpark(store_, b.digest);
        continue;
      }
      driver_.remove(parked);
      swept_.insert(b.digest);
      result_.blobs.push_back(b);
    }
  }

  void sweepLayerLinks() {
    for (const RepoName& name : listRepositoryDirs(driver_)) {
      Repository r = store_.repository(name);
      for (const Digest& d : r.listLayers()) {
        if (marker_.marks().marked.count(d)) continue;
        bool absent = options_.dryRun ? (swept_.count(d) || !store_.statBlob(d)) : !store_.statBlob(d);
        if (!absent || isQuarantined(store_, d)) continue;  // another run may move it back
        auto link = driver_.stat(layout::layerLink(name, d));
        if (!link || young(link->mtime)) continue;
        result_.layerLinks.push_back({name.str(), d});
        if (!options_.dryRun) r.unlinkLayer(d);
      }
    }
  }

  void summarize() {
    const StoreMarks& marks = marker_.marks();
    result_.repositories = marks.repositories.size();
    for (const RepositoryMarks& repo : marks.repositories) {
      for (const Digest& d : repo.kept) result_.manifestsMarked += repo.revisions.count(d);
    }
    result_.blobsMarked = marks.marked.size();
    result_.warnings = marks.warnings;
    for (const GcBlob& b : result_.blobs) result_.bytesFreed += b.size;
  }

  Store& store_;
  StorageDriver& driver_;
  const GcOptions& options_;
  std::chrono::system_clock::time_point cutoff_;
  Marker marker_;
  GcResult result_;
  std::map<std::string, std::set<Digest>> removed_;  // revisions removed, per repository
  std::unordered_set<Digest> swept_;
};

}  // namespace

StoreMarks markStore(const Store& store, bool deleteUntagged, const ProgressFn& progress) {
  Marker marker(store, deleteUntagged, progress);
  marker.markAll();
  return std::move(marker.marks());
}

GcResult collectGarbage(Store& store, const GcOptions& options) {
  return Collector(store, options).run();
}

size_t restoreQuarantine(Store& store) {
  StorageDriver& driver = store.driver();
  size_t count = 0;
  for (DigestAlgorithm algorithm : kAlgorithms) {
    std::string dir = layout::quarantineDir() + "/" + std::string(digestAlgorithmName(algorithm));
    for (const std::string& hex : driver.list(dir)) {
      auto d = layout::digestFromDirNames(algorithm, hex);
      if (!d) continue;
      ++count;
      unpark(store, *d);
    }
  }
  return count;
}

bool isQuarantined(const Store& store, const Digest& digest) {
  return store.driver().stat(layout::quarantineEntry(digest)).has_value();
}

}  // namespace regfs
