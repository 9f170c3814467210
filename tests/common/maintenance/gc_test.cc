#include "common/maintenance/gc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "common/error.h"
#include "common/store/layout.h"
#include "support/poll.h"
#include "support/process.h"
#include "support/store_builder.h"

namespace regfs {
namespace {

using namespace regfs::testing;
using namespace std::chrono_literals;

class GcTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  Repository app = store.repository(RepoName::parse("team/app"));
  Repository multi = store.repository(RepoName::parse("team/multi"));

  GcResult collect(bool deleteUntagged, bool dryRun = false, std::chrono::seconds grace = 0s) {
    GcOptions o;
    o.deleteUntagged = deleteUntagged;
    o.dryRun = dryRun;
    o.grace = grace;
    o.settle = 0ms;
    return collectGarbage(store, o);
  }
  bool blob(const Digest& d) { return store.statBlob(d).has_value(); }
  std::string path(const std::string& driverPath) { return dir.path().string() + driverPath; }
};

TEST_F(GcTest, KeepsEveryRevisionAndSweepsUnreferencedBlobsWithTheirLinks) {
  BuiltImage tagged = pushImage(store, app, {"shared", "tagged only"});
  app.putTag(Tag::parse("v1"), tagged.manifest);
  BuiltImage untagged = pushImage(store, app, {"shared", "untagged only"});
  Digest orphan = store.putBlob("uploaded, never in a manifest");
  app.linkLayer(orphan);
  ageTree(dir.path(), 2h);

  GcResult r = collect(false);
  EXPECT_TRUE(r.manifests.empty());
  ASSERT_EQ(r.blobs.size(), 1u);
  EXPECT_EQ(r.blobs[0].digest, orphan);
  EXPECT_EQ(r.bytesFreed, std::string("uploaded, never in a manifest").size());
  ASSERT_EQ(r.layerLinks.size(), 1u);
  EXPECT_EQ(r.layerLinks[0].digest, orphan);
  EXPECT_FALSE(blob(orphan));
  EXPECT_FALSE(app.hasLayer(orphan));
  for (const BuiltImage& image : {tagged, untagged}) {
    EXPECT_TRUE(blob(image.manifest) && blob(image.config));
    for (const Digest& l : image.layers) EXPECT_TRUE(blob(l) && app.hasLayer(l));
  }
  EXPECT_EQ(r.manifestsMarked, 2u);
  EXPECT_EQ(r.repositories, 1u);
  EXPECT_FALSE(std::filesystem::exists(path(layout::quarantineEntry(orphan))));
}

TEST_F(GcTest, DeleteUntaggedKeepsIndexChildrenAndReferrersOfKeptManifests) {
  BuiltImage amd = pushImage(store, multi, {"common", "amd"}, "amd64");
  BuiltImage arm = pushImage(store, multi, {"common", "arm"}, "arm64");
  Digest index = pushIndex(multi, {amd, arm});
  multi.putTag(Tag::parse("1.0"), index);
  BuiltImage signature = pushImage(store, multi, {"a signature"}, "amd64", amd);

  BuiltImage old = pushImage(store, app, {"old only"});
  app.putTag(Tag::parse("latest"), old.manifest);
  BuiltImage current = pushImage(store, app, {"current"});
  app.putTag(Tag::parse("latest"), current.manifest);  // old is now untagged, in latest's history
  ageTree(dir.path(), 2h);

  GcResult r = collect(true);
  ASSERT_EQ(r.manifests.size(), 1u);
  EXPECT_EQ(r.manifests[0].repository, "team/app");
  EXPECT_EQ(r.manifests[0].digest, old.manifest);
  EXPECT_FALSE(app.hasManifest(old.manifest));
  EXPECT_FALSE(std::filesystem::exists(
      path(parentPath(layout::tagIndexLink(app.name(), Tag::parse("latest"), old.manifest)))))
      << "the tag history entry goes with the revision";
  EXPECT_FALSE(blob(old.manifest) || blob(old.layers[0]) || blob(old.config));
  EXPECT_TRUE(app.hasManifest(current.manifest) && blob(current.layers[0]));
  for (const BuiltImage& child : {amd, arm, signature}) {
    EXPECT_TRUE(multi.hasManifest(child.manifest)) << "children and referrers are never untagged";
    EXPECT_TRUE(blob(child.manifest) && blob(child.config));
    for (const Digest& l : child.layers) EXPECT_TRUE(blob(l) && multi.hasLayer(l));
  }
  EXPECT_EQ(r.blobs.size(), 3u) << "old's manifest, config and layer";
}

TEST_F(GcTest, GraceKeepsYoungBlobsAndBlobsWithAYoungLayerLink) {
  Digest young = store.putBlob("just uploaded");
  app.linkLayer(young);
  Digest relinked = store.putBlob("old blob, linked again by a push in progress");
  app.putManifest("{\"schemaVersion\":2,\"manifests\":[]}");
  ageTree(dir.path(), 2h);
  Digest fresh = store.putBlob("written after the aging");
  std::filesystem::remove(path(layout::layerLink(app.name(), relinked)));
  store.repository(RepoName::parse("team/other")).linkLayer(relinked);  // a fresh link

  GcResult r = collect(false, false, 1h);
  EXPECT_TRUE(blob(fresh));
  EXPECT_TRUE(blob(relinked));
  std::set<Digest> kept;
  for (const GcBlob& b : r.youngBlobs) kept.insert(b.digest);
  EXPECT_EQ(kept, (std::set<Digest>{fresh, relinked}));
  ASSERT_EQ(r.blobs.size(), 1u);
  EXPECT_EQ(r.blobs[0].digest, young) << "aged two hours, past the one-hour grace";
}

TEST_F(GcTest, DryRunReportsTheSameAndChangesNothing) {
  BuiltImage old = pushImage(store, app, {"old"});
  Digest orphan = store.putBlob("orphan");
  app.linkLayer(orphan);
  ageTree(dir.path(), 2h);
  GcResult dry = collect(true, true);
  EXPECT_EQ(dry.manifests.size(), 1u);
  EXPECT_EQ(dry.blobs.size(), 4u);
  EXPECT_EQ(dry.layerLinks.size(), 3u);
  EXPECT_TRUE(blob(orphan) && app.hasManifest(old.manifest) && app.hasLayer(orphan));
  EXPECT_FALSE(std::filesystem::exists(path(layout::quarantineDir())));
  GcResult real = collect(true);
  EXPECT_EQ(real.manifests.size(), dry.manifests.size());
  EXPECT_EQ(real.blobs.size(), dry.blobs.size());
  EXPECT_EQ(real.layerLinks.size(), dry.layerLinks.size());
  EXPECT_EQ(real.bytesFreed, dry.bytesFreed);
}

TEST_F(GcTest, ABlobLinkedWhileInQuarantineIsMovedBack) {
  Digest layer = store.putBlob("an old unreferenced layer a client is about to reuse");
  ageTree(dir.path(), 2h);
  std::atomic<bool> pushed{false};
  std::thread writer([&] {
    // Waits for the collector to park the blob, then does what a racing push does: a
    // manifest naming the blob it saw a moment ago.
    waitUntil([&] { return std::filesystem::exists(path(layout::quarantineEntry(layer))); }, 10s,
              1ms);
    Store writerStore = Store::openLocal(dir.path());
    Repository repo = writerStore.repository(RepoName::parse("team/app"));
    std::string config = "{}";
    Digest c = writerStore.putBlob(config);
    repo.putManifest(manifestJson(descriptor(kOciConfigType, c.str(), 2),
                                  {descriptor(kOciLayerType, layer.str(), 52)}));
    pushed = true;
  });
  GcOptions o;
  o.grace = 0s;
  o.settle = 500ms;
  GcResult r = collectGarbage(store, o);
  writer.join();
  ASSERT_TRUE(pushed);
  EXPECT_TRUE(blob(layer)) << "the push that raced the sweep keeps its layer";
  EXPECT_EQ(r.restored, std::vector<Digest>{layer});
  EXPECT_TRUE(r.blobs.empty());
  EXPECT_FALSE(std::filesystem::exists(path(layout::quarantineEntry(layer))));
}

TEST_F(GcTest, BlobsLeftInQuarantineByACrashAreMovedBack) {
  BuiltImage image = pushImage(store, app, {"in use"});
  store.driver().move(layout::blobDir(image.layers[0]), layout::quarantineEntry(image.layers[0]));
  EXPECT_TRUE(isQuarantined(store, image.layers[0]));
  GcResult r = collect(false);
  EXPECT_EQ(r.recovered, 1u);
  EXPECT_TRUE(blob(image.layers[0]));
  EXPECT_EQ(store.readBlob(image.layers[0]), "in use");
  EXPECT_FALSE(isQuarantined(store, image.layers[0]));
}

TEST_F(GcTest, AnUnreadableManifestStopsTheRunBeforeAnythingIsSwept) {
  Digest orphan = store.putBlob("orphan");
  app.putManifest("this is not a manifest");
  ageTree(dir.path(), 2h);
  try {
    collect(false);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kManifestInvalid);
    EXPECT_NE(std::string(e.what()).find("team/app@"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(blob(orphan));
}

TEST_F(GcTest, MarkStoreReportsWhatEachRepositoryReaches) {
  BuiltImage a = pushImage(store, app, {"shared", "a"});
  BuiltImage b = pushImage(store, multi, {"shared", "b"});
  multi.putTag(Tag::parse("t"), b.manifest);
  StoreMarks marks = markStore(store, false);
  ASSERT_EQ(marks.repositories.size(), 2u);
  EXPECT_EQ(marks.repositories[0].name.str(), "team/app");
  EXPECT_EQ(marks.repositories[0].blobs.size(), 4u);
  EXPECT_EQ(marks.repositories[1].tags, 1u);
  EXPECT_TRUE(marks.marked.count(Digest::of("shared")));
  StoreMarks tagged = markStore(store, true);
  EXPECT_FALSE(tagged.marked.count(a.manifest));
  EXPECT_TRUE(tagged.marked.count(Digest::of("shared")));
}

}  // namespace
}  // namespace regfs

namespace regfs {
namespace {

// A layer's contents index goes with its blob, and with nothing else.
TEST_F(GcTest, TheIndexOfASweptBlobGoesWithIt) {
  BuiltImage kept = pushImage(store, app, {"kept layer"});
  app.putTag(Tag::parse("v1"), kept.manifest);
  Digest orphan = store.putBlob("swept layer");
  Digest vanished = Digest::of("removed by another registry's collector");
  for (const Digest& d : {kept.layers[0], orphan, vanished})
    store.driver().writeAtomic(layout::layerIndexFile(d), "an index of " + d.str());
  ageTree(dir.path(), 2h);

  GcResult dry = collect(false, /*dryRun=*/true);
  EXPECT_EQ(dry.layerIndexes.size(), 2u);
  EXPECT_TRUE(store.driver().stat(layout::layerIndexFile(orphan)));

  GcResult r = collect(false);
  std::set<Digest> gone;
  for (const GcBlob& b : r.layerIndexes) gone.insert(b.digest);
  EXPECT_EQ(gone, (std::set<Digest>{orphan, vanished}));
  EXPECT_FALSE(store.driver().stat(layout::layerIndexDir(orphan)));
  EXPECT_FALSE(store.driver().stat(layout::layerIndexDir(vanished)));
  EXPECT_TRUE(store.driver().stat(layout::layerIndexFile(kept.layers[0])));
  uint64_t indexBytes = ("an index of " + orphan.str()).size() * 2;
  EXPECT_EQ(r.bytesFreed, std::string("swept layer").size() + indexBytes);
}

}  // namespace
}  // namespace regfs
