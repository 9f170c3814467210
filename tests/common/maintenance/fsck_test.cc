#include "common/maintenance/fsck.h"

#include <gtest/gtest.h>

#include <map>

#include "common/layers/layer_index.h"
#include "common/store/layout.h"
#include "support/process.h"
#include "support/store_builder.h"

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
  // The problems by path, each as its printed kind ("malformed-link").
  static std::map<std::string, std::string> kindNames(const FsckResult& r) {
    std::map<std::string, std::string> out;
    for (const FsckProblem& p : r.problems) out[p.path] = std::string(fsckProblemName(p.kind));
    return out;
  }
};

TEST_F(FsckTest, ACleanStoreIsClean) {
  BuiltImage image = pushImage(store, app, {"a", "b"});
  app.putTag(Tag::parse("v1"), image.manifest);
  std::string uuid = app.startUpload();
  FsckResult r = check(false);
  EXPECT_TRUE(r.problems.empty()) << fsckProblemName(r.problems[0].kind) << " "
                                  << r.problems[0].detail;
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
  EXPECT_EQ(problems[layout::revisionLink(app.name(), image.manifest)],
            FsckProblemKind::kDanglingLink);
  EXPECT_EQ(problems[layout::tagCurrentLink(app.name(), Tag::parse("v1"))],
            FsckProblemKind::kDanglingTag);
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

TEST_F(FsckTest, MalformedTagLinksAreReportedWhateverTheirAgeAndRepairRemovesThem) {
  BuiltImage image = pushImage(store, app, {"layer"});
  app.putTag(Tag::parse("v1"), image.manifest);
  std::string hex = image.manifest.hex();
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // Contents distribution's readlink refuses too; none is what a write in progress leaves
  // (distribution truncates a link and writes it: empty, or the start of a digest).
  std::map<std::string, std::string> contents = {
      {"garbage", "garbage"},
      {"md5", "md5:" + std::string(32, '0')},
      {"escape", "sha256:../../../../etc/passwd"},
      {"long", image.manifest.str() + "0"},
      {"newline", image.manifest.str() + "\n"},
      {"upper", "sha256:" + upper},
      {"space", " " + image.manifest.str()},
  };
  for (const auto& [tag, content] : contents) {
    writeFile(path(layout::tagCurrentLink(app.name(), Tag::parse(tag))), content);
  }

  FsckResult r = check(false, 1h);
  auto problems = kindNames(r);
  for (const auto& [tag, content] : contents) {
    EXPECT_EQ(problems[layout::tagCurrentLink(app.name(), Tag::parse(tag))], "malformed-link")
        << tag;
  }
  EXPECT_EQ(r.problems.size(), contents.size());
  for (const FsckProblem& p : r.problems) {
    EXPECT_EQ(p.detail.find('\n'), std::string::npos) << "one line: " << p.detail;
  }
  EXPECT_FALSE(r.clean());

  r = check(true, 1h);
  EXPECT_EQ(r.problems.size(), contents.size());
  EXPECT_TRUE(r.clean());
  for (const auto& [tag, content] : contents) {
    EXPECT_FALSE(std::filesystem::exists(path(layout::tagDir(app.name(), Tag::parse(tag))))) << tag;
  }
  EXPECT_EQ(app.listTags(), std::vector<Tag>{Tag::parse("v1")});
  EXPECT_TRUE(check(false).problems.empty());
}

TEST_F(FsckTest, AnEmptyOrHalfWrittenTagLinkCountsOnlyOnceOlderThanTheGrace) {
  BuiltImage image = pushImage(store, app, {"layer"});
  Tag empty = Tag::parse("empty"), half = Tag::parse("half");
  writeFile(path(layout::tagCurrentLink(app.name(), empty)), "");
  writeFile(path(layout::tagCurrentLink(app.name(), half)), image.manifest.str().substr(0, 20));

  FsckResult young = check(true, 1h);
  EXPECT_TRUE(young.problems.empty()) << "a registry:2 writer may be halfway";
  EXPECT_TRUE(std::filesystem::exists(path(layout::tagCurrentLink(app.name(), empty))));

  ageTree(dir.path(), 2h);
  FsckResult r = check(true, 1h);
  auto problems = kindNames(r);
  EXPECT_EQ(problems[layout::tagCurrentLink(app.name(), empty)], "malformed-link");
  EXPECT_EQ(problems[layout::tagCurrentLink(app.name(), half)], "malformed-link");
  EXPECT_EQ(problems.size(), 2u);
  EXPECT_TRUE(r.clean());
  EXPECT_FALSE(std::filesystem::exists(path(layout::tagDir(app.name(), empty))));
  EXPECT_FALSE(std::filesystem::exists(path(layout::tagDir(app.name(), half))));
}

TEST_F(FsckTest, MalformedLayerRevisionAndHistoryLinksAreReportedAndRemoved) {
  BuiltImage image = pushImage(store, app, {"layer"});
  BuiltImage other = pushImage(store, app, {"other layer"});
  Tag v1 = Tag::parse("v1");
  app.putTag(v1, image.manifest);
  std::string layer = layout::layerLink(app.name(), image.layers[0]);
  std::string revision = layout::revisionLink(app.name(), other.manifest);
  std::string history = layout::tagIndexLink(app.name(), v1, image.manifest);
  writeFile(path(layer), "sha256:../../../../etc/passwd");
  writeFile(path(revision), "md5:" + std::string(32, '0'));
  writeFile(path(history), "garbage");

  FsckResult r = check(false, 1h);
  auto problems = kindNames(r);
  EXPECT_EQ(problems[layer], "malformed-link");
  EXPECT_EQ(problems[revision], "malformed-link");
  EXPECT_EQ(problems[history], "malformed-link");

  r = check(true, 1h);
  EXPECT_FALSE(std::filesystem::exists(path(layer)));
  EXPECT_FALSE(std::filesystem::exists(path(revision)));
  EXPECT_FALSE(std::filesystem::exists(path(history)));
  EXPECT_EQ(app.resolveTag(v1), image.manifest) << "the tag itself is fine";
}

TEST_F(FsckTest, SymlinksInTheStoreAreReportedNeverFollowedAndNeverRemoved) {
  TempDir outside;
  BuiltImage image = pushImage(store, app, {"layer"});
  app.putTag(Tag::parse("v1"), image.manifest);
  // A repository directory that is a symlink to a folder outside the store, holding what
  // fsck would report and repair if it went in.
  RepoName evil = RepoName::parse("team/evil");
  auto outsidePath = [&](const std::string& inRepo) {
    return outside.path().string() + inRepo.substr(layout::repositoryDir(evil).size());
  };
  Digest missing = Digest::of("never stored");
  std::string outsideLink = outsidePath(layout::layerLink(evil, missing));
  std::string outsideTag = outsidePath(layout::tagCurrentLink(evil, Tag::parse("x")));
  writeFile(outsideLink, missing.str());
  writeFile(outsideTag, "garbage");
  std::filesystem::create_directory_symlink(outside.path(), path(layout::repositoryDir(evil)));
  // A blob whose data is a symlink to a file outside the store.
  writeFile(outside / "hostname", "not a blob");
  Digest linked = Digest::of("linked blob");
  std::filesystem::create_directories(path(layout::blobDir(linked)));
  std::filesystem::create_symlink(outside / "hostname", path(layout::blobData(linked)));
  app.linkLayer(linked);
  ageTree(dir.path(), 2h);

  FsckResult r = check(true, 0s);
  auto problems = kindNames(r);
  EXPECT_EQ(problems[layout::repositoryDir(evil)], "symlink");
  EXPECT_EQ(problems[layout::blobData(linked)], "symlink");
  EXPECT_EQ(problems[layout::layerLink(app.name(), linked)], "dangling-link")
      << "the blob has no data";
  EXPECT_EQ(problems.size(), 3u);
  EXPECT_EQ(r.repositories, 1u);
  EXPECT_FALSE(r.clean()) << "symlinks are left for the operator";
  EXPECT_EQ(readFile(outsideLink), missing.str());
  EXPECT_EQ(readFile(outsideTag), "garbage");
  EXPECT_EQ(readFile(outside / "hostname"), "not a blob");
  EXPECT_TRUE(std::filesystem::is_symlink(path(layout::repositoryDir(evil))));
  EXPECT_TRUE(std::filesystem::is_symlink(path(layout::blobData(linked))));
  EXPECT_FALSE(app.hasLayer(linked));
}

}  // namespace
}  // namespace regfs

