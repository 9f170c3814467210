// User story: images built by real tools (`docker build`, `buildah bud`) and pushed to
// regfs-server show, under rootfs/ in the mounted view, the same file system the tools
// themselves make of the image, path by path (type, mode with setuid and setgid, owner, mtime,
// size, bytes, link target, hardlink groups, xattrs). The Dockerfile's RUN steps delete and move
// files and directories of earlier layers, so the layers carry real whiteouts as the tools
// write them. The reference for docker is `docker export` of a container created from the
// image; for buildah, the image as `buildah mount` shows it. A buildah image pushed once with
// gzip and once with zstd layers shows the same tree both times.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/manifest.h"
#include "common/store/store.h"
#include "support/dockerd.h"
#include "support/image.h"
#include "support/server.h"
#include "support/tree_facts.h"
#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;
namespace fs = std::filesystem;

// FROM the busybox image of importBusyboxImage() (base layer: /bin with busybox and its applet
// symlinks, /tmp). The second step removes a file and a directory of the base and of the first
// step, moves a file, replaces a file by a directory and sets setuid and setgid bits.
constexpr char kDockerfile[] = R"(ARG BASE
FROM ${BASE}
RUN mkdir -p /opt/app/sub /opt/gone/deep /etc \
 && echo hello > /opt/app/hello \
 && ln -s hello /opt/app/link \
 && ln /opt/app/hello /opt/app/hard \
 && echo doomed > /opt/doomed \
 && echo deep > /opt/gone/deep/file \
 && echo file > /opt/thing \
 && echo moved > /opt/app/old \
 && chown -R 1000:2000 /opt/app/sub \
 && echo motd > /etc/motd
RUN rm /opt/doomed /bin/vi \
 && rm -r /opt/gone /tmp \
 && mv /opt/app/old /opt/app/new \
 && rm /opt/thing && mkdir /opt/thing && echo inside > /opt/thing/file \
 && cp /bin/busybox /opt/su && chmod 4755 /opt/su \
 && chmod 2750 /opt/app/sub
)";

// Paths the Dockerfile removes: no tree may show them.
const std::vector<std::string> kRemoved = {"opt/doomed", "bin/vi", "opt/gone", "tmp",
                                           "opt/app/old"};

