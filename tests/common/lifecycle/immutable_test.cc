// Immutable tag rules and the patterns they select with.
#include "common/lifecycle/immutable.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "support/error_kind.h"

namespace regfs::lifecycle {
namespace {

using ::testing::HasSubstr;

ImmutableRule rule(const std::string& glob, const std::string& pattern) {
  ImmutableRule r;
  r.repositories.push_back(NameGlob::parse(glob));
  r.tags.push_back(TagPattern::parse(pattern));
  return r;
}

TEST(NameGlobTest, StarStaysInOneComponentDoubleStarCrosses) {
  EXPECT_TRUE(NameGlob::parse("team/*").matches("team/app"));
  EXPECT_FALSE(NameGlob::parse("team/*").matches("team/app/x"));
  EXPECT_FALSE(NameGlob::parse("team/*").matches("team"));
  EXPECT_TRUE(NameGlob::parse("team/**").matches("team/app/x"));
  EXPECT_TRUE(NameGlob::parse("**").matches("a/b/c"));
  EXPECT_TRUE(NameGlob::parse("*/app").matches("team/app"));
  EXPECT_FALSE(NameGlob::parse("*/app").matches("a/b/app"));
  EXPECT_TRUE(NameGlob::parse("**/app").matches("a/b/app"));
  EXPECT_TRUE(NameGlob::parse("app-?").matches("app-1"));
  EXPECT_FALSE(NameGlob::parse("a?b").matches("a/b"));
  EXPECT_FALSE(NameGlob::parse("library/alpine").matches("library/alpine2"));
}

TEST(NameGlobTest, BadGlobsAreRefused) {
  for (const char* bad : {"", "Team/*", "team/[ab]", "a***", "a b"}) {
    EXPECT_THROW(NameGlob::parse(bad), Error) << bad;
  }
}

TEST(NameGlobTest, ManyStarsCostLittle) {
  std::string glob;
  for (int i = 0; i < 60; ++i) glob += "*a";
  EXPECT_FALSE(NameGlob::parse(glob).matches(std::string(200, 'a') + "b"));
}

TEST(TagPatternTest, MatchesTheWholeTag) {
  TagPattern p = TagPattern::parse("v[0-9]+");
  EXPECT_TRUE(p.matches("v12"));
  EXPECT_FALSE(p.matches("v12-rc"));
  EXPECT_FALSE(p.matches("xv12"));
  EXPECT_THROW(TagPattern::parse("v(["), Error);
  EXPECT_THROW(TagPattern::parse(""), Error);
}

TEST(ImmutableTest, FirstMatchingRuleIsNamed) {
  std::vector<ImmutableRule> rules = {rule("prod/*", "v.*"), rule("**", "stable")};
  auto match = immutableRuleFor(rules, RepoName::parse("prod/app"), Tag::parse("v1"));
  ASSERT_TRUE(match);
  EXPECT_EQ(describeImmutable(*match), "regfs.immutable[0] (repositories prod/*, tags v.*)");
  match = immutableRuleFor(rules, RepoName::parse("dev/app"), Tag::parse("stable"));
  ASSERT_TRUE(match);
  EXPECT_EQ(match->rule, 1u);
  EXPECT_FALSE(immutableRuleFor(rules, RepoName::parse("dev/app"), Tag::parse("v1")));
}

TEST(ImmutableTest, MovesAndDeletesAreDeniedSamePushIsNot) {
  std::vector<ImmutableRule> rules = {rule("prod/**", "v.*")};
  RepoName repo = RepoName::parse("prod/app");
  Digest a = Digest::of("a"), b = Digest::of("b");
  EXPECT_NO_THROW(requireMutable(rules, repo, Tag::parse("v1"), std::nullopt, a));  // first push
  EXPECT_NO_THROW(requireMutable(rules, repo, Tag::parse("v1"), a, a));             // same digest
  EXPECT_NO_THROW(requireMutable(rules, repo, Tag::parse("latest"), a, b));         // not matched
  std::string moved = testing::errorMessage(
      ErrorKind::kDenied, [&] { requireMutable(rules, repo, Tag::parse("v1"), a, b); });
  EXPECT_THAT(moved, HasSubstr("regfs.immutable[0] (repositories prod/**, tags v.*)"));
  EXPECT_THAT(moved, HasSubstr("cannot be moved"));
  EXPECT_THAT(testing::errorMessage(
                  ErrorKind::kDenied,
                  [&] { requireMutable(rules, repo, Tag::parse("v1"), a, std::nullopt); }),
              HasSubstr("cannot be deleted"));
}

}  // namespace
}  // namespace regfs::lifecycle
