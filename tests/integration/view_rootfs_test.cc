// Images as files: an image's rootfs/ in the mounted view is its file system, the same path
// for path (type, mode with setuid, owner, mtime to the nanosecond, size, bytes, link target,
// hardlink groups, user xattrs) as umoci unpacks it from the same image; whiteouts and opaque
// directories hide what they hide, a replaced file leaves its old hardlink with the old bytes,
// a file that becomes a directory and back is what the last layer says. The layers are real
// GNU tar archives (PAX, with xattrs and sub-second mtimes), compressed with gzip, zstd or not
// at all: the three give the same tree. Each layer's own files are under layer-contents/,
// whiteouts shown; inode numbers survive a remount.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/manifest.h"
#include "support/poll.h"
#include "support/rootfs_layers.h"
#include "support/tree_facts.h"
#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;

class ViewRootfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
    ASSERT_TRUE(haveProgram("fusermount3")) << "fusermount3 is required (fuse3)";
    ASSERT_TRUE(haveProgram("umoci")) << "umoci is required (scripts/setup.sh installs it)";
    ASSERT_TRUE(haveProgram("setfattr")) << "setfattr is required (attr)";
  }

  Blob layer(OciLayout& oci, size_t i, const std::string& compression) {
    return rootfsLayer(oci, work / ("layer-" + std::to_string(++layers_)), i, compression);
  }

  Blob image(OciLayout& oci, const std::vector<std::string>& compressions) {
    std::vector<Blob> layers;
    for (size_t i = 0; i < compressions.size(); ++i)
      layers.push_back(layer(oci, i, compressions[i]));
    return oci.addImage(layers);
  }

  TempDir work;
  int layers_ = 0;
};

TEST_F(ViewRootfsTest, RootfsEqualsWhatUmociUnpacks) {
  OciLayout oci(work / "oci");
  Blob gzip = image(oci, {"gzip", "gzip", "gzip"});
  Blob mixed = image(oci, {"gzip", "none", "zstd"});
  oci.tag("gzip", gzip);
  oci.tag("mixed", mixed);
  auto bundle = work / "bundle";
  auto unpacked =
      sh("umoci unpack --image '" + (work / "oci").string() + ":gzip' '" + bundle.string() + "'");
  ASSERT_EQ(unpacked.status, 0) << unpacked.err;

  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "app", {gzip}, "gzip");
  pushLayout(store, oci, "app", {mixed}, "mixed");
  MountedView view(work / "store", work / "mnt");

  auto expected = treeFacts(bundle / "rootfs", withRootfsComment());
  ASSERT_TRUE(expected.contains("etc/os-release"));
  ASSERT_FALSE(expected.contains("etc/gone"));  // the comparison is with a real unpack
  auto shown = treeFacts(work / "mnt/app/gzip/rootfs", withRootfsComment());
  EXPECT_EQ(shown, expected);
  // Every layer compressed another way: the same tree.
  EXPECT_EQ(treeFacts(work / "mnt/app/mixed/rootfs", withRootfsComment()), expected);

  // The facts the comparison rests on, spelled out.
  EXPECT_EQ(shown["bin/sh"].mode, 04755u);  // the old busybox, under its other name
  EXPECT_EQ(shown["bin/busybox"].mode, 0644u);
  EXPECT_EQ(readFile(work / "mnt/app/gzip/rootfs/bin/sh"), "busybox v1");
  EXPECT_EQ(readFile(work / "mnt/app/gzip/rootfs/bin/busybox"), "busybox v2");
  EXPECT_EQ(shown["usr/lib/up"].content, "../../../../etc/passwd");
  EXPECT_EQ(shown["usr/fifo"].type, 'p');
  EXPECT_EQ(shown["dev/null"].content, "1,3");
  EXPECT_EQ(shown["etc/os-release"].uid, 1234u);
  EXPECT_EQ(shown["etc/os-release"].mtimeNsec, 123456789);
  EXPECT_EQ(shown["etc/os-release"].xattrs["user.comment"], "from layer one");
  EXPECT_FALSE(shown.contains("opaque/keep"));
  EXPECT_TRUE(shown.contains("opaque/new"));
  EXPECT_EQ(shown["dir"].type, 'd');
  EXPECT_FALSE(shown.contains("bin/ls"));
}

TEST_F(ViewRootfsTest, EachEntryNamesTheLayerThatSuppliedIt) {
  OciLayout oci(work / "oci");
  Blob img = image(oci, {"gzip", "gzip", "gzip"});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "app", {img}, "v1");
  MountedView view(work / "store", work / "mnt");
  Manifest manifest = parseStoredManifest(img.bytes);
  auto rootfs = work / "mnt/app/v1/rootfs";
  EXPECT_EQ(xattr(rootfs / "etc/os-release", "user.oci.layer"), manifest.layers[0].digest.str());
  EXPECT_EQ(xattr(rootfs / "etc/motd", "user.oci.layer"), manifest.layers[1].digest.str());
  EXPECT_EQ(xattr(rootfs / "dir/again", "user.oci.layer"), manifest.layers[2].digest.str());
  // A directory over a directory takes the upper layer's attributes.
  EXPECT_EQ(xattr(rootfs / "etc", "user.oci.layer"), manifest.layers[1].digest.str());
}