TreeFactsOptions factsOptions() {
  TreeFactsOptions o;
  o.xattrNames = {{"security.capability", "security.capability"}};
  return o;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// One line per path where the trees differ ("" when they agree): a whole tree is too much
// for a failure message.
std::string differences(const std::map<std::string, PathFacts>& shown,
                        const std::map<std::string, PathFacts>& expected) {
  std::ostringstream out;
  for (const auto& [path, facts] : expected) {
    auto it = shown.find(path);
    if (it == shown.end())
      out << path << ": missing; the tool has " << facts << "\n";
    else if (it->second != facts)
      out << path << ": regfs shows " << it->second << "; the tool has " << facts << "\n";
  }
  for (const auto& [path, facts] : shown)
    if (!expected.contains(path))
      out << path << ": regfs shows " << facts << "; the tool has none\n";
  return out.str();
}

// What the tests assert of every tree, whichever tool made it: the Dockerfile's steps.
void expectDockerfileApplied(const std::map<std::string, PathFacts>& tree) {
  for (const auto& path : kRemoved) EXPECT_FALSE(tree.contains(path)) << path;
  ASSERT_TRUE(tree.contains("opt/app/hello"));
  ASSERT_TRUE(tree.contains("opt/app/hard"));
  EXPECT_EQ(tree.at("opt/app/hard").hardlinks, "opt/app/hard");  // first of its group
  EXPECT_EQ(tree.at("opt/app/hello").hardlinks, "opt/app/hard");
  EXPECT_EQ(tree.at("opt/app/link").content, "hello");
  EXPECT_EQ(tree.at("opt/app/new").content, sha256Hex("moved\n"));
  EXPECT_EQ(tree.at("opt/app/sub").mode, 02750u);
  EXPECT_EQ(tree.at("opt/app/sub").uid, 1000u);
  EXPECT_EQ(tree.at("opt/app/sub").gid, 2000u);
  EXPECT_EQ(tree.at("opt/su").mode, 04755u);
  EXPECT_EQ(tree.at("opt/thing").type, 'd');
  EXPECT_EQ(tree.at("opt/thing/file").content, sha256Hex("inside\n"));
  EXPECT_EQ(tree.at("bin/sh").content, "busybox");
}

// The layer-contents/ directory of the image's last layer, whiteouts shown as files: proof
// that the tool wrote real whiteouts for the RUN steps that delete.
void expectWhiteoutsInLastLayer(const fs::path& image) {
  std::vector<fs::path> layers;
  for (const auto& e : fs::directory_iterator(image / "layer-contents")) layers.push_back(e.path());
  ASSERT_FALSE(layers.empty()) << image;
  std::sort(layers.begin(), layers.end());
  for (const char* whiteout : {"opt/.wh.doomed", "bin/.wh.vi", "opt/.wh.gone", ".wh.tmp"})
    EXPECT_TRUE(fs::is_regular_file(layers.back() / whiteout)) << layers.back() / whiteout;
}

class RootfsRealToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists("/dev/fuse")) << "/dev/fuse is required";
    ASSERT_TRUE(haveProgram("fusermount3")) << "fusermount3 is required (fuse3)";
    try {
      docker_ = &sharedDockerDaemon();
    } catch (const std::exception& e) {
      FAIL() << "dockerd could not start: " << e.what();
    }
    importBusyboxImage(*docker_, kBase);
    writeFile(work_ / "context/Dockerfile", kDockerfile);
  }

  // The engine is shared by the test program: images left in it would change what other
  // tests' pulls find already there.
  void TearDown() override {
    if (!docker_) return;
    std::vector<std::string> rmi = {"rmi", "-f"};
    rmi.insert(rmi.end(), images_.begin(), images_.end());
    docker(rmi);
  }

  // Runs docker; a non-zero exit fails the test with docker's output and the logs.
  CommandResult docker(const std::vector<std::string>& args) {
    CommandResult r = docker_->docker(args);
    EXPECT_EQ(r.status, 0) << "docker " << joined(args) << "\n"
                           << r.out << r.err << "\n--- registry log ---\n"
                           << server_.log() << "\n"
                           << docker_->log();
    return r;
  }

  // The manifest `repo:tag` names in the server's store, read through common/.
  Manifest storedManifest(const std::string& repo, const std::string& tag) {
    Store store = Store::openLocal(server_.root());
    Repository r = store.repository(RepoName::parse(repo));
    std::optional<Digest> digest = r.resolveTag(Tag::parse(tag));
    if (!digest) throw std::runtime_error(repo + ":" + tag + " is not in the store");
    return parseStoredManifest(r.getManifest(*digest));
  }

  static constexpr char kBase[] = "regfs-busybox:rootfs";
  TempDir work_;
  RegfsServer server_{work_ / "store"};
  DockerDaemon* docker_ = nullptr;
  std::vector<std::string> images_ = {kBase};  // to remove from the engine
};

TEST_F(RootfsRealToolsTest, DockerBuildEqualsDockerExport) {
  const std::string image = server_.host() + "/built/docker:1";
  images_.push_back(image);
  ASSERT_EQ(docker({"build", "--network", "none", "--build-arg", std::string("BASE=") + kBase, "-t",
                    image, (work_ / "context").string()})
                .status,
            0);
  ASSERT_EQ(docker({"push", image}).status, 0);

  CommandResult created = docker({"create", "--network", "none", image});
  ASSERT_EQ(created.status, 0);
  const std::string container = created.out.substr(0, created.out.find('\n'));
  const fs::path tar = work_ / "export.tar";
  ASSERT_EQ(docker({"export", "-o", tar.string(), container}).status, 0);
  docker({"rm", container});
  const fs::path exported = work_ / "export";
  fs::create_directories(exported);
  CommandResult untar = run({"tar", "-xpf", tar.string(), "--same-owner", "--numeric-owner",
                             "--xattrs", "--xattrs-include=*", "-C", exported.string()});
  ASSERT_EQ(untar.status, 0) << untar.err;

  auto expected = treeFacts(exported, factsOptions());
  // docker's own: what a container has that its image has not. docker export writes the
  // container's file system, which holds the init layer (/.dockerenv, the files docker
  // bind-mounts over in /etc, the /etc/mtab symlink, the mount points of /dev, /proc, /sys)
  // as well as the image.
  for (const char* path : {".dockerenv", "etc/hostname", "etc/hosts", "etc/mtab", "etc/resolv.conf",
                           "dev/console", "dev/pts", "dev/shm", "dev", "proc", "sys"}) {
    EXPECT_TRUE(expected.erase(path)) << path << " is no longer docker's own: drop it";
  }
  MountedView view(work_ / "store", work_ / "mnt");
  auto shown = treeFacts(work_ / "mnt/built/docker/1/rootfs", factsOptions());
  // The init layer writes etc/hostname, etc/hosts, etc/resolv.conf and etc/mtab into etc/: its
  // mtime is the container's. Everything else about it must agree.
  ASSERT_TRUE(expected.contains("etc") && shown.contains("etc"));
  expected["etc"].mtimeSec = shown["etc"].mtimeSec;
  expected["etc"].mtimeNsec = shown["etc"].mtimeNsec;
  EXPECT_EQ(differences(shown, expected), "");
  expectDockerfileApplied(shown);
  expectWhiteoutsInLastLayer(work_ / "mnt/built/docker/1");
  EXPECT_EQ(storedManifest("built/docker", "1").layers.size(), 3u);
}

