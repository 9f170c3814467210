// Real clients against regfs-server: skopeo pushes and pulls images and a multi-arch index
// byte for byte, podman pushes and pulls, and a store is handed between regfs-server and the
// reference registry (Debian's docker-registry) in both directions.

#include <gtest/gtest.h>

#include <filesystem>

#include "support/image.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

class RegistryClientsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(haveProgram("skopeo")) << "skopeo is required"; }

  // Every blob file of an OCI layout.
  static std::map<std::string, std::string> blobs(const std::filesystem::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir / "blobs" / "sha256")) {
      out[e.path().filename().string()] = readFile(e.path());
    }
    return out;
  }

  TempDir work;
};

TEST_F(RegistryClientsTest, SkopeoPushesAndPullsAMultiArchIndexByteForByte) {
  OciLayout oci(work / "oci");
  Blob shared = oci.addLayer({{"etc/os-release", "regfs test"}});
  Blob amd =
      oci.addImage({shared, oci.addLayer({{"bin/amd", "amd64 binary"}})}, {"linux", "amd64", ""});
  Blob arm =
      oci.addImage({shared, oci.addLayer({{"bin/arm", "arm64 binary"}})}, {"linux", "arm64", "v8"});
  Blob index = oci.addIndex({{amd, {"linux", "amd64", ""}}, {arm, {"linux", "arm64", "v8"}}});
  oci.tag("multi", index);
  Blob single = oci.addImage({shared});
  oci.tag("single", single);

  RegfsServer server;
  auto r =
      skopeoCopy(oci.ref("multi"), "docker://" + server.host() + "/library/app:multi", {"--all"});
  ASSERT_EQ(r.status, 0) << r.err << server.log();
  // skopeo converts to Docker schema 2 on the way: the registry keeps what it was sent.
  r = skopeoCopy(oci.ref("single"), "docker://" + server.host() + "/library/app:docker",
                 {"--format", "v2s2"});
  ASSERT_EQ(r.status, 0) << r.err << server.log();
  auto stored = curl({"-s", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
                      server.url() + "/v2/library/app/manifests/docker"});
  EXPECT_NE(stored.out.find("application/vnd.docker.distribution.manifest.v2+json"),
            std::string::npos);

  // Pull everything back into a fresh layout: the same bytes, the same digests.
  OciLayout back(work / "back");
  r = skopeoCopy("docker://" + server.host() + "/library/app:multi", back.ref("multi"), {"--all"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto pushed = blobs(oci.dir());
  auto pulled = blobs(back.dir());
  for (const std::string& d : {index.digest, amd.digest, arm.digest, shared.digest}) {
    std::string hex = d.substr(7);
    ASSERT_TRUE(pulled.count(hex)) << d;
    EXPECT_TRUE(pulled[hex] == pushed[hex]) << d;
  }
  r = skopeoCopy("docker://" + server.host() + "/library/app:docker",
                 "dir:" + (work / "dir").string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(readFile(work / "dir" / "manifest.json"), stored.out);
  EXPECT_EQ(readFile(work / "dir" / shared.digest.substr(7)), shared.bytes);

  auto tags = curl({"-s", server.url() + "/v2/library/app/tags/list"});
  EXPECT_EQ(tags.out, "{\"name\":\"library/app\",\"tags\":[\"docker\",\"multi\"]}\n");
  auto inspect = run({"skopeo", "inspect", "--tls-verify=false", "--raw",
                      "docker://" + server.host() + "/library/app:multi"});
  EXPECT_EQ(inspect.out, index.bytes);
}

TEST_F(RegistryClientsTest, PodmanPushesAndPulls) {
  ASSERT_TRUE(haveProgram("podman")) << "podman is required: scripts/setup.sh installs it";
  OciLayout oci(work / "oci");
  Blob layer = oci.addLayer({{"hello.txt", "hello from podman"}});
  Blob image = oci.addImage({layer});
  oci.tag("v1", image);

  RegfsServer server;
  std::vector<std::string> podman = privatePodman(work.path());
  auto cmd = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = podman;
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {{"TMPDIR", work.path().string()}});
  };
  std::string storage =
      "containers-storage:[vfs@" + (work / "root").string() + "+" + (work / "run").string() + "]";
  auto r = skopeoCopy(oci.ref("v1"), storage + "localhost/hello:v1");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string ref = server.host() + "/podman/hello:v1";
  r = cmd({"tag", "localhost/hello:v1", ref});
  ASSERT_EQ(r.status, 0) << r.err;
  r = cmd({"push", "--tls-verify=false", ref});
  ASSERT_EQ(r.status, 0) << r.err << server.log();
  r = cmd({"rmi", "-a", "-f"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = cmd({"pull", "--tls-verify=false", ref});
  ASSERT_EQ(r.status, 0) << r.err << server.log();
  r = cmd({"image", "exists", ref});
  EXPECT_EQ(r.status, 0);
  auto tags = curl({"-s", server.url() + "/v2/podman/hello/tags/list"});
  EXPECT_EQ(tags.out, "{\"name\":\"podman/hello\",\"tags\":[\"v1\"]}\n");
  r = cmd({"run", "--rm", "--net=none", ref, "cat", "/hello.txt"});
  (void)r;  // running needs more privileges than a test box may have; the pull is the point
}

TEST_F(RegistryClientsTest, StoreWrittenByRegfsIsServedByReferenceAndBack) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/docker-registry")) << "docker-registry is required";
  OciLayout oci(work / "oci");
  Blob layer = oci.addLayer({{"a.txt", "written by regfs"}});
  Blob image = oci.addImage({layer});
  oci.tag("v1", image);
  OciLayout oci2(work / "oci2");
  Blob layer2 = oci2.addLayer({{"b.txt", "written by the reference"}});
  Blob image2 = oci2.addImage({layer2});
  oci2.tag("v2", image2);

  auto root = work / "store";
  {
    RegfsServer regfs(root);
    auto r = skopeoCopy(oci.ref("v1"), "docker://" + regfs.host() + "/team/app:v1");
    ASSERT_EQ(r.status, 0) << r.err << regfs.log();
  }
  {
    ReferenceRegistry reference(root);
    auto r = skopeoCopy("docker://" + reference.host() + "/team/app:v1",
                        "dir:" + (work / "from-ref").string());
    ASSERT_EQ(r.status, 0) << r.err << reference.log();
    EXPECT_EQ(readFile(work / "from-ref" / "manifest.json"), image.bytes);
    EXPECT_EQ(readFile(work / "from-ref" / layer.digest.substr(7)), layer.bytes);
    // The reference writes into the same store.
    r = skopeoCopy(oci2.ref("v2"), "docker://" + reference.host() + "/team/app:v2");
    ASSERT_EQ(r.status, 0) << r.err << reference.log();
  }
  RegfsServer regfs(root);
  auto r = skopeoCopy("docker://" + regfs.host() + "/team/app:v2",
                      "dir:" + (work / "from-regfs").string());
  ASSERT_EQ(r.status, 0) << r.err << regfs.log();
  EXPECT_EQ(readFile(work / "from-regfs" / "manifest.json"), image2.bytes);
  EXPECT_EQ(readFile(work / "from-regfs" / layer2.digest.substr(7)), layer2.bytes);
  auto tags = curl({"-s", regfs.url() + "/v2/team/app/tags/list"});
  EXPECT_EQ(tags.out, "{\"name\":\"team/app\",\"tags\":[\"v1\",\"v2\"]}\n");
}

}  // namespace
}  // namespace regfs::testing
