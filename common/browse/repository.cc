#include "common/browse/repository.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "common/error.h"

namespace regfs::browse {
namespace {

bool earlier(const timespec& a, const timespec& b) {
  return std::tie(a.tv_sec, a.tv_nsec) < std::tie(b.tv_sec, b.tv_nsec);
}

// The facts of `digest`, or null when its blob is gone (deleted while we looked).
std::shared_ptr<const ManifestFacts> factsOrNull(const Store& store, FactCache& cache,
                                                 const Digest& digest) {
  try {
    return cache.get(store, digest);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kManifestUnknown) return nullptr;
    throw;
  }
}

// Fills in a row's digest, facts and size; false when the tag or its manifest went away.
bool complete(const Store& store, const Repository& repo, FactCache& cache, TagRow& row) {
  if (!row.facts) {
    auto digest = repo.resolveTag(row.tag);
    if (!digest) return false;
    row.digest = *digest;
    row.facts = factsOrNull(store, cache, row.digest);
    if (!row.facts) return false;
  }
  try {
    row.size = pullSize(store, cache, row.digest);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kManifestUnknown) throw;
    return false;
  }
  return true;
}

// `rows` in `query`'s order as far as `end`: the page and what precedes it, not the rest.
void sortRows(std::vector<TagRow>& rows, const TagQuery& query, size_t end) {
  auto byName = [](const TagRow& a, const TagRow& b) { return a.tag.str() < b.tag.str(); };
  // Ties are broken by name, so the order is total and a partial sort is stable enough.
  std::partial_sort(
      rows.begin(), rows.begin() + end, rows.end(), [&](const TagRow& a, const TagRow& b) {
        switch (query.sort) {
          case TagSort::kName:
            return query.descending ? byName(b, a) : byName(a, b);
          case TagSort::kPushed:
            if (earlier(a.pushed, b.pushed) || earlier(b.pushed, a.pushed))
              return query.descending ? earlier(b.pushed, a.pushed) : earlier(a.pushed, b.pushed);
            return byName(a, b);
          case TagSort::kSize:
            if (a.size != b.size) return query.descending ? a.size > b.size : a.size < b.size;
            return byName(a, b);
        }
        return byName(a, b);
      });
}

}  // namespace

RepositorySummary summarize(const Store& store, const Repository& repo, FactCache& cache) {
  RepositorySummary s;
  s.name = repo.name().str();
  for (const auto& [tag, link] : repo.listTagLinks()) {
    ++s.tags;
    if (!s.pushed || earlier(*s.pushed, link.mtime)) s.pushed = link.mtime;
  }
  std::map<std::string, uint64_t> blobs;
  for (const Digest& digest : repo.listManifests()) {
    ++s.manifests;
    auto facts = factsOrNull(store, cache, digest);
    if (!facts) continue;
    blobs.emplace(digest.str(), facts->size);
    for (const BlobRef& b : facts->blobs) blobs.emplace(b.digest.str(), b.size);
  }
  for (const auto& [digest, size] : blobs) s.size += size;
  return s;
}

TagPage tagPage(const Store& store, const Repository& repo, FactCache& cache, const TagQuery& query,
                const TagLinks* links) {
  TagLinks read;
  if (!links) {
    read = repo.listTagLinks();
    links = &read;
  }
  std::vector<TagRow> rows;
  rows.reserve(links->size());
  static const Digest kNone = Digest::of("");
  for (const auto& [tag, link] : *links) {
    if (!query.filter.empty() && tag.str().find(query.filter) == std::string::npos) continue;
    rows.push_back(TagRow{tag, kNone, link.mtime, nullptr, 0});
  }
  if (query.sort == TagSort::kSize) {
    // Every size is needed to sort: read every link (the facts are cached by digest).
    std::erase_if(rows, [&](TagRow& row) { return !complete(store, repo, cache, row); });
  }
  TagPage page;
  page.total = rows.size();
  size_t begin = std::min(query.offset, rows.size());
  size_t end = begin + std::min(query.limit, rows.size() - begin);
  sortRows(rows, query, end);
  for (size_t i = begin; i < end; ++i) {
    if (complete(store, repo, cache, rows[i])) page.tags.push_back(std::move(rows[i]));
  }
  return page;
}

std::vector<ManifestRow> listRevisions(const Store& store, const Repository& repo, FactCache& cache,
                                       bool untaggedOnly) {
  std::vector<ManifestRow> rows;
  for (auto& [digest, link] : repo.listManifestLinks()) {
    auto facts = factsOrNull(store, cache, digest);
    if (facts) rows.push_back(ManifestRow{digest, link.mtime, std::move(facts)});
  }
  if (untaggedOnly) {
    std::set<std::string> reached;  // tagged, or a child of a tagged index
    for (const auto& [tag, digest] : repo.resolveTags()) {
      if (!reached.insert(digest.str()).second) continue;
      if (auto facts = factsOrNull(store, cache, digest)) {
        for (const ChildFacts& child : facts->children) reached.insert(child.manifest.digest.str());
      }
    }
    std::erase_if(rows, [&](const ManifestRow& row) {
      return row.facts->subject || reached.count(row.digest.str());
    });
  }
  std::sort(rows.begin(), rows.end(), [](const ManifestRow& a, const ManifestRow& b) {
    if (earlier(a.pushed, b.pushed) || earlier(b.pushed, a.pushed))
      return earlier(b.pushed, a.pushed);
    return a.digest.str() < b.digest.str();
  });
  return rows;
}

}  // namespace regfs::browse
