#pragma once
// A retention run over a store: for each repository, its state is read (tags with their
// current link mtimes, and when the policy needs them, revisions with their link mtimes and
// references), decided by decideRetention, then applied with the store operations the API's
// DELETE uses (Repository::deleteTag, deleteManifest).
//
// Safe while servers write: a repository is read and applied at once, one at a time, and
// each removal is checked against the store first. A tag that moved since its state was
// read (another manifest or a newer current link) stays. An untagged manifest is removed
// when no tag points at it and no revision pushed since references it (a child, a subject),
// as of a reading of the repository's tags and new revisions at most recheckAfter old (or
// as old as that reading took, when longer); it counts as removed (and is reported to
// `removed`) only once a reading after its removal still shows nothing holding it, and its
// revision is put back otherwise. With the push's side (confirmManifestPush writes the
// revision again after the push's tag), a push that tags an old untagged manifest during a
// run never leaves its tag on a removed manifest: if the push confirmed itself before the
// removal, the reading after it sees the tag; if after, the push wrote the revision back.
// Between the removal and that reading (at most recheckAfter) a pull of such a tag can
// find no manifest.
// Cost: reads in proportion to the repository's tags and revisions, not to their product.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/lifecycle/retention.h"
#include "common/store/store.h"

namespace regfs::lifecycle {

struct RetentionRunOptions {
  std::vector<RetentionPolicy> policies;
  std::vector<ImmutableRule> immutable;
  bool dryRun = false;
  // The time rules compare push times with; a test's own clock.
  std::function<TimePoint()> now = [] { return std::chrono::system_clock::now(); };
  // How long one reading of what a repository's tags and new revisions hold on to serves
  // the checks before its untagged manifests are removed (see above).
  std::chrono::nanoseconds recheckAfter = std::chrono::seconds(1);
  // Called with a repository's plan after it is decided and before it is applied.
  std::function<void(const RetentionPlan&)> decided;
  // Called after each removal (not in a dry run): `tag` set for a tag, else the manifest.
  std::function<void(const RepoName&, const std::optional<Tag>& tag, const Digest& manifest)>
      removed;
};

struct RetentionReport {
  std::vector<RetentionPlan> plans;  // the repositories a policy selects
  size_t repositories = 0;           // every repository seen
  size_t tagsRemoved = 0;            // (would be, in a dry run)
  size_t manifestsRemoved = 0;
  // Removals the plan held but the store refused or a write in the meantime overtook, and
  // repositories whose manifests could not be read (their untagged manifests are kept).
  std::vector<std::string> skipped;
};

// Reads what decideRetention needs of `repo`; `withManifests` for RepositoryState::manifests.
// Throws Error(kIo) when a manifest cannot be read or parsed.
RepositoryState readRepositoryState(const Repository& repo, bool withManifests);

RetentionReport runRetention(Store& store, const RetentionRunOptions& options);

}  // namespace regfs::lifecycle
