#include "common/store/walk.h"

#include <gtest/gtest.h>

#include "common/store/layout.h"
#include "common/store/store.h"
#include "support/process.h"

namespace regfs {
namespace {

using testing::TempDir;

std::vector<std::string> namesOf(const std::vector<RepositoryListing>& repositories) {
  std::vector<std::string> names;
  for (const RepositoryListing& r : repositories) names.push_back(r.name.str());
  return names;
}

TEST(ListStoreTest, OneListingNamesEveryRepositoryLinkAndBlob) {
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  Repository alpine = store.repository(RepoName::parse("library/alpine"));
  Repository library = store.repository(RepoName::parse("library"));
  Digest layer = store.putBlob("a layer");
  alpine.linkLayer(layer);
  Digest old = alpine.putManifest("{\"old\":1}");
  Digest current = alpine.putManifest("{\"current\":1}");
  alpine.putTag(Tag::parse("3.19"), old);
  alpine.putTag(Tag::parse("3.19"), current);
  Digest other = library.putManifest("{\"other\":1}");
  store.repository(RepoName::parse("team/new")).startUpload();  // uploads only, no manifest yet
  Digest parked = store.putBlob("parked by a collection");
  store.driver().move(layout::blobDir(parked), layout::quarantineEntry(parked));
  store.driver().writeAtomic(layout::healthProbeFile(), "not a blob");
  store.driver().writeAtomic(layout::repositoryDir(std::string_view("team/_other")) + "/file", "ignored");

  StoreListing listing = listStore(store.driver());
  EXPECT_EQ(namesOf(listing.repositories), (std::vector<std::string>{"library", "library/alpine", "team/new"}));
  std::vector<std::string> walked;
  for (const RepoName& name : listRepositoryDirs(store.driver())) walked.push_back(name.str());
  EXPECT_EQ(namesOf(listing.repositories), walked) << "the same repositories as the walk";
  EXPECT_EQ(namesOf(listRepositories(store.driver())), walked);

  std::set<Digest> blobs;
  for (const auto& [d, info] : listing.blobs) blobs.insert(d);
  EXPECT_EQ(blobs, (std::set<Digest>{layer, old, current, other}));
  EXPECT_EQ(listing.blobs.at(layer).size, std::string("a layer").size());
  EXPECT_EQ(listing.quarantined, std::set<Digest>{parked});

  const RepositoryListing& a = listing.repositories[1];
  EXPECT_EQ(a.revisions.size(), 2u);
  EXPECT_TRUE(a.revisions.count(old) && a.revisions.count(current));
  ASSERT_EQ(a.tags.size(), 1u);
  EXPECT_EQ(a.tags.begin()->first.str(), "3.19");
  EXPECT_EQ(a.tagHistory.at(Tag::parse("3.19")), (std::set<Digest>{old, current}));
  ASSERT_EQ(a.layers.size(), 1u);
  EXPECT_EQ(a.layers.begin()->first, layer);
  EXPECT_GT(a.layers.begin()->second.mtime.tv_sec, 0);
  EXPECT_EQ(listing.repositories[0].revisions.size(), 1u);
  EXPECT_TRUE(listing.repositories[2].revisions.empty());
}

}  // namespace
}  // namespace regfs
