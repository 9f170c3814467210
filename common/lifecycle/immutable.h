#pragma once
// Immutable tags (regfs.immutable): in a repository a rule's globs select, a tag matching one
// of its patterns, once pushed, can be neither moved to another manifest nor deleted, and the
// manifest it points at cannot be deleted by digest. Pushing the same manifest under it again
// is allowed (nothing moves). Every rule counts; the first that matches is the one named.
// The registry's handlers, retention and regfsctl all ask here, so they agree.

#include <optional>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/digest.h"
#include "common/names.h"
#include "common/store/store.h"

namespace regfs::lifecycle {

struct ImmutableMatch {
  size_t rule = 0;           // index into regfs.immutable
  std::string repositories;  // the rule's repository patterns, comma-separated
  std::string pattern;       // the tag pattern that matched
};

// The rule that makes `tag` of `repository` immutable, if any.
std::optional<ImmutableMatch> immutableRuleFor(const std::vector<ImmutableRule>& rules,
                                               const RepoName& repository, const Tag& tag);

// "regfs.immutable[0] (repositories prod/**, tags v.*)": how messages name a rule.
std::string describeImmutable(const ImmutableMatch& match);

// Throws Error(kDenied) naming the rule when `tag` of `repository` is immutable and exists
// (`current` is what it points at) and `next` is not that same manifest: a move (`next`
// set) or a delete (`next` empty).
void requireMutable(const std::vector<ImmutableRule>& rules, const RepoName& repository,
                    const Tag& tag, const std::optional<Digest>& current,
                    const std::optional<Digest>& next);

// Throws Error(kDenied) naming the rule when a tag of `repo` that points at `manifest` is
// immutable: deleting the manifest would delete the tag.
void requireManifestDeletable(const std::vector<ImmutableRule>& rules, const Repository& repo,
                              const Digest& manifest);

}  // namespace regfs::lifecycle
