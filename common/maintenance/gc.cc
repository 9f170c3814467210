#include "common/maintenance/gc.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/error.h"
#include "common/manifest.h"
#include "common/store/layout.h"
#include "common/store/walk.h"

namespace regfs {
namespace {

// What a stored manifest keeps alive, for marking.
struct ManifestReferences {
  std::vector<Digest> blobs;      // config and layers
  std::vector<Digest> manifests;  // an index's children
  std::optional<Digest> subject;  // OCI 1.1 referrers
};

// Nothing for a manifest that does not parse: what it names is not kept alive by it.
std::optional<ManifestReferences> referencesOf(const Digest& manifest, std::string_view bytes) {
  try {
    Manifest m = parseStoredManifest(bytes);
    ManifestReferences refs;
    for (const Descriptor& d : m.blobReferences()) refs.blobs.push_back(d.digest);
    for (const Descriptor& d : m.manifestReferences()) refs.manifests.push_back(d.digest);
    if (m.subject) refs.subject = m.subject->digest;
    return refs;
  } catch (const Error& e) {
    spdlog::warn("gc: manifest {} does not parse; it keeps nothing it names alive: {}",
                 manifest.str(), e.what());
    return std::nullopt;
  }
}

// Moves a quarantined blob back, unless blobs/ has it again (`present`). Moving the data
// file (not the directory) cannot collide with a writer that recreated the blob meanwhile:
// a rename over theirs swaps in the same content.
void unpark(StorageDriver& driver, const Digest& d, bool present) {
  std::string parked = layout::quarantineEntry(d);
  if (!present) driver.move(layout::quarantineData(d), layout::blobData(d));
  driver.remove(parked);
}

// The mark phase, repeatable: re-marking only visits what is new. It reads links and
// manifests; what exists comes from a listing of the store.
class Marker {
 public:
  Marker(const Store& store, const StoreListing& listing, bool deleteUntagged,
         const ProgressFn& progress)
      : store_(store),
        driver_(store.driver()),
        listing_(listing),
        deleteUntagged_(deleteUntagged),
        progress_(progress) {}

  StoreMarks& marks() { return marks_; }

  void markAll() {
    uint64_t done = 0;
    for (const RepositoryListing& listed : listing_.repositories) {
      markRepository(stateFor(listed.name), listed);
      if (progress_) progress_({"marking", ++done, listing_.repositories.size(), 0});
    }
  }

  void markRepository(RepositoryMarks& repo, const RepositoryListing& listed) {
    Repository r = store_.repository(repo.name);
    for (const auto& [d, link] : listed.revisions) repo.revisions.insert(d);
    std::set<Digest> tagged;
    repo.tags = listed.tags.size();
    for (const auto& [tag, link] : listed.tags) {
      if (auto d = r.resolveTag(tag)) tagged.insert(*d);
    }
    for (const auto& [d, link] : listed.revisions) {
      if (!deleteUntagged_ || tagged.count(d)) markFrom(repo, d);
    }
    if (!deleteUntagged_) return;
    // Referrers (signatures, SBOMs) of a kept manifest are kept with it.
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& [d, link] : listed.revisions) {
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

  // A manifest's bytes, also while a concurrent collection has it in quarantine. The size
  // of a listed blob comes from the listing; others (written since, or parked) are looked at.
  std::optional<std::string> readManifest(const Digest& d) {
    for (const std::string& path : {layout::blobData(d), layout::quarantineData(d)}) {
      std::optional<uint64_t> size;
      if (auto listed = listing_.blobs.find(d);
          listed != listing_.blobs.end() && path == layout::blobData(d)) {
        size = listed->second.size;
      } else if (auto info = driver_.stat(path); info && !info->isDirectory) {
        size = info->size;
      }
      if (!size) continue;
      // Nothing over the push limit was stored as a manifest; do not read a layer whole.
      if (*size > kMaxManifestBytes) return std::string();
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
      p.refs = referencesOf(d, *bytes);
    }
    return cache_.emplace(d, std::move(p)).first->second;
  }

  const Store& store_;
  const StorageDriver& driver_;
  const StoreListing& listing_;
  bool deleteUntagged_;
  const ProgressFn& progress_;
  StoreMarks marks_;
  std::map<std::string, size_t> index_;
  std::unordered_map<Digest, Parsed> cache_;
};

// One run. The store is listed once, and the mark and the sweep share that listing; the
// only other listing, of repositories/ alone, comes after the settle and only when the run
// removed something: what writers did meanwhile is seen only there.
class Collector {
 public:
  Collector(Store& store, const GcOptions& options)
      : store_(store),
        driver_(store.driver()),
        options_(options),
        cutoff_(std::chrono::system_clock::now() - options.grace),
        listing_(listStore(driver_)),
        marker_(store, listing_, options.deleteUntagged, options.progress) {}

