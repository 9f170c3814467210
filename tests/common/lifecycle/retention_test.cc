// decideRetention against hand-computed expected sets: each rule alone, then combined.
#include "common/lifecycle/retention.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace regfs::lifecycle {
namespace {

using std::chrono::hours;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

Digest digestOf(const std::string& s) { return Digest::of(s); }

TagState tag(const std::string& name, int hoursAgo, const std::string& manifest = "") {
  return TagState{Tag::parse(name), digestOf(manifest.empty() ? name : manifest),
                  kNow - hours(hoursAgo)};
}

ManifestState manifest(const std::string& name, int hoursAgo,
                       std::vector<std::string> children = {},
                       std::optional<std::string> subject = std::nullopt) {
  ManifestState m{digestOf(name), kNow - hours(hoursAgo), {}, std::nullopt};
  for (const auto& c : children) m.children.push_back(digestOf(c));
  if (subject) m.subject = digestOf(*subject);
  return m;
}

RetentionPolicy policy(const std::string& glob = "**") {
  RetentionPolicy p;
  p.repositories.push_back(NameGlob::parse(glob));
  return p;
}

std::set<std::string> removedTags(const RetentionPlan& plan) {
  std::set<std::string> out;
  for (const TagVerdict& t : plan.tags) {
    if (t.remove) out.insert(t.tag.tag.str());
  }
  return out;
}

std::set<Digest> removedManifests(const RetentionPlan& plan) {
  std::set<Digest> out;
  for (const ManifestVerdict& m : plan.untagged) {
    if (m.remove) out.insert(m.digest);
  }
  return out;
}

const TagVerdict& verdict(const RetentionPlan& plan, const std::string& name) {
  for (const TagVerdict& t : plan.tags) {
    if (t.tag.tag.str() == name) return t;
  }
  throw std::runtime_error("no tag " + name);
}

RetentionPlan decide(const RepositoryState& state, const RetentionPolicy& p,
                     const std::vector<ImmutableRule>& immutable = {}) {
  return decideRetention(state, {p}, immutable, kNow);
}

RepositoryState repo(std::vector<TagState> tags, std::vector<ManifestState> manifests = {}) {
  return RepositoryState{RepoName::parse("team/app"), std::move(tags), std::move(manifests)};
}

TEST(RetentionTest, NoPolicyKeepsEverything) {
  RetentionPolicy other = policy("other/*");
  other.keepLatest = 1;
  RetentionPlan plan = decide(repo({tag("a", 100), tag("b", 200)}), other);
  EXPECT_FALSE(plan.policy);
  EXPECT_TRUE(removedTags(plan).empty());
}

TEST(RetentionTest, PolicyWithoutTagRulesKeepsTags) {
  RetentionPlan plan = decide(repo({tag("a", 100)}), policy());
  EXPECT_TRUE(removedTags(plan).empty());
  EXPECT_EQ(verdict(plan, "a").reason, Reason::kNoTagRule);
}

TEST(RetentionTest, FirstMatchingPolicyApplies) {
  RetentionPolicy keepAll = policy("team/*");
  keepAll.keepTags.push_back(TagPattern::parse(".*"));
  RetentionPolicy keepOne = policy("**");
  keepOne.keepLatest = 1;
  RetentionPlan plan =
      decideRetention(repo({tag("a", 1), tag("b", 2)}), {keepAll, keepOne}, {}, kNow);
  EXPECT_EQ(plan.policy, 0u);
  EXPECT_TRUE(removedTags(plan).empty());
  // `*` does not cross "/": team/app/sub falls to the second policy.
  RepositoryState nested{RepoName::parse("team/app/sub"), {tag("a", 1), tag("b", 2)}, {}};
  plan = decideRetention(nested, {keepAll, keepOne}, {}, kNow);
  EXPECT_EQ(plan.policy, 1u);
  EXPECT_EQ(removedTags(plan), (std::set<std::string>{"b"}));
}

TEST(RetentionTest, KeepLatest) {
  RetentionPolicy p = policy();
  p.keepLatest = 2;
  RetentionPlan plan = decide(repo({tag("a", 5), tag("b", 1), tag("c", 3), tag("d", 2)}), p);
  EXPECT_EQ(removedTags(plan), (std::set<std::string>{"a", "c"}));
  EXPECT_EQ(verdict(plan, "b").reason, Reason::kLatest);
  EXPECT_EQ(verdict(plan, "a").reason, Reason::kNotKept);
  EXPECT_EQ(verdict(plan, "a").rule, "not among keeplatest 2");
}

TEST(RetentionTest, KeepLatestTieAtTheLastPlaceKeepsEveryTiedTag) {
  RetentionPolicy p = policy();
  p.keepLatest = 2;
  RetentionPlan plan = decide(repo({tag("a", 1), tag("b", 3), tag("c", 3), tag("d", 4)}), p);
  EXPECT_EQ(removedTags(plan), (std::set<std::string>{"d"}));
  p.keepLatest = 10;  // more than there are tags
  EXPECT_TRUE(removedTags(decide(repo({tag("a", 1), tag("b", 3)}), p)).empty());
}

TEST(RetentionTest, KeepTagsWholeTagMatch) {
  RetentionPolicy p = policy();
  p.keepTags.push_back(TagPattern::parse("v[0-9]+\\..*"));
  RetentionPlan plan = decide(repo({tag("v1.0", 900), tag("xv1.0", 1), tag("latest", 1)}), p);
  EXPECT_EQ(removedTags(plan), (std::set<std::string>{"xv1.0", "latest"}));
  EXPECT_EQ(verdict(plan, "v1.0").rule, "keeptags v[0-9]+\\..*");
}

TEST(RetentionTest, RemoveOlderThan) {
  RetentionPolicy p = policy();
  p.removeOlderThan = hours(24);
  RetentionPlan plan = decide(repo({tag("new", 23), tag("edge", 24), tag("old", 25)}), p);
  EXPECT_EQ(removedTags(plan), (std::set<std::string>{"old"}));
  EXPECT_EQ(verdict(plan, "old").reason, Reason::kOlder);
  EXPECT_EQ(verdict(plan, "old").rule, "removeolderthan 24h");
  EXPECT_EQ(verdict(plan, "edge").reason, Reason::kRecent);
}

TEST(RetentionTest, ProtectBeatsEveryRemoval) {
  RetentionPolicy p = policy();
  p.keepLatest = 1;
  p.removeOlderThan = hours(1);
  p.protectTags.push_back(TagPattern::parse("release-.*"));
  RetentionPlan plan = decide(repo({tag("release-1", 1000), tag("dev", 500), tag("top", 2)}), p);
  EXPECT_EQ(removedTags(plan), (std::set<std::string>{"dev"}));
  EXPECT_EQ(verdict(plan, "release-1").reason, Reason::kProtected);
  EXPECT_EQ(verdict(plan, "top").reason, Reason::kLatest);
}

TEST(RetentionTest, ImmutableTagsAreNeverRemoved) {
  RetentionPolicy p = policy();
  p.keepLatest = 1;
  ImmutableRule rule;
  rule.repositories.push_back(NameGlob::parse("team/**"));
  rule.tags.push_back(TagPattern::parse("v.*"));
  RetentionPlan plan = decide(repo({tag("v1", 1000), tag("dev", 500), tag("top", 2)}), p, {rule});
  EXPECT_EQ(removedTags(plan), (std::set<std::string>{"dev"}));
  EXPECT_EQ(verdict(plan, "v1").reason, Reason::kImmutable);
}

TEST(RetentionTest, KeepRulesCombineWithOr) {
  RetentionPolicy p = policy();
  p.keepLatest = 1;
  p.keepTags.push_back(TagPattern::parse("stable"));
  p.removeOlderThan = hours(48);
  RetentionPlan plan =
      decide(repo({tag("newest", 1), tag("stable", 900), tag("young", 47), tag("old", 49)}), p);
  EXPECT_EQ(removedTags(plan), (std::set<std::string>{"old"}));
  EXPECT_EQ(verdict(plan, "newest").reason, Reason::kLatest);
  EXPECT_EQ(verdict(plan, "stable").reason, Reason::kKeepTags);
  EXPECT_EQ(verdict(plan, "young").reason, Reason::kRecent);
}

TEST(RetentionTest, UntaggedManifestsOlderThanGo) {
  RetentionPolicy p = policy();
  p.untaggedOlderThan = hours(24);
  RetentionPlan plan = decide(
      repo({tag("a", 100, "m1")}, {manifest("m1", 100), manifest("old", 30), manifest("young", 2)}),
      p);
  EXPECT_EQ(removedManifests(plan), (std::set<Digest>{digestOf("old")}));
  ASSERT_EQ(plan.untagged.size(), 2u);  // m1 is tagged
}

TEST(RetentionTest, ManifestsOfRemovedTagsGoInTheSameRun) {
  RetentionPolicy p = policy();
  p.keepLatest = 1;
  p.untaggedOlderThan = hours(24);
  RetentionPlan plan =
      decide(repo({tag("new", 1, "m2"), tag("old", 100, "m1"), tag("alias", 90, "m2")},
                  {manifest("m1", 100), manifest("m2", 100)}),
             p);
  EXPECT_EQ(removedTags(plan), (std::set<std::string>{"old", "alias"}));
  // m2 stays: a kept tag still points at it.
  EXPECT_EQ(removedManifests(plan), (std::set<Digest>{digestOf("m1")}));
}

TEST(RetentionTest, ChildrenOfAKeptIndexStay) {
  RetentionPolicy p = policy();
  p.untaggedOlderThan = hours(1);
  RetentionPlan plan = decide(
      repo({tag("multi", 100, "index")},
           {manifest("index", 100, {"amd64", "arm64"}), manifest("amd64", 100),
            manifest("arm64", 100), manifest("oldindex", 100, {"armv7"}), manifest("armv7", 100)}),
      p);
  // The untagged old index goes, and its child with it; the tagged one's children stay.
  EXPECT_EQ(removedManifests(plan), (std::set<Digest>{digestOf("oldindex"), digestOf("armv7")}));
  for (const ManifestVerdict& m : plan.untagged) {
    if (m.digest == digestOf("amd64")) {
      EXPECT_EQ(m.reason, Reason::kIndexChild);
    }
  }
}

TEST(RetentionTest, ChildrenOfAYoungUntaggedIndexStay) {
  RetentionPolicy p = policy();
  p.untaggedOlderThan = hours(24);
  RetentionPlan plan =
      decide(repo({}, {manifest("index", 1, {"child"}), manifest("child", 100)}), p);
  EXPECT_TRUE(removedManifests(plan).empty());
}

TEST(RetentionTest, ReferrersOfKeptManifestsStayUnlessAsked) {
  RetentionPolicy p = policy();
  p.untaggedOlderThan = hours(1);
  RepositoryState state =
      repo({tag("a", 100, "image")},
           {manifest("image", 100), manifest("sig", 100, {}, "image"),
            manifest("sigsig", 100, {}, "sig"), manifest("orphan", 100, {}, "gone")});
  RetentionPlan plan = decide(state, p);
  // Transitively: a referrer of a kept referrer stays too; one of a missing subject goes.
  EXPECT_EQ(removedManifests(plan), (std::set<Digest>{digestOf("orphan")}));
  p.deleteReferrers = true;
  plan = decide(state, p);
  EXPECT_EQ(removedManifests(plan),
            (std::set<Digest>{digestOf("sig"), digestOf("sigsig"), digestOf("orphan")}));
}

TEST(RetentionTest, ReferrersOfRemovedManifestsGo) {
  RetentionPolicy p = policy();
  p.keepLatest = 1;
  p.untaggedOlderThan = hours(1);
  RetentionPlan plan =
      decide(repo({tag("new", 1, "m2"), tag("old", 100, "m1")},
                  {manifest("m1", 100), manifest("m2", 100), manifest("sig1", 100, {}, "m1"),
                   manifest("sig2", 100, {}, "m2")}),
             p);
  EXPECT_EQ(removedManifests(plan), (std::set<Digest>{digestOf("m1"), digestOf("sig1")}));
}

TEST(RetentionTest, WithoutUntaggedRuleNoManifestIsDecided) {
  RetentionPolicy p = policy();
  p.keepLatest = 1;
  RetentionPlan plan = decide(repo({tag("new", 1, "m2"), tag("old", 100, "m1")},
                                   {manifest("m1", 100), manifest("m2", 100)}),
                              p);
  EXPECT_TRUE(plan.untagged.empty());
  EXPECT_EQ(plan.tagsRemoved(), 1u);
}

}  // namespace
}  // namespace regfs::lifecycle
