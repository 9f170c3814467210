#pragma once
// The web UI's views of a repository and of the store, computed on the server: a summary per
// repository, its tags sorted and paged across all of them, its untagged manifests, and the
// store's space. Push dates are link modification times (a stat each, on every driver; kept
// between requests by StoreSummaries); everything read from manifests comes from the
// FactCache, so a page costs what it shows, not a read of every manifest.

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

// A repository's tag links with their stat data, as Repository::listTagLinks() reads them.
using TagLinks = std::vector<std::pair<Tag, FileInfo>>;

// One page of the repository's tags in `query`'s order (ties by name, ascending), from
// `links` (the repository's tag links, kept between requests by StoreSummaries::tagLinks; read
// here, a stat each, when null). Sorting by pushed or name reads only the page's links; by
// size it reads every link (the facts come from `cache`). A tag removed meanwhile is left out
// of the page.
TagPage tagPage(const Store& store, const Repository& repo, FactCache& cache, const TagQuery& query,
                const TagLinks* links = nullptr);

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
