#pragma once
// Retention: which tags and untagged manifests of one repository a run removes, and the rule
// that decided each. A pure function of the repository's state, the rules and the time, so
// every combination is tested without a store (common/lifecycle/retention_run.h applies it).
//
// How the rules combine (after zot's and Harbor's: the first policy whose repositories
// match a repository applies to it; inside a policy, tag rules say what to keep, and what no
// rule keeps goes):
//  - A repository no policy selects keeps everything.
//  - A tag is kept, in this order of reasons, when it matches protecttags; when it is
//    immutable (regfs.immutable); when its policy has no tag rule at all (keeplatest,
//    keeptags, removeolderthan); when it is among the keeplatest most recently pushed tags
//    (a tie at the last place keeps every tag tied with it); when it matches keeptags; when
//    it was pushed no longer than removeolderthan ago. Any other tag is removed.
//  - With untaggedolderthan, a manifest goes when no kept tag points at it, it was pushed
//    longer ago than that, it is no child of a kept index and, unless deletereferrers, no
//    referrer of a kept manifest (all transitively). Without it, no manifest goes: the
//    manifests of removed tags stay, for garbage-collect --delete-untagged.
// Push times: a tag's is its current link's mtime (when it last moved), a manifest's its
// revision link's (when it was first pushed to the repository).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/digest.h"
#include "common/names.h"

namespace regfs::lifecycle {

using TimePoint = std::chrono::system_clock::time_point;

struct TagState {
  Tag tag;
  Digest manifest;
  TimePoint pushed;
};

struct ManifestState {
  Digest digest;
  TimePoint pushed;
  std::vector<Digest> children;   // an index's manifests
  std::optional<Digest> subject;  // a referrer's subject
};

// What decideRetention reads of a repository. `manifests` lists every revision, with what
// each references; it is needed only when the policy has untaggedolderthan.
struct RepositoryState {
  RepoName name;
  std::vector<TagState> tags;
  std::vector<ManifestState> manifests;
};

enum class Reason {
  // kept tags
  kProtected,  // protecttags
  kImmutable,  // regfs.immutable
  kNoTagRule,  // the policy has no tag rule
  kLatest,     // keeplatest
  kKeepTags,   // keeptags
  kRecent,     // pushed within removeolderthan
  // removed tags
  kOlder,    // pushed longer ago than removeolderthan, kept by no rule
  kNotKept,  // kept by no rule (the policy has no removeolderthan)
  // manifests no kept tag points at
  kIndexChild,     // kept: a child of a kept index
  kReferrer,       // kept: a referrer of a kept manifest
  kUntaggedYoung,  // kept: pushed within untaggedolderthan
  kUntaggedOld,    // removed
};

// "protecttags", "keeplatest", ...: the config key a reason comes from.
std::string_view reasonKey(Reason reason);

struct TagVerdict {
  TagState tag;
  bool remove = false;
  Reason reason = Reason::kNoTagRule;
  std::string rule;  // the rule, as a reader finds it: "keeplatest 3", "protecttags ^v.*"
};

struct ManifestVerdict {
  Digest digest;
  TimePoint pushed;
  bool remove = false;
  Reason reason = Reason::kUntaggedOld;
  std::string rule;
};

struct RetentionPlan {
  RepoName repository;
  std::optional<size_t> policy;  // index into regfs.retention.policies; none: all kept
  std::vector<TagVerdict> tags;  // every tag, in the order of the state
  // Every manifest no kept tag points at, when the policy has untaggedolderthan.
  std::vector<ManifestVerdict> untagged;

  size_t tagsRemoved() const;
  size_t manifestsRemoved() const;
};

// The first policy whose repositories match `repository`.
std::optional<size_t> policyFor(const std::vector<RetentionPolicy>& policies,
                                const RepoName& repository);

// Whether deciding for `policy` needs RepositoryState::manifests.
inline bool needsManifests(const RetentionPolicy& policy) {
  return policy.untaggedOlderThan.has_value();
}

RetentionPlan decideRetention(const RepositoryState& state,
                              const std::vector<RetentionPolicy>& policies,
                              const std::vector<ImmutableRule>& immutable, TimePoint now);

}  // namespace regfs::lifecycle
