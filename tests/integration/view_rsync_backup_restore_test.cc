// Backing up a registry with rsync: the documented `rsync -aH` of the mounted view (which
// leaves out what is inside images: rootfs/ and layer-contents/) keeps shared layers as hard
// links, a second run of an unchanged store transfers no file, and
// `regfsctl restore` turns the copy into a store the reference registry serves with the
// same digests. A corrupted copy is refused, naming the bad file, and nothing is written.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>

#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;

int transferredFiles(const std::string& stats) {
  std::smatch m;
  static const std::regex re("Number of regular files transferred: ([0-9,]+)");
  if (!std::regex_search(stats, m, re)) return -1;
  std::string n = m[1];
  std::erase(n, ',');
  return std::stoi(n);
}

class ViewRsyncBackupRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
    ASSERT_TRUE(haveProgram("rsync")) << "rsync is required";
    ASSERT_TRUE(haveProgram("skopeo")) << "skopeo is required";
    ASSERT_TRUE(std::filesystem::exists("/usr/bin/docker-registry"))
        << "docker-registry is required";
  }
  TempDir work;
};

TEST_F(ViewRsyncBackupRestoreTest, BackupTwiceThenRestore) {
  auto root = work / "store";
  OciLayout oci(work / "oci");
  Blob shared = oci.addLayer({{"etc/base", "shared base layer"}});
  Blob appLayer = oci.addLayer({{"bin/app", "app"}});
  Blob app = oci.addImage({shared, appLayer});
  Blob tool = oci.addImage({shared}, {}, /*dockerMediaTypes=*/true);
  ImagePlatform amdPlatform{"linux", "amd64", ""}, armPlatform{"linux", "arm64", "v8"};
  Blob amd = oci.addImage({shared}, amdPlatform);
  Blob arm = oci.addImage({shared, appLayer}, armPlatform);
  Blob index = oci.addIndex({{amd, amdPlatform}, {arm, armPlatform}});
  Store store = Store::openLocal(root);
  pushLayout(store, oci, "library/app", {app}, "v1");
  store.repository(RepoName::parse("library/app"))
      .putTag(Tag::parse("multi"), Digest::parse(app.digest));
  pushLayout(store, oci, "team/tool", {tool}, "latest");
  pushLayout(store, oci, "library/app/multi", {amd, arm, index}, "multi");

  auto mnt = work / "mnt", backup = work / "backup";
  MountedView view(root, mnt);
  auto rsync = [&] {  // docs/view.md, "Backups"
    return run({"rsync", "-aH", "--exclude=@*/rootfs", "--exclude=@*/layer-contents", "--stats",
                mnt.string() + "/", backup.string() + "/"});
  };
  auto r = rsync();
  ASSERT_EQ(r.status, 0) << r.err << view.log();
  EXPECT_GT(transferredFiles(r.out), 0) << r.out;
  r = rsync();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(transferredFiles(r.out), 0) << "an unchanged store transfers nothing the second time\n"
                                        << r.out;

  // Shared layers stay shared in the copy: one inode, one link per place.
  std::string sharedName = "00-" + shared.digest.substr(7) + ".tar.gz";
  struct stat a, b;
  ASSERT_EQ(::stat((backup / ("library/app/@" + app.digest) / "layers" / sharedName).c_str(), &a),
            0);
  ASSERT_EQ(::stat((backup / ("team/tool/@" + tool.digest) / "layers" / sharedName).c_str(), &b),
            0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 4u);
  EXPECT_EQ(readFile(backup / "library/app/multi/multi").size(), 0u);  // a symlink to a directory
  EXPECT_TRUE(std::filesystem::is_symlink(backup / "library/app/@tag:multi"));
  // The mount shows the images' files; the backup holds none of them.
  EXPECT_TRUE(std::filesystem::exists(mnt / ("library/app/@" + app.digest) / "rootfs/bin/app"));
  EXPECT_FALSE(std::filesystem::exists(backup / ("library/app/@" + app.digest) / "rootfs"));
  EXPECT_FALSE(std::filesystem::exists(backup / ("library/app/@" + app.digest) / "layer-contents"));
  EXPECT_EQ(run({"sh", "-c", "find '" + backup.string() + "' -name rootfs | grep -c ."}).out,
            "0\n");

  // A corrupted copy is refused, naming the file, and leaves no store behind.
  auto broken = work / "broken";
  ASSERT_EQ(run({"cp", "-a", backup.string(), broken.string()}).status, 0);
  auto badFile = broken / ("team/tool/@" + tool.digest) / "config.json";
  std::string bytes = readFile(badFile);
  bytes[bytes.size() / 2] ^= 1;
  std::filesystem::remove(badFile);  // break the hard link before writing
  writeFile(badFile, bytes);
  r = regfsctl({"restore", broken.string(), (work / "bad-store").string()});
  EXPECT_EQ(r.status, 65) << "EX_DATAERR";
  EXPECT_NE(r.err.find(badFile.string()), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(work / "bad-store"));
  for (const auto& e : std::filesystem::directory_iterator(work.path())) {
    EXPECT_EQ(e.path().filename().string().find(".regfs-restore"), std::string::npos) << e.path();
  }
  // A non-empty ROOT is refused.
  r = regfsctl({"restore", backup.string(), root.string()});
  EXPECT_EQ(r.status, 2) << "a bad argument";
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;

  // Restore, and serve the result with the reference registry.
  auto restored = work / "restored";
  r = regfsctl({"restore", backup.string(), restored.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  ReferenceRegistry reference(restored);
  const std::string accept =
      "Accept: application/vnd.oci.image.manifest.v1+json, "
      "application/vnd.oci.image.index.v1+json, "
      "application/vnd.docker.distribution.manifest.v2+json";
  auto manifestAt = [&](const std::string& repo, const std::string& ref) {
    return curl({"-f", "-H", accept, reference.url() + "/v2/" + repo + "/manifests/" + ref}).out;
  };
  EXPECT_EQ(manifestAt("library/app", "v1"), app.bytes) << reference.log();
  EXPECT_EQ(manifestAt("library/app", "multi"), app.bytes)
      << "the shadowed tag comes back under its name";
  EXPECT_EQ(manifestAt("team/tool", "latest"), tool.bytes);
  EXPECT_EQ(manifestAt("library/app/multi", "multi"), index.bytes);
  EXPECT_EQ(manifestAt("library/app/multi", arm.digest), arm.bytes);
  for (const Blob& layer : {shared, appLayer}) {
    auto blob = curl({"-f", reference.url() + "/v2/library/app/blobs/" + layer.digest});
    EXPECT_EQ(blob.status, 0) << blob.err;
    EXPECT_EQ(sha256Hex(blob.out), layer.digest.substr(7));
  }
  EXPECT_EQ(curl({"-f", reference.url() + "/v2/_catalog"}).out,
            "{\"repositories\":[\"library/app\",\"library/app/multi\",\"team/tool\"]}\n");
  // A real client pulls a whole image (every blob, by digest) from the restored store.
  r = skopeoCopy("docker://" + reference.host() + "/library/app/multi:multi",
                 "dir:" + (work / "pulled").string(), {"--all"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(readFile(work / "pulled/manifest.json"), index.bytes);
}

}  // namespace
}  // namespace regfs
