// The mounted view of a store holding two repositories that share layers, an index and
// a nested repository whose name is also a tag: the whole tree (type, inode, link count,
// size, mtime, sha256 of every byte read) matches what the store holds, and is the same
// after unmount (SIGTERM) and remount. The tree of the store's blobs, as a backup sees it
// (-o nocontents: what is inside images is view_rootfs_test's).

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>
#include <set>

#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;

std::string configDigestOf(const Blob& manifest) {
  size_t at = manifest.bytes.find("\"config\":");
  size_t d = manifest.bytes.find("sha256:", at);
  return manifest.bytes.substr(d, 71);
}

std::string hexOf(const std::string& digest) { return digest.substr(7); }

class ViewGoldenTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
    ASSERT_TRUE(haveProgram("fusermount3")) << "fusermount3 is required (fuse3)";
  }
  TempDir work;
};

TEST_F(ViewGoldenTreeTest, TreeMatchesStoreAndSurvivesRemount) {
  auto root = work / "store";
  OciLayout oci(work / "oci");
  Blob shared = oci.addLayer({{"etc/os-release", "shared base"}});
  Blob appLayer = oci.addLayer({{"bin/app", "the app"}});
  Blob toolLayer = oci.addLayer({{"bin/tool", "the tool"}});
  Blob app = oci.addImage({shared, appLayer});
  Blob tool = oci.addImage({shared, toolLayer}, {}, /*dockerMediaTypes=*/true);
  ImagePlatform amdPlatform{"linux", "amd64", ""}, armPlatform{"linux", "arm64", "v8"};
  Blob amd = oci.addImage({shared}, amdPlatform);
  Blob arm = oci.addImage({shared, appLayer}, armPlatform);
  Blob index = oci.addIndex({{amd, amdPlatform}, {arm, armPlatform}});

  Store store = Store::openLocal(root);
  pushLayout(store, oci, "library/app", {app}, "v1");
  store.repository(RepoName::parse("library/app"))
      .putTag(Tag::parse("nested"), Digest::parse(app.digest));
  pushLayout(store, oci, "team/tool", {tool}, "latest");
  pushLayout(store, oci, "library/app/nested", {amd, arm, index}, "multi");

  // The expected tree, derived from what was pushed.
  std::map<std::string, Entry> expected;
  std::map<std::string, std::string> blobOf;  // file path -> digest
  auto dir = [&](const std::string& p) { expected[p].type = 'd'; };
  auto file = [&](const std::string& p, const std::string& digest) {
    Entry& e = expected[p];
    e.type = 'f';
    auto info = store.statBlob(Digest::parse(digest));
    ASSERT_TRUE(info) << digest;
    e.size = info->size;
    e.mtimeSec = info->mtime.tv_sec;
    e.mtimeNsec = info->mtime.tv_nsec;
    e.content = hexOf(digest);
    blobOf[p] = digest;
  };
  auto link = [&](const std::string& p, const std::string& target, timespec mtime) {
    Entry& e = expected[p];
    e.type = 'l';
    e.size = target.size();
    e.content = target;
    e.nlink = 1;
    e.mtimeSec = mtime.tv_sec;
    e.mtimeNsec = mtime.tv_nsec;
  };
  auto tagTime = [&](const std::string& repo, const std::string& tag) {
    return store.repository(RepoName::parse(repo)).statTag(Tag::parse(tag))->mtime;
  };
  auto image = [&](const std::string& repo, const Blob& m, const std::vector<Blob>& layers,
                   const std::string& ext) {
    std::string d = repo + "/@" + m.digest;
    dir(d);
    file(d + "/manifest.json", m.digest);
    file(d + "/config.json", configDigestOf(m));
    dir(d + "/layers");
    for (size_t i = 0; i < layers.size(); ++i) {
      file(d + "/layers/0" + std::to_string(i) + "-" + hexOf(layers[i].digest) + ext,
           layers[i].digest);
    }
  };
  dir("library");
  dir("library/app");
  dir("library/app/nested");
  dir("team");
  dir("team/tool");
  link("library/app/v1", "@" + app.digest, tagTime("library/app", "v1"));
  link("library/app/@tag:nested", "@" + app.digest, tagTime("library/app", "nested"));
  image("library/app", app, {shared, appLayer}, ".tar.gz");
  link("team/tool/latest", "@" + tool.digest, tagTime("team/tool", "latest"));
  image("team/tool", tool, {shared, toolLayer}, ".tar.gz");
  link("library/app/nested/multi", "@" + index.digest, tagTime("library/app/nested", "multi"));
  image("library/app/nested", amd, {shared}, ".tar.gz");
  image("library/app/nested", arm, {shared, appLayer}, ".tar.gz");
  std::string idx = "library/app/nested/@" + index.digest;
  dir(idx);
  file(idx + "/manifest.json", index.digest);
  dir(idx + "/platforms");
  timespec indexTime = store.statBlob(Digest::parse(index.digest))->mtime;
  link(idx + "/platforms/linux-amd64", "../../@" + amd.digest, indexTime);
  link(idx + "/platforms/linux-arm64-v8", "../../@" + arm.digest, indexTime);
  // Link counts: a blob's places; a directory's 2 + subdirectories.
  std::map<std::string, int> places;
  for (const auto& [p, d] : blobOf) ++places[d];
  for (const auto& [p, d] : blobOf) expected[p].nlink = static_cast<uint64_t>(places[d]);
  for (auto& [p, e] : expected) {
    if (e.type != 'd') continue;
    e.nlink = 2;
    for (const auto& [q, f] : expected) {
      if (f.type == 'd' && q.size() > p.size() + 1 && q.compare(0, p.size() + 1, p + "/") == 0 &&
          q.find('/', p.size() + 1) == std::string::npos) {
        ++e.nlink;
      }
    }
  }
  EXPECT_EQ(places[shared.digest], 4);

  auto mnt = work / "mnt";
  std::map<std::string, Entry> first;
  {
    MountedView view(root, mnt, {"-o", "nocontents"});
    first = walkTree(mnt);
    for (const auto& [path, e] : first)
      EXPECT_TRUE(expected.contains(path)) << "unexpected: " << path;
    for (const auto& [path, want] : expected) {
      auto it = first.find(path);
      ASSERT_NE(it, first.end()) << "missing: " << path;
      Entry got = it->second;
      got.ino = 0;
      if (want.type == 'd') got.mtimeSec = got.mtimeNsec = 0, got.size = 0;
      EXPECT_EQ(got, want) << path;
    }
    // One inode per blob: equal content <=> equal inode number.
    std::map<std::string, std::set<uint64_t>> inosByDigest;
    std::set<uint64_t> allInos;
    for (const auto& [path, e] : first) {
      if (e.type == 'f') inosByDigest[e.content].insert(e.ino);
      allInos.insert(e.ino);
    }
    for (const auto& [digest, inos] : inosByDigest) EXPECT_EQ(inos.size(), 1u) << digest;
    EXPECT_EQ(allInos.size(), first.size() - (blobOf.size() - inosByDigest.size()));
    // The platform link resolves through the mount.
    EXPECT_EQ(readFile(mnt / idx / "platforms/linux-arm64-v8/manifest.json"), arm.bytes);
    // Extended attributes name the blob.
    std::string layerPath = (mnt / ("team/tool/@" + tool.digest) / "layers" /
                             ("01-" + hexOf(toolLayer.digest) + ".tar.gz"))
                                .string();
    EXPECT_EQ(xattr(layerPath, "user.oci.digest"), toolLayer.digest);
    EXPECT_EQ(xattr(layerPath, "user.oci.mediaType"),
              "application/vnd.docker.image.rootfs.diff.tar.gzip");
    EXPECT_EQ(xattr(mnt / ("library/app/@" + app.digest) / "manifest.json", "user.oci.mediaType"),
              "application/vnd.oci.image.manifest.v1+json");
    // Only the user namespace: ls -l stops asking for labels and ACLs when told so.
    char none[64];
    errno = 0;
    EXPECT_LT(::lgetxattr(layerPath.c_str(), "security.selinux", none, sizeof none), 0);
    EXPECT_EQ(errno, EOPNOTSUPP);
    errno = 0;
    EXPECT_LT(::lgetxattr(layerPath.c_str(), "system.posix_acl_access", none, sizeof none), 0);
    EXPECT_EQ(errno, EOPNOTSUPP);
    errno = 0;
    EXPECT_LT(::lgetxattr(layerPath.c_str(), "user.other", none, sizeof none), 0);
    EXPECT_EQ(errno, ENODATA);
    // st_blocks is filled, so du adds up.
    struct stat st;
    ASSERT_EQ(::stat(layerPath.c_str(), &st), 0);
    EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, static_cast<uint64_t>(st.st_size));
    // Read-only.
    EXPECT_NE(run({"touch", (mnt / "library/new").string()}).status, 0);
    EXPECT_NE(run({"sh", "-c", "echo x >> '" + layerPath + "'"}).status, 0);

    EXPECT_EQ(view.stop(), 0) << "SIGTERM ends the daemon cleanly\n" << view.log();
    EXPECT_FALSE(isRegfsMount(mnt)) << "and unmounts";
  }
  {
    MountedView view(root, mnt, {"-o", "nocontents"});
    EXPECT_EQ(walkTree(mnt), first) << "same tree, inode numbers and times after a remount";
  }
}

}  // namespace
}  // namespace regfs