namespace regfs {
namespace {

TEST_F(FsckTest, LayerIndexesAreCheckedAndBadOnesRepaired) {
  BuiltImage image = pushImage(store, app, {"a layer"});
  app.putTag(Tag::parse("v1"), image.manifest);
  Digest good = image.layers[0], gone = Digest::of("a blob that is gone");
  layers::LayerIndex index{good};
  index.failure = layers::LayerIndex::Failure{ErrorKind::kInvalidArgument, "not a tar", ""};
  store.driver().writeAtomic(layout::layerIndexFile(good), layers::encodeIndex(index));
  EXPECT_TRUE(check(false).clean());
  EXPECT_EQ(check(false).layerIndexes, 1u);

  Digest config = image.config;  // a torn index, and an index without its blob
  store.driver().writeAtomic(layout::layerIndexFile(config), "RGFSLIDX torn");
  index.blob = gone;
  store.driver().writeAtomic(layout::layerIndexFile(gone), layers::encodeIndex(index));
  FsckResult r = check(false);
  EXPECT_EQ(kindNames(r), (std::map<std::string, std::string>{
                              {layout::layerIndexFile(config), "bad-layer-index"},
                              {layout::layerIndexFile(gone), "bad-layer-index"}}));
  EXPECT_TRUE(store.driver().stat(layout::layerIndexFile(config)));

  r = check(true);
  EXPECT_TRUE(r.clean());
  EXPECT_FALSE(store.driver().stat(layout::layerIndexDir(config)));
  EXPECT_FALSE(store.driver().stat(layout::layerIndexDir(gone)));
  EXPECT_TRUE(store.driver().stat(layout::layerIndexFile(good)));
  EXPECT_TRUE(check(false).clean());
}

}  // namespace
}  // namespace regfs
