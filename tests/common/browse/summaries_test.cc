// The web UI's registry-wide figures kept between requests (common/browse/summaries.h): what
// is pushed, tagged, untagged and deleted through the store shows in the next catalog
// answer without a read of the whole store; what another process changes shows once the
// figures are older than the refresh and read again.
#include "common/browse/summaries.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/storage/observed_driver.h"
#include "common/store/layout.h"
#include "support/poll.h"
#include "support/process.h"
#include "support/store_builder.h"

namespace regfs::browse {
namespace {

using namespace regfs::testing;
using namespace std::chrono_literals;

class StoreSummariesTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::shared_ptr<ObservedDriver> observed =
      std::make_shared<ObservedDriver>(makeFsDriver(dir.path().string()));
  Store store{observed};                       // changes through this one are observed
  Store other = Store::openLocal(dir.path());  // another process's
  FactCache facts;

  std::unique_ptr<StoreSummaries> summaries(std::chrono::nanoseconds refresh) {
    auto s = std::make_unique<StoreSummaries>(store, facts, refresh);
    observed->observe([p = s.get()](std::string_view path) { p->changed(path); });
    return s;
  }
  static std::vector<std::string> names(const CatalogSummaries& all) {
    std::vector<std::string> out;
    for (const RepositorySummary& s : all) out.push_back(s.name + ":" + std::to_string(s.tags));
    return out;
  }
  void push(Store& s, const std::string& name, const std::string& tag, const std::string& layer) {
    Repository repo = s.repository(RepoName::parse(name));
    BuiltImage image = pushImage(s, repo, {layer});
    repo.putTag(Tag::parse(tag), image.manifest);
  }
};

TEST_F(StoreSummariesTest, ChangesThroughTheStoreShowInTheNextAnswer) {
  push(store, "team/app", "1", "a");
  auto s = summaries(1h);
  EXPECT_EQ(names(*s->catalog()), (std::vector<std::string>{"team/app:1"}));

  push(store, "team/app", "2", "b");
  push(store, "team/app/sub", "x", "c");
  push(store, "a-first", "x", "d");
  EXPECT_EQ(names(*s->catalog()),
            (std::vector<std::string>{"a-first:1", "team/app:2", "team/app/sub:1"}))
      << "in catalog order";

  Repository app = store.repository(RepoName::parse("team/app"));
  ASSERT_TRUE(app.deleteTag(Tag::parse("1")));
  EXPECT_EQ(names(*s->catalog()),
            (std::vector<std::string>{"a-first:1", "team/app:1", "team/app/sub:1"}));

  // A directory above repositories removed whole takes every repository below it.
  observed->remove(layout::repositoryDir("team"));
  EXPECT_EQ(names(*s->catalog()), (std::vector<std::string>{"a-first:1"}));
}

TEST_F(StoreSummariesTest, AnswersFromWhatItKeptUntilTheRefresh) {
  push(store, "team/app", "1", "a");
  auto s = summaries(1h);
  auto first = s->catalog();
  push(other, "team/other", "1", "b");
  EXPECT_EQ(s->catalog(), first) << "another process's push is not seen, and nothing is read";
}

TEST_F(StoreSummariesTest, AnotherProcesssChangesShowOnceOlderThanTheRefresh) {
  push(store, "team/app", "1", "a");
  auto s = summaries(200ms);
  ASSERT_EQ(s->catalog()->size(), 1u);
  push(other, "team/other", "1", "b");
  std::this_thread::sleep_for(300ms);
  // The request that finds them older than the refresh has them read again in the
  // background; an answer after that has the change.
  EXPECT_TRUE(waitUntil([&] { return s->catalog()->size() == 2; }));
  // And changes through the store still show at once.
  push(store, "team/third", "1", "c");
  EXPECT_EQ(names(*s->catalog()),
            (std::vector<std::string>{"team/app:1", "team/other:1", "team/third:1"}));
}

TEST_F(StoreSummariesTest, StorageIsReadAgainInTheBackgroundAfterAChange) {
  push(store, "team/app", "1", "layer-a");
  auto s = summaries(1h);
  EXPECT_EQ(s->storage()->repositories, 1u);
  push(store, "team/other", "1", "layer-b");
  EXPECT_TRUE(waitUntil([&] { return s->storage()->repositories == 2; }));
}

TEST_F(StoreSummariesTest, ARefreshOfZeroReadsTheStoreEveryTime) {
  push(store, "team/app", "1", "a");
  StoreSummaries s(other, facts, 0s);  // no observer at all
  EXPECT_EQ(s.catalog()->size(), 1u);
  push(other, "team/other", "1", "b");
  EXPECT_EQ(s.catalog()->size(), 2u);
  EXPECT_EQ(s.storage()->repositories, 2u);
}

// A repository's tag names and push dates (for its tag pages) are read once and kept: a
// change marked on it drops them, changes elsewhere do not, another process's change shows
// once they are older than the refresh, and only the last kTagLinksKept repositories asked
// for are kept.
TEST_F(StoreSummariesTest, TagLinksAreKeptUntilAChangeMarksTheirRepository) {
  push(store, "team/app", "1", "a");
  push(store, "team/app", "2", "b");
  push(store, "team/other", "1", "c");
  Repository app = store.repository(RepoName::parse("team/app"));
  auto tags = [](const TagLinks& links) {
    std::vector<std::string> out;
    for (const auto& [tag, info] : links) out.push_back(tag.str());
    return out;
  };
  auto s = summaries(1h);
  auto first = s->tagLinks(app);
  EXPECT_EQ(tags(*first), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(s->tagLinks(app), first) << "kept: not read again";
  push(other, "team/app", "3", "d");
  EXPECT_EQ(s->tagLinks(app), first) << "another process's tag is not seen before the refresh";
  push(store, "team/other", "2", "e");
  EXPECT_EQ(s->tagLinks(app), first) << "a change to another repository keeps these";

  app.putTag(Tag::parse("4"), app.resolveTag(Tag::parse("1")).value());
  auto second = s->tagLinks(app);
  EXPECT_EQ(tags(*second), (std::vector<std::string>{"1", "2", "3", "4"}));
  ASSERT_TRUE(app.deleteTag(Tag::parse("2")));
  EXPECT_EQ(tags(*s->tagLinks(app)), (std::vector<std::string>{"1", "3", "4"}));
  observed->remove(layout::repositoryDir("team"));
  EXPECT_TRUE(s->tagLinks(app)->empty()) << "a directory above it removed whole drops them";

  // Only the last kTagLinksKept repositories asked for are kept.
  push(store, "many/r0", "1", "f");
  Repository r0 = store.repository(RepoName::parse("many/r0"));
  auto kept = s->tagLinks(r0);
  for (size_t i = 1; i <= StoreSummaries::kTagLinksKept; ++i) {
    std::string name = "many/r" + std::to_string(i);
    push(store, name, "1", "f");
    s->tagLinks(store.repository(RepoName::parse(name)));
  }
  EXPECT_NE(s->tagLinks(r0), kept) << "the least recently asked for went";
}

TEST_F(StoreSummariesTest, TagLinksOlderThanTheRefreshAreReadAgain) {
  push(store, "team/app", "1", "a");
  Repository app = store.repository(RepoName::parse("team/app"));
  auto s = summaries(200ms);
  ASSERT_EQ(s->tagLinks(app)->size(), 1u);
  push(other, "team/app", "2", "b");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(s->tagLinks(app)->size(), 2u);

  StoreSummaries every(other, facts, 0s);
  Repository seen = other.repository(RepoName::parse("team/app"));
  EXPECT_NE(every.tagLinks(seen), every.tagLinks(seen)) << "a refresh of zero keeps nothing";
}

}  // namespace
}  // namespace regfs::browse
