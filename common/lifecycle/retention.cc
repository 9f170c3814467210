#include "common/lifecycle/retention.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "common/lifecycle/immutable.h"

namespace regfs::lifecycle {
namespace {

using std::chrono::nanoseconds;

// As config.yml writes it: "720h", "90m", "45s", "1500ms".
std::string durationText(nanoseconds d) {
  using namespace std::chrono;
  if (d % hours(1) == nanoseconds(0)) return std::to_string(duration_cast<hours>(d).count()) + "h";
  if (d % minutes(1) == nanoseconds(0))
    return std::to_string(duration_cast<minutes>(d).count()) + "m";
  if (d % seconds(1) == nanoseconds(0))
    return std::to_string(duration_cast<seconds>(d).count()) + "s";
  return std::to_string(duration_cast<milliseconds>(d).count()) + "ms";
}

const TagPattern* firstMatch(const std::vector<TagPattern>& patterns, const Tag& tag) {
  for (const TagPattern& p : patterns) {
    if (p.matches(tag.str())) return &p;
  }
  return nullptr;
}

bool olderThan(TimePoint pushed, TimePoint now, nanoseconds age) { return now - pushed > age; }

// The push time of the keeplatest-th most recent tag: tags pushed then or later are kept.
std::optional<TimePoint> latestCutoff(const std::vector<TagState>& tags, std::optional<size_t> n) {
  if (!n || tags.empty()) return std::nullopt;
  std::vector<TimePoint> times;
  times.reserve(tags.size());
  for (const TagState& t : tags) times.push_back(t.pushed);
  size_t k = std::min(*n, times.size());
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(k - 1), times.end(),
                   std::greater<>());
  return times[k - 1];
}

TagVerdict decideTag(const TagState& tag, const RepoName& repository, const RetentionPolicy& policy,
                     const std::vector<ImmutableRule>& immutable, std::optional<TimePoint> latest,
                     TimePoint now) {
  auto kept = [&](Reason reason, std::string rule) {
    return TagVerdict{tag, false, reason, std::move(rule)};
  };
  if (const TagPattern* p = firstMatch(policy.protectTags, tag.tag))
    return kept(Reason::kProtected, "protecttags " + p->str());
  if (auto match = immutableRuleFor(immutable, repository, tag.tag))
    return kept(Reason::kImmutable, describeImmutable(*match));
  if (!policy.keepLatest && policy.keepTags.empty() && !policy.removeOlderThan)
    return kept(Reason::kNoTagRule, "no tag rule");
  if (latest && tag.pushed >= *latest)
    return kept(Reason::kLatest, "keeplatest " + std::to_string(*policy.keepLatest));
  if (const TagPattern* p = firstMatch(policy.keepTags, tag.tag))
    return kept(Reason::kKeepTags, "keeptags " + p->str());
  if (policy.removeOlderThan) {
    std::string rule = "removeolderthan " + durationText(*policy.removeOlderThan);
    if (!olderThan(tag.pushed, now, *policy.removeOlderThan)) return kept(Reason::kRecent, rule);
    return TagVerdict{tag, true, Reason::kOlder, rule};
  }
  std::string rule;
  if (policy.keepLatest) rule = "not among keeplatest " + std::to_string(*policy.keepLatest);
  if (!policy.keepTags.empty()) rule += (rule.empty() ? "" : ", ") + std::string("no keeptags");
  return TagVerdict{tag, true, Reason::kNotKept, rule};
}

// The untagged manifests' verdicts: kept when young, or reached from a kept manifest
// (tagged, young, or itself reached) as an index child or, unless the policy deletes
// them, as a referrer.
std::vector<ManifestVerdict> decideUntagged(const RepositoryState& state,
                                            const RetentionPolicy& policy,
                                            const std::vector<TagVerdict>& tags, TimePoint now) {
  std::map<Digest, const ManifestState*> byDigest;
  std::multimap<Digest, Digest> referrersOf;  // subject -> referrer
  for (const ManifestState& m : state.manifests) {
    byDigest[m.digest] = &m;
    if (m.subject) referrersOf.emplace(*m.subject, m.digest);
  }
  std::map<Digest, ManifestVerdict> untagged;
  std::set<Digest> kept;
  std::deque<Digest> reach;  // kept manifests whose children and referrers are still to visit
  for (const TagVerdict& t : tags) {
    if (!t.remove && kept.insert(t.tag.manifest).second) reach.push_back(t.tag.manifest);
  }
  const nanoseconds age = *policy.untaggedOlderThan;
  const std::string ageRule = "untaggedolderthan " + durationText(age);
  for (const ManifestState& m : state.manifests) {
    if (kept.count(m.digest)) continue;
    bool old = olderThan(m.pushed, now, age);
    untagged.emplace(m.digest,
                     ManifestVerdict{m.digest, m.pushed, old,
                                     old ? Reason::kUntaggedOld : Reason::kUntaggedYoung, ageRule});
    if (!old && kept.insert(m.digest).second) reach.push_back(m.digest);
  }
  auto keep = [&](const Digest& d, Reason reason, const Digest& from) {
    auto it = untagged.find(d);
    if (it == untagged.end() || !it->second.remove) return;
    it->second.remove = false;
    it->second.reason = reason;
    it->second.rule = (reason == Reason::kIndexChild ? "child of " : "referrer of ") + from.str();
    if (kept.insert(d).second) reach.push_back(d);
  };
  while (!reach.empty()) {
    Digest d = reach.front();
    reach.pop_front();
    if (auto it = byDigest.find(d); it != byDigest.end()) {
      for (const Digest& child : it->second->children) keep(child, Reason::kIndexChild, d);
    }
    if (policy.deleteReferrers) continue;
    auto [first, last] = referrersOf.equal_range(d);
    for (auto it = first; it != last; ++it) keep(it->second, Reason::kReferrer, d);
  }
  std::vector<ManifestVerdict> out;
  for (const ManifestState& m : state.manifests) {
    if (auto it = untagged.find(m.digest); it != untagged.end()) out.push_back(it->second);
  }
  return out;
}

}  // namespace

