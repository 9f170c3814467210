#include "common/lifecycle/immutable.h"

#include "common/error.h"

namespace regfs::lifecycle {

std::optional<ImmutableMatch> immutableRuleFor(const std::vector<ImmutableRule>& rules,
                                               const RepoName& repository, const Tag& tag) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const ImmutableRule& rule = rules[i];
    bool selected = false;
    std::string globs;
    for (const NameGlob& glob : rule.repositories) {
      selected = selected || glob.matches(repository.str());
      globs += (globs.empty() ? "" : ", ") + glob.str();
    }
    if (!selected) continue;
    for (const TagPattern& pattern : rule.tags) {
      if (pattern.matches(tag.str())) return ImmutableMatch{i, globs, pattern.str()};
    }
  }
  return std::nullopt;
}

std::string describeImmutable(const ImmutableMatch& match) {
  return "regfs.immutable[" + std::to_string(match.rule) + "] (repositories " + match.repositories +
         ", tags " + match.pattern + ")";
}

void requireMutable(const std::vector<ImmutableRule>& rules, const RepoName& repository,
                    const Tag& tag, const std::optional<Digest>& current,
                    const std::optional<Digest>& next) {
  if (!current || (next && *next == *current)) return;
  auto match = immutableRuleFor(rules, repository, tag);
  if (!match) return;
  throw Error(ErrorKind::kDenied, "tag " + repository.str() + ":" + tag.str() +
                                      " is immutable by " + describeImmutable(*match) +
                                      (next ? ": it cannot be moved" : ": it cannot be deleted"));
}

void requireManifestDeletable(const std::vector<ImmutableRule>& rules, const Repository& repo,
                              const Digest& manifest) {
  bool selected = false;
  for (const ImmutableRule& rule : rules) {
    for (const NameGlob& glob : rule.repositories)
      selected = selected || glob.matches(repo.name().str());
  }
  if (!selected) return;  // no rule here: spare the read of every tag
  for (const Tag& tag : repo.tagsFor(manifest))
    requireMutable(rules, repo.name(), tag, manifest, std::nullopt);
}

}  // namespace regfs::lifecycle
