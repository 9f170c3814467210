// regfsctl export: an image's root file system as a tar. Extracted with GNU tar it is what
// umoci unpacks from the same image, path by path (type, mode with setuid, owner, mtime to
// the nanosecond, size, bytes, link target, hardlink groups, user xattrs); an index exports
// the image of the platform asked for; -o FILE appears whole or not at all; an image that
// cannot be exported fails with one line naming why.

#include <gtest/gtest.h>

#include "common/layers/export.h"
#include "common/store/layout.h"
#include "support/process.h"
#include "support/rootfs_layers.h"
#include "support/store_builder.h"
#include "support/tar_writer.h"
#include "support/tree_facts.h"
#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;

// Every name in `dir`, sorted.
std::vector<std::string> namesIn(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class ExportCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(haveProgram("umoci")) << "umoci is required (scripts/setup.sh installs it)";
    ASSERT_TRUE(haveProgram("setfattr")) << "setfattr is required (attr)";
  }
  // GNU tar extracting `tarFile` into `into`, as root keeps owners, modes and devices.
  void extract(const std::filesystem::path& tarFile, const std::filesystem::path& into) {
    std::filesystem::create_directories(into);
    auto r = sh("tar -C '" + into.string() + "' -x --xattrs --xattrs-include='user.*' " +
                "--same-owner --numeric-owner -f '" + tarFile.string() + "'");
    ASSERT_EQ(r.status, 0) << r.err;
  }
  TempDir work;
  std::string root = (work / "store").string();
  Store store = Store::openLocal(work / "store");
};

TEST_F(ExportCommandTest, ExtractedItIsWhatUmociUnpacks) {
  OciLayout oci(work / "oci");
  std::vector<Blob> layers;
  for (size_t i = 0; i < 3; ++i)
    layers.push_back(rootfsLayer(oci, work / ("layer-" + std::to_string(i)), i, "gzip"));
  Blob image = oci.addImage(layers);
  oci.tag("v1", image);
  auto bundle = work / "bundle";
  auto unpacked =
      sh("umoci unpack --image '" + (work / "oci").string() + ":v1' '" + bundle.string() + "'");
  ASSERT_EQ(unpacked.status, 0) << unpacked.err;
  pushLayout(store, oci, "app", {image}, "v1");

  auto out = work / "out" / "rootfs.tar";
  std::filesystem::create_directories(out.parent_path());
  auto r = regfsctl({"export", root, "app:v1", "-o", out.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_EQ(namesIn(out.parent_path()), std::vector<std::string>{"rootfs.tar"});
  extract(out, work / "x");

  auto expected = treeFacts(bundle / "rootfs", withRootfsComment());
  ASSERT_TRUE(expected.contains("etc/os-release"));
  auto exported = treeFacts(work / "x", withRootfsComment());
  EXPECT_EQ(exported, expected);
  // The facts the comparison rests on, spelled out.
  EXPECT_EQ(exported["bin/sh"].mode, 04755u);
  EXPECT_EQ(exported["dir/twin"].hardlinks, "dir/again");
  EXPECT_EQ(exported["etc/os-release"].uid, 1234u);
  EXPECT_EQ(exported["etc/os-release"].mtimeNsec, 123456789);
  EXPECT_EQ(exported["etc/os-release"].xattrs["user.comment"], "from layer one");
  EXPECT_EQ(exported["dev/null"].content, "1,3");
  EXPECT_FALSE(exported.contains("etc/gone"));

  // On stdout: the same bytes, listed by tar in tree order without a root entry.
  r = regfsctl({"export", root, "app@" + image.digest});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, readFile(out));
  auto listed = sh("tar -tf '" + out.string() + "' | head -4");
  EXPECT_EQ(listed.out, "bin/\nbin/busybox\nbin/sh\ndev/\n");
}

TEST_F(ExportCommandTest, AnIndexExportsTheImageOfAPlatform) {
  OciLayout oci(work / "oci");
  Blob amd = oci.addImage({oci.addLayer({{"arch", "amd64\n"}})}, {"linux", "amd64", ""});
  Blob arm = oci.addImage({oci.addLayer({{"arch", "arm64\n"}})}, {"linux", "arm64", "v8"});
  Blob index = oci.addIndex({{amd, {"linux", "amd64", ""}}, {arm, {"linux", "arm64", "v8"}}});
  pushLayout(store, oci, "multi", {amd, arm, index}, "latest");

  auto arch = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args{"export", root, "multi"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = regfsctl(args);
    EXPECT_EQ(r.status, 0) << r.err;
    writeFile(work / "t.tar", r.out);
    return sh("tar -xOf '" + (work / "t.tar").string() + "' arch").out;
  };
  EXPECT_EQ(arch({"--platform", "linux/arm64"}), "arm64\n");
  EXPECT_EQ(arch({"--platform", "linux/arm64/v8"}), "arm64\n");
  EXPECT_EQ(arch({"--platform", "linux/amd64"}), "amd64\n");
  Platform host = layers::hostPlatform();
  if (host.architecture == "amd64" || host.architecture == "arm64") {
    EXPECT_EQ(arch({}), host.architecture + "\n") << "the host's by default";
  }

  auto r = regfsctl({"export", root, "multi:latest", "--platform", "linux/s390x"});
  EXPECT_EQ(r.status, 66) << "EX_NOINPUT";
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("linux/amd64, linux/arm64/v8"), std::string::npos) << r.err;
  r = regfsctl({"export", root, "multi", "--platform", "linux"});
  EXPECT_EQ(r.status, 2) << r.err;
}

