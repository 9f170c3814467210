// layout::splitRepositoryPath: the repository (or namespace) a driver path lies in.
#include "common/store/layout.h"

#include <gtest/gtest.h>

namespace regfs::layout {
namespace {

TEST(SplitRepositoryPath, TheNameEndsAtTheFirstUnderscoreDirectory) {
  RepoName repo = RepoName::parse("team/app");
  auto tag = splitRepositoryPath(tagCurrentLink(repo, Tag::parse("v1")));
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->name, "team/app");
  EXPECT_EQ(tag->rest, "_manifests/tags/v1/current/link");
  auto namespaceDir = splitRepositoryPath(repositoryDir("team"));
  ASSERT_TRUE(namespaceDir);
  EXPECT_EQ(namespaceDir->name, "team");
  EXPECT_EQ(namespaceDir->rest, "");
  EXPECT_EQ(splitRepositoryPath(uploadsDir(repo))->rest, "_uploads");
}

TEST(SplitRepositoryPath, NothingOutsideRepositories) {
  EXPECT_FALSE(splitRepositoryPath(blobData(Digest::of("x"))));
  EXPECT_FALSE(splitRepositoryPath(repositoriesRoot()));
  EXPECT_FALSE(splitRepositoryPath(repositoriesRoot() + "/"));
  EXPECT_FALSE(splitRepositoryPath(repositoriesRoot() + "/_odd/x"));
  EXPECT_FALSE(splitRepositoryPath(repositoriesRoot() + "x/a"));
}

}  // namespace
}  // namespace regfs::layout