std::string_view reasonKey(Reason reason) {
  switch (reason) {
    case Reason::kProtected:
      return "protecttags";
    case Reason::kImmutable:
      return "immutable";
    case Reason::kNoTagRule:
      return "notagrule";
    case Reason::kLatest:
      return "keeplatest";
    case Reason::kKeepTags:
      return "keeptags";
    case Reason::kRecent:
      return "removeolderthan";
    case Reason::kOlder:
      return "removeolderthan";
    case Reason::kNotKept:
      return "notkept";
    case Reason::kIndexChild:
      return "indexchild";
    case Reason::kReferrer:
      return "referrer";
    case Reason::kUntaggedYoung:
      return "untaggedolderthan";
    case Reason::kUntaggedOld:
      return "untaggedolderthan";
  }
  return "";
}

size_t RetentionPlan::tagsRemoved() const {
  return static_cast<size_t>(
      std::count_if(tags.begin(), tags.end(), [](const TagVerdict& t) { return t.remove; }));
}

size_t RetentionPlan::manifestsRemoved() const {
  return static_cast<size_t>(std::count_if(untagged.begin(), untagged.end(),
                                           [](const ManifestVerdict& m) { return m.remove; }));
}

std::optional<size_t> policyFor(const std::vector<RetentionPolicy>& policies,
                                const RepoName& repository) {
  for (size_t i = 0; i < policies.size(); ++i) {
    for (const NameGlob& glob : policies[i].repositories) {
      if (glob.matches(repository.str())) return i;
    }
  }
  return std::nullopt;
}

RetentionPlan decideRetention(const RepositoryState& state,
                              const std::vector<RetentionPolicy>& policies,
                              const std::vector<ImmutableRule>& immutable, TimePoint now) {
  RetentionPlan plan{state.name, policyFor(policies, state.name), {}, {}};
  if (!plan.policy) {
    for (const TagState& t : state.tags)
      plan.tags.push_back(TagVerdict{t, false, Reason::kNoTagRule, "no policy"});
    return plan;
  }
  const RetentionPolicy& policy = policies[*plan.policy];
  std::optional<TimePoint> latest = latestCutoff(state.tags, policy.keepLatest);
  for (const TagState& t : state.tags)
    plan.tags.push_back(decideTag(t, state.name, policy, immutable, latest, now));
  if (needsManifests(policy)) plan.untagged = decideUntagged(state, policy, plan.tags, now);
  return plan;
}

}  // namespace regfs::lifecycle
