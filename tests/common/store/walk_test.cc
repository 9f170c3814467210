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
  store.driver().writeAtomic(layout::repositoryDir(std::string_view("team/_other")) + "/file",
                             "ignored");

  StoreListing listing = listStore(store.driver());
  EXPECT_EQ(namesOf(listing.repositories),
            (std::vector<std::string>{"library", "library/alpine", "team/new"}));
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

TEST(ListStoreTest, SymlinkedRepositoriesAndBlobsAreNotWalked) {
  TempDir dir, outside;
  Store store = Store::openLocal(dir.path());
  Repository app = store.repository(RepoName::parse("team/app"));
  Digest layer = store.putBlob("a layer");
  app.linkLayer(layer);
  Digest m = app.putManifest("{}");
  app.putTag(Tag::parse("v1"), m);
  std::filesystem::copy(dir.path().string() + layout::repositoryDir(app.name()), outside / "app",
                        std::filesystem::copy_options::recursive);
  std::string evil = layout::repositoryDir(std::string_view("team/evil"));
  std::filesystem::create_directory_symlink(outside / "app", dir.path().string() + evil);
  testing::writeFile(outside / "blob", "outside blob");
  Digest linked = Digest::of("outside blob");
  std::filesystem::create_directories(dir.path().string() + layout::blobDir(linked));
  std::filesystem::create_symlink(outside / "blob", dir.path().string() + layout::blobData(linked));

  StoreListing listing = listStore(store.driver());
  EXPECT_EQ(namesOf(listing.repositories), std::vector<std::string>{"team/app"});
  EXPECT_EQ(listing.blobs.count(linked), 0u);
  EXPECT_EQ(listing.blobs.size(), 2u);
  EXPECT_EQ(namesOf(listRepositories(store.driver())), std::vector<std::string>{"team/app"});
  std::vector<std::string> walked;
  for (const RepoName& name : listRepositoryDirs(store.driver())) walked.push_back(name.str());
  EXPECT_EQ(walked, std::vector<std::string>{"team/app"});
  std::vector<std::string> files;
  forEachFile(store.driver(), layout::v2Root(), [&](const std::string& path) {
    if (path.starts_with(evil) || path == layout::blobData(linked)) files.push_back(path);
  });
  EXPECT_TRUE(files.empty()) << files.front();
}

}  // namespace
}  // namespace regfs
