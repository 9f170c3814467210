#include "common/maintenance/fsck.h"

#include <gtest/gtest.h>

#include <map>

#include "common/store/layout.h"
#include "support/store_builder.h"
#include "support/process.h"

namespace regfs {
namespace {

using namespace regfs::testing;
using namespace std::chrono_literals;

class FsckTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  Repository app = store.repository(RepoName::parse("team/app"));

  std::string path(const std::string& driverPath) { return dir.path().string() + driverPath; }
  FsckResult check(bool repair, std::chrono::seconds grace = 0s) {
    FsckOptions o;
    o.repair = repair;
    o.grace = grace;
    return checkStore(store, o);
  }
  static std::map<std::string, FsckProblemKind> byPath(const FsckResult& r) {
    std::map<std::string, FsckProblemKind> out;
    for (const FsckProblem& p : r.problems) out[p.path] = p.kind;
    return out;
  }
};

TEST_F(FsckTest, ACleanStoreIsClean) {
  BuiltImage image = pushImage(store, app, {"a", "b"});
  app.putTag(Tag::parse("v1"), image.manifest);
  std::string uuid = app.startUpload();
  FsckResult r = check(false);
  EXPECT_TRUE(r.problems.empty()) << fsckProblemName(r.problems[0].kind) << " " << r.problems[0].detail;
  EXPECT_TRUE(r.clean());
  EXPECT_EQ(r.blobs, 4u);
  EXPECT_EQ(r.manifests, 1u);
  EXPECT_EQ(r.uploads, 1u);
  EXPECT_EQ(r.repositories, 1u);
}

TEST_F(FsckTest, RepairRemovesLeftoversOfCrashedWritesOnceOlderThanTheGrace) {
  BuiltImage image = pushImage(store, app, {"kept"});
  app.putTag(Tag::parse("v1"), image.manifest);
  std::string temp = parentPath(layout::blobData(image.layers[0])) + "/.regfs-tmp-abc123";
  writeFile(path(temp), "half a write");
  std::string torn = app.startUpload();
  std::filesystem::remove(path(layout::uploadStartedAt(app.name(), torn)));
  Tag stub = Tag::parse("stub");
  writeFile(path(layout::tagIndexLink(app.name(), stub, image.manifest)), image.manifest.str());
  Tag gone = Tag::parse("gone");
  writeFile(path(layout::tagCurrentLink(app.name(), gone)), Digest::of("no such manifest").str());
  std::string emptyBlobDir = layout::blobDir(Digest::of("never written"));
  std::filesystem::create_directories(path(emptyBlobDir));

  // Within the grace, what a writer in progress leaves is not a problem yet.
  FsckResult young = check(true, 1h);
  auto youngProblems = byPath(young);
  EXPECT_EQ(youngProblems.size(), 1u) << "only the tag naming a missing manifest";
  EXPECT_TRUE(std::filesystem::exists(path(temp)));

  ageTree(dir.path(), 2h);
  FsckResult r = check(true, 1h);
  auto problems = byPath(r);
  EXPECT_EQ(problems[temp], FsckProblemKind::kTempFile);
  EXPECT_EQ(problems[layout::uploadDir(app.name(), torn)], FsckProblemKind::kTornUpload);
  EXPECT_EQ(problems[layout::tagDir(app.name(), stub)], FsckProblemKind::kDanglingTag);
  EXPECT_EQ(problems[emptyBlobDir], FsckProblemKind::kBlobWithoutData);
  EXPECT_EQ(problems.size(), 4u) << "the missing tag went in the first run";
  EXPECT_TRUE(r.clean());
  EXPECT_FALSE(std::filesystem::exists(path(temp)));
  EXPECT_FALSE(app.statUpload(torn));
  EXPECT_EQ(app.listTags(), std::vector<Tag>{Tag::parse("v1")});
  EXPECT_TRUE(check(false).clean());
  EXPECT_EQ(store.readBlob(image.layers[0]), "kept");
}

TEST_F(FsckTest, ACorruptManifestTakesItsRevisionAndTagWithIt) {
  BuiltImage image = pushImage(store, app, {"layer"});
  app.putTag(Tag::parse("v1"), image.manifest);
  writeFile(path(layout::blobData(image.manifest)), image.bytes + " ");
  FsckResult r = check(false);
  auto problems = byPath(r);
  EXPECT_EQ(problems[layout::blobData(image.manifest)], FsckProblemKind::kCorruptBlob);
  EXPECT_EQ(problems[layout::revisionLink(app.name(), image.manifest)], FsckProblemKind::kDanglingLink);
  EXPECT_EQ(problems[layout::tagCurrentLink(app.name(), Tag::parse("v1"))], FsckProblemKind::kDanglingTag);
  EXPECT_FALSE(r.clean());
  EXPECT_TRUE(store.statBlob(image.manifest)) << "checking alone changes nothing";

  r = check(true);
  EXPECT_TRUE(r.clean());
  EXPECT_FALSE(store.statBlob(image.manifest));
  EXPECT_FALSE(app.hasManifest(image.manifest));
  EXPECT_TRUE(app.listTags().empty());
  EXPECT_TRUE(store.statBlob(image.layers[0])) << "valid blobs stay";
  EXPECT_TRUE(check(false).clean());
}

TEST_F(FsckTest, ReportsButNeverRemovesAManifestWhoseLayerIsMissing) {
  BuiltImage image = pushImage(store, app, {"layer"});
  std::filesystem::remove_all(path(layout::blobDir(image.layers[0])));
  app.unlinkLayer(image.layers[0]);
  FsckResult r = check(true);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].kind, FsckProblemKind::kMissingReference);
  EXPECT_FALSE(r.problems[0].repaired);
  EXPECT_FALSE(r.clean());
  EXPECT_TRUE(app.hasManifest(image.manifest));
}

TEST_F(FsckTest, QuarantineLeftoversAreMovedBack) {
  BuiltImage image = pushImage(store, app, {"parked"});
  store.driver().move(layout::blobDir(image.layers[0]), layout::quarantineEntry(image.layers[0]));
  FsckResult r = check(false);
  EXPECT_EQ(byPath(r)[layout::quarantineEntry(image.layers[0])], FsckProblemKind::kQuarantined);
  r = check(true);
  EXPECT_TRUE(r.clean());
  EXPECT_EQ(store.readBlob(image.layers[0]), "parked");
  EXPECT_TRUE(check(false).problems.empty());
}

}  // namespace
}  // namespace regfs