TEST_F(ExportCommandTest, FailuresLeaveNoFileAndSayWhyInOneLine) {
  Repository repo = store.repository(RepoName::parse("team/app"));
  std::string good = TarWriter().file("etc/hosts", "127.0.0.1\n").end().bytes();
  BuiltImage broken = pushImage(store, repo, {good, "not a tar, not at all"});
  repo.putTag(Tag::parse("broken"), broken.manifest);
  BuiltImage gone = pushImage(store, repo, {good, TarWriter().file("x", "y").end().bytes()});
  repo.putTag(Tag::parse("gone"), gone.manifest);
  std::filesystem::remove(root + layout::blobData(gone.layers[1]));
  auto outDir = work / "out";
  std::filesystem::create_directories(outDir);
  auto out = (outDir / "rootfs.tar").string();

  auto r = regfsctl({"export", root, "team/app:broken", "-o", out});
  EXPECT_EQ(r.status, 69) << "EX_UNAVAILABLE: " << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("layer " + broken.layers[1].str() + " cannot be read"), std::string::npos)
      << r.err;
  EXPECT_TRUE(namesIn(outDir).empty()) << "no file, no temp file";

  r = regfsctl({"export", root, "team/app:gone", "-o", out});
  EXPECT_EQ(r.status, 66) << "EX_NOINPUT: " << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(gone.layers[1].str()), std::string::npos) << r.err;
  EXPECT_TRUE(namesIn(outDir).empty());

  // A file already there stays as it was.
  writeFile(out, "before");
  r = regfsctl({"export", root, "team/app:broken", "-o", out});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(readFile(out), "before");
  EXPECT_EQ(namesIn(outDir), std::vector<std::string>{"rootfs.tar"});

  r = regfsctl({"export", root, "team/nothing:v1"});
  EXPECT_EQ(r.status, 66) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  r = regfsctl({"export", root, "team/app:v2"});
  EXPECT_EQ(r.status, 66) << r.err;
  r = regfsctl({"export", root, "team/app"});
  EXPECT_EQ(r.status, 66) << "NAME alone is NAME:latest: " << r.err;
  r = regfsctl({"export", root, "Team/App"});
  EXPECT_EQ(r.status, 65) << "EX_DATAERR: " << r.err;
  r = regfsctl({"export", root});
  EXPECT_EQ(r.status, 2) << "IMAGE is required";
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace regfs
