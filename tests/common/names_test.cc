#include "common/names.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/error.h"

namespace regfs {
namespace {

TEST(RepoName, AcceptsDistributionGrammar) {
  for (std::string_view good : {"a", "alpine", "library/alpine", "a.b", "a_b", "a__b", "a---b",
                                "my-org/sub.team/app_1", "0", "a/b/c/d/e"}) {
    EXPECT_TRUE(RepoName::tryParse(good)) << good;
  }
  EXPECT_TRUE(RepoName::tryParse(std::string(255, 'a')));
}

TEST(RepoName, RejectsWithReason) {
  for (std::string_view bad :
       {"", "Alpine", "/a", "a/", "a//b", "..", "a/../b", "a/./b", "_a", "a/_manifests", "a___b",
        "a.-b", "-a", "a-", "a b", "a:b", "a%2fb", "a\\b", "é"}) {
    EXPECT_FALSE(RepoName::tryParse(bad)) << bad;
  }
  EXPECT_FALSE(RepoName::tryParse(std::string(256, 'a')));
  try {
    RepoName::parse("Bad/name");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNameInvalid);
    EXPECT_NE(std::string(e.what()).find("\"Bad\""), std::string::npos) << e.what();
  }
}

TEST(Tag, AcceptsAndRejects) {
  for (std::string_view good : {"latest", "v1.2.3", "_x", "A-b_c.d", "1"}) {
    EXPECT_TRUE(Tag::tryParse(good)) << good;
  }
  EXPECT_TRUE(Tag::tryParse(std::string(128, 'a')));
  for (std::string_view bad : {"", ".x", "-x", "a/b", "a:b", "..", "a b", "sha256:abc"}) {
    EXPECT_FALSE(Tag::tryParse(bad)) << bad;
  }
  EXPECT_FALSE(Tag::tryParse(std::string(129, 'a')));
  try {
    Tag::parse("a/b");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kTagInvalid);
  }
}

TEST(CatalogLess, ComparesComponentWise) {
  std::vector<std::string> names = {"a-b", "a/b", "a", "ab", "a/b/c", "a.b"};
  std::sort(names.begin(), names.end(), [](auto& x, auto& y) { return catalogLess(x, y); });
  EXPECT_EQ(names, (std::vector<std::string>{"a", "a/b", "a/b/c", "a-b", "a.b", "ab"}));
}

}  // namespace
}  // namespace regfs
