#pragma once
// The web UI's views of a repository and of the store, computed on the server: a summary per
// repository, its tags sorted and paged across all of them, its untagged manifests, and the
// store's space. Push dates are link modification times (a stat each, on every driver);
// everything read from manifests comes from the FactCache, so a page costs what it shows
// plus a stat per tag, not a read of every manifest.

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/browse/facts.h"
#include "common/store/store.h"

namespace regfs::browse {

struct RepositorySummary {
  std::string name;
  size_t tags = 0;
  size_t manifests = 0;  // revisions
  // The distinct blobs its revisions reference: the manifests, their configs and layers.
  uint64_t size = 0;
  std::optional<timespec> pushed;  // the newest tag link's mtime; none without tags
};

// Reads the repository's tag links (a stat each) and revisions; manifests through `cache`
// (a revision whose blob is gone is left out of `size`).
RepositorySummary summarize(const Store& store, const Repository& repo, FactCache& cache);

enum class TagSort { kPushed, kName, kSize };

struct TagQuery {
  TagSort sort = TagSort::kPushed;
  bool descending = true;
  std::string filter;  // keep the tags that contain it ("" keeps all)
  size_t offset = 0;
  size_t limit = 50;
};

struct TagRow {
  Tag tag;
  Digest digest;
  timespec pushed{};
  std::shared_ptr<const ManifestFacts> facts;
  uint64_t size = 0;  // pullSize
};

struct TagPage {
  size_t total = 0;  // tags that match the filter
  std::vector<TagRow> tags;
};

// One page of the repository's tags in `query`'s order (ties by name, ascending). Sorting by
// pushed or name stats every tag link and reads the page's; by size it reads every link
// (the facts come from `cache`). A tag removed meanwhile is left out of the page.
TagPage tagPage(const Store& store, const Repository& repo, FactCache& cache,
                const TagQuery& query);

struct ManifestRow {
  Digest digest;
  timespec pushed{};  // the revision link's mtime
  std::shared_ptr<const ManifestFacts> facts;
};

// The repository's revisions, newest first (ties by digest). With `untaggedOnly`, those no
// tag points at that are neither a child of a tagged index nor a referrer (they have a
// subject). Revisions whose blob is gone are left out.
std::vector<ManifestRow> listRevisions(const Store& store, const Repository& repo, FactCache& cache,
                                       bool untaggedOnly);

}  // namespace regfs::browse
