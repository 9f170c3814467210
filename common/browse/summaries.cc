#include "common/browse/summaries.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <set>

#include "common/error.h"
#include "common/store/layout.h"

namespace regfs::browse {
namespace {

bool byName(const RepositorySummary& a, const RepositorySummary& b) {
  return catalogLess(a.name, b.name);
}

// A change below repositories/ that can change the catalog: a repository's _manifests, or a
// directory above it removed or created whole.
bool touchesCatalog(const layout::PathInRepositories& where) {
  const std::string_view manifests = layout::kManifestsDir;
  std::string_view rest = where.rest;
  return rest.empty() || rest == manifests ||
         (rest.starts_with(manifests) && rest[manifests.size()] == '/');
}

}  // namespace

StoreSummaries::StoreSummaries(Store store, FactCache& facts, std::chrono::nanoseconds refresh)
    : store_(std::move(store)), facts_(facts), refresh_(refresh) {
  if (refresh_ > std::chrono::nanoseconds(0)) worker_.start([this] { refreshLoop(); });
}

StoreSummaries::~StoreSummaries() { worker_.stop(); }

bool StoreSummaries::stale(Clock::time_point at) const { return Clock::now() - at > refresh_; }

std::shared_ptr<const CatalogSummaries> StoreSummaries::catalog() {
  {
    std::lock_guard lock(mu_);
    if (catalog_ && refresh_ > std::chrono::nanoseconds(0)) {
      if (stale(catalogAt_) && !catalogDue_) {
        catalogDue_ = true;
        worker_.wake();
      }
      applyMarks();
      return catalog_;
    }
  }
  readCatalog();
  std::lock_guard lock(mu_);
  applyMarks();
  return catalog_;
}

void StoreSummaries::readCatalog() {
  std::lock_guard reading(readMu_);
  Clock::time_point at = Clock::now();
  uint64_t from = 0;
  {
    std::lock_guard lock(mu_);
    from = seq_;
    readingFrom_ = from + 1;
  }
  auto fresh = std::make_shared<CatalogSummaries>();
  try {
    for (const std::string& name : store_.catalog(std::numeric_limits<size_t>::max())) {
      if (worker_.stopping()) throw Error(ErrorKind::kUnavailable, "the server is stopping");
      fresh->push_back(summarize(store_, store_.repository(RepoName::parse(name)), facts_));
    }
  } catch (...) {
    std::lock_guard lock(mu_);
    readingFrom_ = 0;
    throw;
  }
  std::lock_guard lock(mu_);
  catalog_ = std::move(fresh);
  catalogAt_ = at;
  readingFrom_ = 0;
  // The read saw every change marked before it started; those after are applied again.
  std::erase_if(marks_, [&](const auto& m) { return m.second.seq <= from; });
  for (auto& [name, mark] : marks_) mark.applied = false;
}

void StoreSummaries::applyMarks() {
  std::vector<std::pair<std::string, bool>> todo;  // name, subtree
  for (const auto& [name, mark] : marks_) {
    if (!mark.applied) todo.emplace_back(name, mark.subtree);
  }
  if (todo.empty() || !catalog_) return;
  auto next = std::make_shared<CatalogSummaries>(*catalog_);
  std::set<std::string> again;  // the names to read again
  for (const auto& marked : todo) {
    const std::string& name = marked.first;
    bool subtree = marked.second;
    again.insert(name);
    std::string below = name + "/";
    std::erase_if(*next, [&](const RepositorySummary& s) {
      bool hit = s.name == name || (subtree && s.name.starts_with(below));
      if (hit) again.insert(s.name);
      return hit;
    });
  }
  for (const std::string& name : again) {
    auto repoName = RepoName::tryParse(name);
    if (!repoName) continue;
    Repository repo = store_.repository(*repoName);
    if (!repo.exists()) continue;
    RepositorySummary s = summarize(store_, repo, facts_);
    next->insert(std::lower_bound(next->begin(), next->end(), s, byName), std::move(s));
  }
  catalog_ = std::move(next);
  for (auto it = marks_.begin(); it != marks_.end();) {
    // While a whole read is under way, its result comes without these: keep them.
    if (readingFrom_ != 0) {
      it->second.applied = true;
      ++it;
    } else {
      it = marks_.erase(it);
    }
  }
}

std::shared_ptr<const StorageSummary> StoreSummaries::storage() {
  {
    std::lock_guard lock(mu_);
    if (storage_ && refresh_ > std::chrono::nanoseconds(0)) {
      // A walk of the whole store (seconds on a large one): never on a request once read.
      if ((storageChanged_ || stale(storageAt_)) && !storageDue_) {
        storageDue_ = true;
        worker_.wake();
      }
      return storage_;
    }
  }
  readStorage();
  std::lock_guard lock(mu_);
  return storage_;
}

void StoreSummaries::readStorage() {
  std::lock_guard reading(storageReadMu_);
  Clock::time_point at = Clock::now();
  {
    std::lock_guard lock(mu_);
    storageChanged_ = false;  // what changes from here on marks it again
  }
  auto fresh = std::make_shared<const StorageSummary>(summarizeStorage(store_));
  std::lock_guard lock(mu_);
  storage_ = std::move(fresh);
  storageAt_ = at;
}

std::shared_ptr<const TagLinks> StoreSummaries::tagLinks(const Repository& repo) {
  if (refresh_ == std::chrono::nanoseconds(0))
    return std::make_shared<const TagLinks>(repo.listTagLinks());
  const std::string& name = repo.name().str();
  uint64_t read = 0;
  Clock::time_point at = Clock::now();
  {
    std::lock_guard lock(mu_);
    KeptTagLinks& kept = tagLinks_[name];
    kept.used = ++tagUse_;
    if (kept.links && !stale(kept.at)) return kept.links;
    // Read again below; a change marked meanwhile drops the entry, so this read is not kept.
    kept.read = read = ++tagReads_;
    kept.at = at;
  }
  auto links = std::make_shared<const TagLinks>(repo.listTagLinks());
  std::lock_guard lock(mu_);
  auto it = tagLinks_.find(name);
  if (it != tagLinks_.end() && it->second.read == read) it->second.links = links;
  while (tagLinks_.size() > kTagLinksKept) {
    auto oldest = std::min_element(
        tagLinks_.begin(), tagLinks_.end(),
        [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    tagLinks_.erase(oldest);
  }
  return links;
}

void StoreSummaries::changed(std::string_view path) noexcept {
  if (refresh_ == std::chrono::nanoseconds(0)) return;  // nothing is kept
  auto where = layout::splitRepositoryPath(path);
  std::lock_guard lock(mu_);
  storageChanged_ = true;
  if (!where || !touchesCatalog(*where)) return;
  // A repository's tag links go with any change to its _manifests (a tag written or removed),
  // and with the removal of a directory above it.
  std::string below = where->name + "/";
  std::erase_if(tagLinks_, [&](const auto& kept) {
    return kept.first == where->name || (where->rest.empty() && kept.first.starts_with(below));
  });
  Mark& mark = marks_[where->name];
  mark.subtree = (mark.subtree && !mark.applied) || where->rest.empty();
  mark.seq = ++seq_;
  mark.applied = false;
}

void StoreSummaries::refreshLoop() {
  while (worker_.wait()) {
    bool catalogDue = false;
    bool storageDue = false;
    {
      std::lock_guard lock(mu_);
      catalogDue = catalogDue_;
      storageDue = storageDue_;
    }
    try {
      if (catalogDue) readCatalog();
      if (storageDue) readStorage();
    } catch (const std::exception& e) {
      if (!worker_.stopping()) spdlog::warn("web UI: reading the store's summaries: {}", e.what());
    }
    std::lock_guard lock(mu_);
    if (catalogDue) catalogDue_ = false;
    if (storageDue) storageDue_ = false;
  }
}

}  // namespace regfs::browse
