#include "common/lifecycle/retention_run.h"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/manifest.h"

namespace regfs::lifecycle {
namespace {

TimePoint timeOf(const timespec& t) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec)));
}

ManifestState readManifestState(const Repository& repo, const Digest& digest, TimePoint pushed) {
  ManifestState m{digest, pushed, {}, std::nullopt};
  Manifest parsed;
  try {
    parsed = parseStoredManifest(repo.getManifest(digest));
  } catch (const Error& e) {
    throw Error(ErrorKind::kIo, repo.name().str() + "@" + digest.str() + ": " + e.what());
  }
  for (const Descriptor& child : parsed.manifestReferences()) m.children.push_back(child.digest);
  if (parsed.subject) m.subject = parsed.subject->digest;
  return m;
}

// What writes since the state was read hold on to: the manifests tags point at, and the
// children and subjects of revisions the state did not list. One reading serves many
// removals (reading every tag per removal made a run quadratic in a repository's tags);
// it is read again once it is older than the run's recheckAfter and than the time its
// reading took, so rereading costs at most as much time as the removals themselves.
struct Holds {
  std::set<Digest> held;
  std::chrono::steady_clock::time_point readAt;
  std::chrono::steady_clock::duration took{};

  // Throws Error(kIo) when a new revision cannot be read: what it references is unknown.
  static Holds read(const Repository& repo, const std::set<Digest>& known) {
    auto start = std::chrono::steady_clock::now();
    Holds h;
    for (const auto& [tag, target] : repo.resolveTags()) h.held.insert(target);
    for (const Digest& d : repo.listManifests()) {
      if (known.count(d)) continue;
      ManifestState m = readManifestState(repo, d, TimePoint());
      h.held.insert(m.children.begin(), m.children.end());
      if (m.subject) h.held.insert(*m.subject);
    }
    h.readAt = std::chrono::steady_clock::now();
    h.took = h.readAt - start;
    return h;
  }

  bool stale(std::chrono::nanoseconds recheckAfter) const {
    auto age = std::chrono::steady_clock::now() - readAt;
    return age >= recheckAfter && age >= took;
  }
};

// Removes the untagged manifests `plan` decided on, each unless a tag or a revision the
// state did not list (`known` did) holds it (see the header).
void removeUntagged(Repository& repo, const RetentionPlan& plan, const std::set<Digest>& known,
                    const RetentionRunOptions& options, RetentionReport& report) {
  const std::string& name = repo.name().str();
  auto readHolds = [&]() -> std::optional<Holds> {
    try {
      return Holds::read(repo, known);
    } catch (const Error& e) {
      report.skipped.push_back(name + ": untagged manifests kept: " + e.what());
      return std::nullopt;
    }
  };
  // Removed since `holds` was read, with their bytes: a push may have tagged one (or named
  // it) after that reading and confirmed itself before the removal, so each counts as
  // removed only once a later reading shows nothing holds it, and goes back otherwise.
  std::vector<std::pair<Digest, std::string>> unconfirmed;
  auto confirm = [&](const std::optional<Holds>& after) {
    for (auto& [digest, bytes] : unconfirmed) {
      if (!after || after->held.count(digest)) {
        repo.putManifest(bytes);
        report.skipped.push_back(name + "@" + digest.str() +
                                 (after ? ": referenced during the run, put back"
                                        : ": put back, what holds it is unknown"));
        continue;
      }
      report.manifestsRemoved++;
      if (options.removed) options.removed(repo.name(), std::nullopt, digest);
    }
    unconfirmed.clear();
  };
  std::optional<Holds> holds;
  try {
    for (const ManifestVerdict& m : plan.untagged) {
      if (!m.remove) continue;
      if (!holds || holds->stale(options.recheckAfter)) {
        holds = readHolds();
        confirm(holds);
        if (!holds) return;
      }
      if (holds->held.count(m.digest)) {
        report.skipped.push_back(name + "@" + m.digest.str() + ": referenced during the run, kept");
        continue;
      }
      try {
        std::string bytes = repo.getManifest(m.digest);
        // No tag pointed at it when the holds were read.
        repo.deleteManifest(m.digest, {});
        unconfirmed.emplace_back(m.digest, std::move(bytes));
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kManifestUnknown) throw;
        continue;  // already gone: someone else removed it
      }
    }
  } catch (...) {
    if (!unconfirmed.empty()) confirm(readHolds());
    throw;
  }
  if (!unconfirmed.empty()) confirm(readHolds());  // a reading after the last removal
}