TEST_F(ViewRootfsTest, EachLayersOwnFilesShowWhiteoutsAsFiles) {
  OciLayout oci(work / "oci");
  Blob img = image(oci, {"gzip", "none", "zstd"});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "app", {img}, "v1");
  MountedView view(work / "store", work / "mnt");
  Manifest manifest = parseStoredManifest(img.bytes);
  auto perLayer = work / "mnt/app/v1/layer-contents";
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(perLayer))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(names[i], "0" + std::to_string(i) + "-" + manifest.layers[i].digest.hex());
  EXPECT_TRUE(std::filesystem::is_regular_file(perLayer / names[1] / "etc/.wh.gone"));
  EXPECT_TRUE(std::filesystem::is_regular_file(perLayer / names[1] / "opaque/.wh..wh..opq"));
  EXPECT_FALSE(std::filesystem::exists(perLayer / names[1] / "etc/os-release"));
  EXPECT_EQ(readFile(perLayer / names[0] / "bin/busybox"), "busybox v1");
  EXPECT_EQ(readFile(perLayer / names[2] / "dir/again"), "back\n");
}

TEST_F(ViewRootfsTest, ALayerThatCannotBeReadAnswersEioAndNothingElseSuffers) {
  OciLayout oci(work / "oci");
  Blob good = image(oci, {"gzip"});
  // A gzip layer cut in half: what a corrupt or truncated upload leaves.
  Blob whole = layer(oci, 1, "gzip");
  Blob cut = oci.addBlob(kOciLayerType, whole.bytes.substr(0, whole.bytes.size() / 2));
  Blob bad = oci.addImage({layer(oci, 0, "gzip"), cut});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "app", {good}, "good");
  pushLayout(store, oci, "app", {bad}, "bad");
  MountedView view(work / "store", work / "mnt");
  std::error_code ec;
  std::filesystem::directory_iterator(work / "mnt/app/bad/rootfs", ec);
  EXPECT_EQ(ec.value(), EIO) << ec.message();
  EXPECT_EQ(readFile(work / "mnt/app/good/rootfs/etc/os-release"), "hello\n");
  // The layer's own tree fails too; the other layer of the same image reads.
  auto perLayer = work / "mnt/app/bad/layer-contents";
  std::vector<std::filesystem::path> layers;
  for (const auto& e : std::filesystem::directory_iterator(perLayer)) layers.push_back(e.path());
  std::sort(layers.begin(), layers.end());
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(layers[0] / "etc/os-release"));
  std::filesystem::directory_iterator(layers[1], ec);
  EXPECT_EQ(ec.value(), EIO);
  // The blobs themselves are still there to read, and the log names the layer once.
  EXPECT_EQ(readFile(work / "mnt/app/bad/layers" /
                     (std::string("01-") + cut.digest.substr(7) + ".tar.gz")),
            cut.bytes);
  EXPECT_NE(view.log().find(cut.digest), std::string::npos) << view.log();
}

TEST_F(ViewRootfsTest, APushShowsItsFilesWithoutARemount) {
  OciLayout oci(work / "oci");
  Blob img = image(oci, {"gzip", "zstd"});
  std::filesystem::create_directories(work / "store");
  Store store = Store::openLocal(work / "store");
  MountedView view(work / "store", work / "mnt");
  EXPECT_FALSE(std::filesystem::exists(work / "mnt/app"));
  pushLayout(store, oci, "app", {img}, "v1");
  EXPECT_TRUE(
      waitUntil([&] { return std::filesystem::exists(work / "mnt/app/v1/rootfs/etc/motd"); },
                std::chrono::seconds(10)));
  EXPECT_EQ(readFile(work / "mnt/app/v1/rootfs/etc/motd"), "second\n");
}

TEST_F(ViewRootfsTest, InodeNumbersSurviveARemount) {
  OciLayout oci(work / "oci");
  Blob img = image(oci, {"gzip", "gzip", "gzip"});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "app", {img}, "v1");
  auto inodes = [&] {
    MountedView view(work / "store", work / "mnt");
    std::map<std::string, uint64_t> out;
    for (auto& [path, e] : walkTree(work / "mnt/app/v1/rootfs", false)) out[path] = e.ino;
    EXPECT_EQ(view.stop(), 0);
    return out;
  };
  auto first = inodes();
  EXPECT_GT(first.size(), 10u);
  EXPECT_EQ(inodes(), first);
}

}  // namespace
}  // namespace regfs