  GcResult run() {
    if (!options_.dryRun) result_.recovered = recoverQuarantined();
    marker_.markAll();
    if (options_.deleteUntagged) sweepUntaggedRevisions();
    std::vector<GcBlob> candidates = findUnmarkedBlobs();
    const std::vector<RepositoryListing>* repositories = &listing_.repositories;
    std::vector<RepositoryListing> relisted;
    if (options_.dryRun) {
      for (const GcBlob& b : candidates) swept_.insert(b.digest);
      result_.blobs = candidates;
    } else {
      std::vector<GcBlob> parked = quarantine(candidates);
      if (!parked.empty()) std::this_thread::sleep_for(options_.settle);
      if (!parked.empty() || removedAny_) {
        relisted = listRepositories(driver_);
        repositories = &relisted;
        remark(relisted);
      }
      release(parked, relisted);
    }
    sweepLayerLinks(*repositories);
    sweepLayerIndexes();
    summarize();
    return std::move(result_);
  }

 private:
  bool young(const timespec& mtime) const { return toTimePoint(mtime) >= cutoff_; }

  // Blobs a crashed run left in quarantine go back (or away, when blobs/ has them again).
  size_t recoverQuarantined() {
    for (const Digest& d : listing_.quarantined) unpark(driver_, d, listing_.blobs.count(d) > 0);
    return listing_.quarantined.size();
  }

  void sweepUntaggedRevisions() {
    std::map<RepoName, const RepositoryListing*> listed;
    for (const RepositoryListing& l : listing_.repositories) listed.emplace(l.name, &l);
    for (RepositoryMarks& repo : marker_.marks().repositories) {
      Repository r = store_.repository(repo.name);
      auto found = listed.find(repo.name);
      if (found == listed.end()) continue;  // every marked repository was listed
      const RepositoryListing& listing = *found->second;
      std::set<Digest> current;  // what the tags name right now: they may have moved since the mark
      bool read = false;
      for (const Digest& d : repo.revisions) {
        if (repo.kept.count(d)) continue;
        auto link = driver_.stat(layout::revisionLink(repo.name, d));
        if (!link) continue;  // deleted meanwhile
        if (young(link->mtime)) {
          result_.youngManifests.push_back({repo.name.str(), d});
          marker_.markFrom(repo, d);
          continue;
        }
        if (!read) {
          for (const auto& [tag, info] : listing.tags) {
            if (auto target = r.resolveTag(tag)) current.insert(*target);
          }
          read = true;
        }
        if (current.count(d)) {
          marker_.markFrom(repo, d);
          continue;
        }
        result_.manifests.push_back({repo.name.str(), d});
        removed_[repo.name.str()].insert(d);
        if (options_.dryRun) continue;
        removedAny_ = true;
        for (const auto& [tag, history] : listing.tagHistory) {
          if (history.count(d)) driver_.remove(parentPath(layout::tagIndexLink(repo.name, tag, d)));
        }
        driver_.remove(parentPath(layout::revisionLink(repo.name, d)));
      }
    }
  }

  // Marks what appeared since the listing: new repositories and revisions, and revisions
  // we removed that a tag names again (those links are restored).
  void remark(const std::vector<RepositoryListing>& repositories) {
    for (const RepositoryListing& listing : repositories) {
      RepositoryMarks& repo = marker_.stateFor(listing.name);
      Repository r = store_.repository(listing.name);
      auto removedHere = removed_.find(listing.name.str());
      std::set<Digest> none;
      std::set<Digest>& removed = removedHere == removed_.end() ? none : removedHere->second;
      if (!removed.empty()) {
        for (const auto& [tag, info] : listing.tags) {
          auto d = r.resolveTag(tag);
          if (!d || !removed.count(*d)) continue;
          driver_.writeAtomic(layout::revisionLink(listing.name, *d), d->str());
          removed.erase(*d);
          std::erase_if(result_.manifests, [&](const GcManifest& m) {
            return m.repository == listing.name.str() && m.digest == *d;
          });
          repo.revisions.insert(*d);
          if (!repo.kept.count(*d)) marker_.markFrom(repo, *d);
        }
      }
      for (const auto& [d, link] : listing.revisions) {
        repo.revisions.insert(d);
        if (!repo.kept.count(d) && !removed.count(d)) marker_.markFrom(repo, d);
      }
    }
  }

  bool hasYoungLayerLink(const Digest& d,
                         const std::vector<RepositoryListing>& repositories) const {
    for (const RepositoryListing& repo : repositories) {
      auto link = repo.layers.find(d);
      if (link != repo.layers.end() && young(link->second.mtime)) return true;
    }
    return false;
  }