// buildah with a store of its own (vfs, under the test's temp dir), never the machine's. As
// root, buildah keeps a cache of which blobs a registry already has in the machine's
// /var/lib/containers/cache, and pushes would reuse those blobs whatever compression was asked
// for: every run gets a private mount namespace with an empty tmpfs there, so a push to the
// test's registry neither reads nor leaves anything outside the test.
constexpr char kPrivateCache[] =
    "mkdir -p /var/lib/containers/cache"
    " && mount -t tmpfs -o mode=0700 regfs-test /var/lib/containers/cache && exec \"$@\"";

class Buildah {
 public:
  explicit Buildah(const fs::path& dir) : dir_(dir) {
    writeFile(dir_ / "storage.conf", "[storage]\ndriver = \"vfs\"\nrunroot = \"" +
                                         (dir_ / "run").string() + "\"\ngraphroot = \"" +
                                         (dir_ / "root").string() + "\"\n");
  }
  // Runs buildah; a non-zero exit fails the test with buildah's output. Returns stdout
  // without its last newline.
  std::string operator()(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"unshare",
                                     "--mount",
                                     "--propagation",
                                     "private",
                                     "sh",
                                     "-c",
                                     kPrivateCache,
                                     "sh",
                                     "buildah",
                                     "--storage-driver",
                                     "vfs",
                                     "--root",
                                     (dir_ / "root").string(),
                                     "--runroot",
                                     (dir_ / "run").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = run(argv, {{"CONTAINERS_STORAGE_CONF", (dir_ / "storage.conf").string()}});
    EXPECT_EQ(r.status, 0) << joined(argv) << "\n" << r.out << r.err;
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }

 private:
  fs::path dir_;
};

TEST_F(RootfsRealToolsTest, BuildahBuildEqualsBuildahMountWithGzipAndZstd) {
  ASSERT_TRUE(haveProgram("buildah")) << "buildah is required";
  const fs::path archive = work_ / "busybox.tar";
  ASSERT_EQ(docker({"save", "-o", archive.string(), kBase}).status, 0);
  Buildah buildah(work_ / "buildah");
  const std::string base = buildah({"pull", "-q", "docker-archive:" + archive.string()});
  ASSERT_FALSE(base.empty());
  // chroot isolation: no runtime or network set-up; the RUN steps need no network.
  // --layers: a layer per step, as docker makes them.
  buildah({"bud", "-q", "--layers", "--isolation", "chroot", "--build-arg", "BASE=" + base, "-t",
           "localhost/built:1", (work_ / "context").string()});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string repo = server_.host() + "/built/buildah";
  buildah({"push", "-q", "--tls-verify=false", "--compression-format", "zstd", "localhost/built:1",
           "docker://" + repo + ":zstd"});
  buildah({"push", "-q", "--tls-verify=false", "localhost/built:1", "docker://" + repo + ":gzip"});
  ASSERT_FALSE(::testing::Test::HasFailure()) << server_.log();
  for (const auto& [tag, type] : {std::pair{"gzip", "tar+gzip"}, std::pair{"zstd", "tar+zstd"}}) {
    Manifest manifest = storedManifest("built/buildah", tag);
    ASSERT_EQ(manifest.layers.size(), 3u) << tag;
    for (const auto& layer : manifest.layers)
      EXPECT_TRUE(layer.mediaType.ends_with(type)) << tag << ": " << layer.mediaType;
  }

  const std::string container = buildah({"from", "-q", "localhost/built:1"});
  const fs::path mounted = buildah({"mount", container});
  ASSERT_FALSE(mounted.empty());
  auto expected = treeFacts(mounted, factsOptions());
  buildah({"umount", container});
  buildah({"rm", container});

  MountedView view(work_ / "store", work_ / "mnt");
  auto gzip = treeFacts(work_ / "mnt/built/buildah/gzip/rootfs", factsOptions());
  EXPECT_EQ(differences(gzip, expected), "");
  expectDockerfileApplied(gzip);
  expectWhiteoutsInLastLayer(work_ / "mnt/built/buildah/zstd");
  EXPECT_EQ(differences(treeFacts(work_ / "mnt/built/buildah/zstd/rootfs", factsOptions()), gzip),
            "");
}

}  // namespace
}  // namespace regfs
