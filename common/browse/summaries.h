#pragma once
// The web UI's figures kept between requests: every repository's summary (the catalog), the
// store's space, and the tag links (names and push dates) of the repositories whose tag pages
// were asked for lately. Reading them costs a walk of the whole store (or of a repository's
// tags: a stat each), so they are read once and then kept up to date:
//  - a change made through this process (changed(), called by an ObservedDriver under the
//    store) marks what it touches: the next catalog request reads again just the
//    repositories marked, and a marked repository's tag links are dropped (the next tag page
//    reads them again); the store's space (a walk of every blob and manifest) is read again
//    by a background thread, so the storage answers after that one have the change;
//  - what other processes change (another server on the same storage, regfsctl) is not seen
//    that way: a request that finds the figures older than `refresh` is answered with them
//    and has a background thread read everything again, so the answers after it have those
//    changes; tag links older than `refresh` are read again by the request that finds them.
//    A `refresh` of zero reads everything on every request (no observer needed).

#include <time.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/browse/facts.h"
#include "common/browse/repository.h"
#include "common/browse/storage.h"
#include "common/store/store.h"
#include "common/worker.h"

namespace regfs::browse {

// Every repository's summary, in catalog order (catalogLess).
using CatalogSummaries = std::vector<RepositorySummary>;

class StoreSummaries {
 public:
  StoreSummaries(Store store, FactCache& facts, std::chrono::nanoseconds refresh);
  ~StoreSummaries();
  StoreSummaries(const StoreSummaries&) = delete;
  StoreSummaries& operator=(const StoreSummaries&) = delete;

  // Every repository's summary; read whole on the first call (and on every call with a
  // `refresh` of zero).
  std::shared_ptr<const CatalogSummaries> catalog();
  // The store's space; read whole on the first call (every call with a `refresh` of zero),
  // then again in the background when a call finds it changed or older than `refresh`.
  std::shared_ptr<const StorageSummary> storage();
  // `repo`'s tag links, sorted by name; read (a stat per tag) when not kept or older than
  // `refresh`. The links of at most kTagLinksKept repositories are kept, the least recently
  // asked for go first.
  std::shared_ptr<const TagLinks> tagLinks(const Repository& repo);
  // `path` (a driver path) was changed through this process. Does no I/O; never throws.
  void changed(std::string_view path) noexcept;

  static constexpr size_t kTagLinksKept = 32;

 private:
  struct Mark {
    uint64_t seq = 0;
    bool subtree = false;  // the names below too (a directory above repositories removed)
    bool applied = false;  // in the catalog, but a whole read under way started before it
  };
  using Clock = std::chrono::steady_clock;

  // Reads every repository and installs the result (the marks it covers go).
  void readCatalog();
  // Applies the marks not yet applied to catalog_. Called with mu_ held.
  void applyMarks();
  void readStorage();
  bool stale(Clock::time_point at) const;
  void refreshLoop();

  Store store_;
  FactCache& facts_;
  const std::chrono::nanoseconds refresh_;

  std::mutex readMu_;  // one whole read of the catalog at a time
  std::mutex mu_;
  std::shared_ptr<const CatalogSummaries> catalog_;  // under mu_; null: never read
  Clock::time_point catalogAt_;                      // under mu_: when its read started
  std::map<std::string, Mark> marks_;                // by name, under mu_
  uint64_t seq_ = 0;                                 // the last mark's, under mu_
  uint64_t readingFrom_ = 0;  // under mu_: the seq a whole read under way started at, or 0
  bool catalogDue_ = false;   // under mu_: the background thread is to read the catalog

  std::mutex storageReadMu_;                       // one read of the storage at a time
  std::shared_ptr<const StorageSummary> storage_;  // under mu_
  Clock::time_point storageAt_;                    // under mu_
  bool storageChanged_ = false;                    // under mu_
  bool storageDue_ = false;                        // under mu_

  struct KeptTagLinks {
    std::shared_ptr<const TagLinks> links;  // null while the first read is under way
    Clock::time_point at;                   // when the read started
    uint64_t used = 0;                      // tagUse_ when last asked for
    uint64_t read = 0;                      // which read fills it (readingTags_ then)
  };
  std::map<std::string, KeptTagLinks> tagLinks_;  // by repository name, under mu_
  uint64_t tagUse_ = 0;                           // under mu_
  uint64_t tagReads_ = 0;                         // under mu_

  Worker worker_{"ui-summaries"};  // last: stopped first
};

}  // namespace regfs::browse
