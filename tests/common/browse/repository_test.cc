#include "common/browse/repository.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/store/layout.h"
#include "support/process.h"
#include "support/store_builder.h"

namespace regfs::browse {
namespace {

using namespace regfs::testing;

class RepositoryViewTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  Repository repo = store.repository(RepoName::parse("team/app"));
  FactCache cache;

  // Tags `tag` at `digest`, pushed `secondsAgo` before now (its current link's mtime).
  void tagAt(const std::string& tag, const Digest& digest, time_t pushed) {
    repo.putTag(Tag::parse(tag), digest);
    setMtime(layout::tagCurrentLink(repo.name(), Tag::parse(tag)), pushed);
  }
  void setMtime(const std::string& driverPath, time_t t) {
    timespec times[2] = {{t, 0}, {t, 0}};
    std::string path = dir.path().string() + driverPath;
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
  }
  std::vector<std::string> names(const TagPage& page) {
    std::vector<std::string> out;
    for (const TagRow& row : page.tags) out.push_back(row.tag.str());
    return out;
  }
};

TEST_F(RepositoryViewTest, TagsSortAcrossPagesByPushNameOrSize) {
  BuiltImage small = pushImage(store, repo, {"s"});
  BuiltImage big = pushImage(store, repo, {std::string(5000, 'b')});
  tagAt("b", small.manifest, 1000);
  tagAt("a", big.manifest, 3000);
  tagAt("c", small.manifest, 2000);
  tagAt("d", small.manifest, 3000);

  TagQuery q;  // pushed, newest first, ties by name
  q.limit = 3;
  TagPage first = tagPage(store, repo, cache, q);
  EXPECT_EQ(first.total, 4u);
  EXPECT_EQ(names(first), (std::vector<std::string>{"a", "d", "c"}));
  EXPECT_EQ(first.tags[0].pushed.tv_sec, 3000);
  EXPECT_EQ(first.tags[0].digest, big.manifest);
  q.offset = 3;
  EXPECT_EQ(names(tagPage(store, repo, cache, q)), (std::vector<std::string>{"b"}));
  q.offset = 10;
  EXPECT_TRUE(tagPage(store, repo, cache, q).tags.empty());

  q = TagQuery{TagSort::kName, true, "", 0, 10};
  EXPECT_EQ(names(tagPage(store, repo, cache, q)), (std::vector<std::string>{"d", "c", "b", "a"}));
  q = TagQuery{TagSort::kSize, false, "", 0, 10};
  TagPage bySize = tagPage(store, repo, cache, q);
  EXPECT_EQ(names(bySize), (std::vector<std::string>{"b", "c", "d", "a"}));
  EXPECT_LT(bySize.tags[0].size, bySize.tags[3].size);
  q = TagQuery{TagSort::kPushed, false, "c", 0, 10};
  TagPage filtered = tagPage(store, repo, cache, q);
  EXPECT_EQ(filtered.total, 1u);
  EXPECT_EQ(names(filtered), (std::vector<std::string>{"c"}));
}

TEST_F(RepositoryViewTest, ASummaryCountsSharedBlobsOnce) {
  BuiltImage one = pushImage(store, repo, {"shared", "one"});
  BuiltImage two = pushImage(store, repo, {"shared", "two"});
  tagAt("1", one.manifest, 1000);
  tagAt("2", two.manifest, 2000);
  RepositorySummary s = summarize(store, repo, cache);
  EXPECT_EQ(s.name, "team/app");
  EXPECT_EQ(s.tags, 2u);
  EXPECT_EQ(s.manifests, 2u);
  ASSERT_TRUE(s.pushed);
  EXPECT_EQ(s.pushed->tv_sec, 2000);
  EXPECT_EQ(s.size, one.bytes.size() + two.bytes.size() + store.readBlob(one.config).size() +
                        store.readBlob(two.config).size() + 6 + 3 + 3);

  Repository empty = store.repository(RepoName::parse("team/empty"));
  pushImage(store, empty, {"x"});
  EXPECT_FALSE(summarize(store, empty, cache).pushed) << "no tag, no push date";
}

TEST_F(RepositoryViewTest, UntaggedLeavesOutTaggedIndexChildrenAndReferrers) {
  BuiltImage amd = pushImage(store, repo, {"amd"}, "amd64");
  BuiltImage arm = pushImage(store, repo, {"arm"}, "arm64");
  Digest index = pushIndex(repo, {amd, arm});
  repo.putTag(Tag::parse("latest"), index);
  BuiltImage sig = pushImage(store, repo, {"sig"}, "amd64", amd);
  BuiltImage old = pushImage(store, repo, {"old"});
  BuiltImage older = pushImage(store, repo, {"older"});
  setMtime(layout::revisionLink(repo.name(), old.manifest), 2000);
  setMtime(layout::revisionLink(repo.name(), older.manifest), 1000);

  std::vector<ManifestRow> untagged = listRevisions(store, repo, cache, true);
  ASSERT_EQ(untagged.size(), 2u);
  EXPECT_EQ(untagged[0].digest, old.manifest) << "newest first";
  EXPECT_EQ(untagged[0].pushed.tv_sec, 2000);
  EXPECT_EQ(untagged[1].digest, older.manifest);
  EXPECT_EQ(listRevisions(store, repo, cache, false).size(), 6u);
  (void)sig;
}

}  // namespace
}  // namespace regfs::browse