  std::vector<GcBlob> findUnmarkedBlobs() {
    std::vector<std::pair<Digest, FileInfo>> unmarked;
    for (const auto& [d, info] : listing_.blobs) {
      ++result_.blobsSeen;
      if (!marker_.marks().marked.count(d)) unmarked.emplace_back(d, info);
    }
    std::vector<GcBlob> candidates;
    uint64_t done = 0;
    for (const auto& [d, info] : unmarked) {
      if (options_.progress)
        options_.progress({"checking unreferenced blobs", ++done, unmarked.size(), 0});
      if (young(info.mtime) || hasYoungLayerLink(d, listing_.repositories)) {
        result_.youngBlobs.push_back({d, info.size});
        continue;
      }
      candidates.push_back({d, info.size});
    }
    return candidates;
  }

  // Moves each candidate to the quarantine; returns those that were still there.
  std::vector<GcBlob> quarantine(const std::vector<GcBlob>& candidates) {
    std::vector<GcBlob> parked;
    uint64_t done = 0;
    for (const GcBlob& b : candidates) {
      if (options_.progress) options_.progress({"sweeping", ++done, candidates.size(), 0});
      try {
        driver_.move(layout::blobDir(b.digest), layout::quarantineEntry(b.digest));
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kNotFound) continue;  // removed meanwhile
        throw;
      }
      parked.push_back(b);
    }
    return parked;
  }

  // After the re-mark: a parked blob that became referenced goes back, the rest goes.
  void release(const std::vector<GcBlob>& parked,
               const std::vector<RepositoryListing>& repositories) {
    for (const GcBlob& b : parked) {
      if (marker_.marks().marked.count(b.digest) || hasYoungLayerLink(b.digest, repositories)) {
        result_.restored.push_back(b.digest);
        unpark(driver_, b.digest, /*present=*/false);
        continue;
      }
      driver_.remove(layout::quarantineEntry(b.digest));
      swept_.insert(b.digest);
      result_.blobs.push_back(b);
    }
  }

  void sweepLayerLinks(const std::vector<RepositoryListing>& repositories) {
    for (const RepositoryListing& repo : repositories) {
      Repository r = store_.repository(repo.name);
      for (const auto& [d, info] : repo.layers) {
        if (marker_.marks().marked.count(d) || young(info.mtime)) continue;
        bool absent =
            swept_.count(d) || (!listing_.blobs.count(d) && !listing_.quarantined.count(d));
        if (!absent) continue;
        if (!options_.dryRun) {
          // Looked at again right before: a writer may have brought the blob back.
          if (store_.statBlob(d) || isQuarantined(store_, d))
            continue;  // another run may move it back
          auto link = driver_.stat(layout::layerLink(repo.name, d));
          if (!link || young(link->mtime)) continue;
        }
        result_.layerLinks.push_back({repo.name.str(), d});
        if (!options_.dryRun) r.unlinkLayer(d);
      }
    }
  }

  // The index of a layer goes with its blob: swept by this run, or gone before it (another
  // registry's collector removes blobs and knows nothing of indexes).
  void sweepLayerIndexes() {
    for (const auto& [d, info] : listing_.layerIndexes) {
      bool absent = swept_.count(d) || (!listing_.blobs.count(d) && !listing_.quarantined.count(d));
      if (!absent) continue;
      // Looked at again right before: a push may have brought the blob back.
      if (!options_.dryRun && (store_.statBlob(d) || isQuarantined(store_, d))) continue;
      result_.layerIndexes.push_back({d, info.size});
      if (!options_.dryRun) driver_.remove(layout::layerIndexDir(d));
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
    for (const GcBlob& b : result_.layerIndexes) result_.bytesFreed += b.size;
  }

  Store& store_;
  StorageDriver& driver_;
  const GcOptions& options_;
  std::chrono::system_clock::time_point cutoff_;
  StoreListing listing_;  // the one listing of the store
  Marker marker_;
  GcResult result_;
  std::map<std::string, std::set<Digest>> removed_;  // revisions removed, per repository
  bool removedAny_ = false;
  std::unordered_set<Digest> swept_;
};

}  // namespace

StoreMarks markStore(const Store& store, bool deleteUntagged, const ProgressFn& progress) {
  StoreListing listing = listStore(store.driver());
  Marker marker(store, listing, deleteUntagged, progress);
  marker.markAll();
  return std::move(marker.marks());
}

GcResult collectGarbage(Store& store, const GcOptions& options) {
  return Collector(store, options).run();
}

size_t restoreQuarantine(Store& store) {
  StorageDriver& driver = store.driver();
  size_t count = 0;
  for (DigestAlgorithm algorithm : kDigestAlgorithms) {
    std::string dir = layout::quarantineAlgorithmDir(algorithm);
    for (const std::string& hex : driver.list(dir)) {
      auto d = layout::digestFromDirNames(algorithm, hex);
      if (!d) continue;
      ++count;
      std::string data = layout::quarantineData(*d);
      unpark(driver, *d, store.statBlob(*d) || !driver.stat(data));
    }
  }
  return count;
}

bool isQuarantined(const Store& store, const Digest& digest) {
  return store.driver().stat(layout::quarantineEntry(digest)).has_value();
}

}  // namespace regfs