// Applies `plan` to `repo`, checking each removal against the store first (see the header).
void applyPlan(Repository& repo, const RetentionPlan& plan, const RepositoryState& state,
               const RetentionRunOptions& options, RetentionReport& report) {
  const std::string& name = repo.name().str();
  for (const TagVerdict& t : plan.tags) {
    if (!t.remove) continue;
    auto link = repo.statTag(t.tag.tag);
    auto target = repo.resolveTag(t.tag.tag);
    if (!link || !target || *target != t.tag.manifest || timeOf(link->mtime) != t.tag.pushed) {
      report.skipped.push_back(name + ":" + t.tag.tag.str() + ": moved during the run, kept");
      continue;
    }
    if (!repo.deleteTag(t.tag.tag)) continue;
    report.tagsRemoved++;
    if (options.removed) options.removed(repo.name(), t.tag.tag, t.tag.manifest);
  }
  if (plan.manifestsRemoved() == 0) return;
  std::set<Digest> known;
  for (const ManifestState& m : state.manifests) known.insert(m.digest);
  removeUntagged(repo, plan, known, options, report);
}

void retainRepository(Repository& repo, const RetentionRunOptions& options,
                      RetentionReport& report) {
  auto policy = policyFor(options.policies, repo.name());
  if (!policy) return;
  bool withManifests = needsManifests(options.policies[*policy]);
  std::optional<RepositoryState> state;
  try {
    state = readRepositoryState(repo, withManifests);
  } catch (const Error& e) {
    if (!withManifests || e.kind() != ErrorKind::kIo) throw;
    // A manifest that cannot be read hides what it references: decide on the tags alone.
    report.skipped.push_back(repo.name().str() + ": untagged manifests kept: " + e.what());
    RetentionRunOptions tagsOnly = options;
    tagsOnly.policies[*policy].untaggedOlderThan.reset();
    return retainRepository(repo, tagsOnly, report);
  }
  RetentionPlan plan = decideRetention(*state, options.policies, options.immutable, options.now());
  if (options.decided) options.decided(plan);
  if (options.dryRun) {
    report.tagsRemoved += plan.tagsRemoved();
    report.manifestsRemoved += plan.manifestsRemoved();
  } else {
    applyPlan(repo, plan, *state, options, report);
  }
  report.plans.push_back(std::move(plan));
}

}  // namespace

RepositoryState readRepositoryState(const Repository& repo, bool withManifests) {
  RepositoryState state{repo.name(), {}, {}};
  for (auto& [tag, link] : repo.listTagLinks()) {
    // A tag removed between the listing and the read is no tag.
    if (auto target = repo.resolveTag(tag))
      state.tags.push_back(TagState{tag, *target, timeOf(link.mtime)});
  }
  if (!withManifests) return state;
  for (const Digest& d : repo.listManifests()) {
    auto link = repo.statManifest(d);
    if (!link) continue;  // removed meanwhile
    state.manifests.push_back(readManifestState(repo, d, timeOf(link->mtime)));
  }
  return state;
}

RetentionReport runRetention(Store& store, const RetentionRunOptions& options) {
  RetentionReport report;
  constexpr size_t kPage = 1000;
  std::string last;
  for (;;) {
    std::vector<std::string> names = store.catalog(kPage, last);
    for (const std::string& name : names) {
      report.repositories++;
      auto repoName = RepoName::tryParse(name);
      if (!repoName) continue;
      Repository repo = store.repository(*repoName);
      retainRepository(repo, options, report);
    }
    if (names.size() < kPage) break;
    last = names.back();
  }
  return report;
}

}  // namespace regfs::lifecycle
