// User story: the clients people point at a registry mirror, configured the way their own
// documentation says, pull `library/…` images through a regfs pull-through cache of an
// upstream registry: dockerd with `registry-mirrors` (it asks a mirror for docker.io names
// only) pulls and runs an image, containerd's ctr pulls through a hosts.toml mirror, and
// podman and skopeo pull through a registries.conf mirror. Nothing reaches docker.io (the
// tests run on loopback only): an image arrives only if the mirror served it, and the mirror
// fetched it from the upstream, a second registry started by the test.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/dockerd.h"
#include "support/image.h"
#include "support/server.h"

namespace regfs {
namespace {

namespace fs = std::filesystem;
using namespace regfs::testing;

// A regfs-server mirroring `upstreamUrl` as docs/mirror.md sets up a Docker Hub mirror for
// every client: for names without a prefix (proxy.remoteurl: dockerd's), and for names under
// docker.io/ (regfs.proxy.upstreams: clients that can name a path on the mirror).
RegfsServerOptions mirrorOf(const std::string& upstreamUrl) {
  RegfsServerOptions o;
  o.extraConfig = "proxy:\n  remoteurl: " + upstreamUrl +
                  "\nregfs:\n  proxy:\n    upstreams:\n      - prefix: docker.io\n"
                  "        remoteurl: " +
                  upstreamUrl + "\n";
  return o;
}

// The repositories a registry lists, as its _catalog body.
std::string catalog(const RegfsServer& server) {
  return http("GET", server.url() + "/v2/_catalog").body;
}

// dockerd's registry-mirrors for as long as it lives; none afterwards, so the engine other
// tests of this program share is left as it was.
class RegistryMirrors {
 public:
  RegistryMirrors(DockerDaemon& daemon, const std::vector<std::string>& mirrors) : daemon_(daemon) {
    daemon_.setRegistryMirrors(mirrors);
  }
  ~RegistryMirrors() {
    try {
      daemon_.setRegistryMirrors({});
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  RegistryMirrors(const RegistryMirrors&) = delete;
  RegistryMirrors& operator=(const RegistryMirrors&) = delete;

 private:
  DockerDaemon& daemon_;
};

// dockerd and containerd start once for both clients: ctr talks to the containerd dockerd
// runs on (its own socket, a namespace of its own, the native snapshotter).
TEST(MirrorClients, DockerdAndContainerdPullThroughTheMirror) {
  DockerDaemon& daemon = sharedDockerDaemon();
  auto docker = [&](const std::vector<std::string>& args) { return daemon.dockerOk(args); };
  TempDir dir;
  RegfsServer upstream;
  // The upstream holds the image as docker.io holds library images: library/NAME.
  const std::string local = "regfs-mirror-busybox:v1";
  importBusyboxImage(daemon, local);
  for (const std::string name : {"library/mirror-busybox", "library/mirror-busybox-ctr"}) {
    docker({"tag", local, upstream.host() + "/" + name + ":v1"});
    ASSERT_EQ(docker({"push", upstream.host() + "/" + name + ":v1"}).status, 0);
    docker({"rmi", upstream.host() + "/" + name + ":v1"});
  }
  docker({"rmi", local});
  ASSERT_NE(daemon.docker({"image", "inspect", "mirror-busybox:v1"}).status, 0);
  RegfsServer mirror({}, mirrorOf(upstream.url()));

  {
    SCOPED_TRACE("dockerd, registry-mirrors");
    // A plain http:// mirror needs no insecure-registries entry: dockerd takes the scheme
    // of a mirror's URL as given.
    RegistryMirrors mirrors(daemon, {mirror.url()});
    // docker.io/library/mirror-busybox:v1: dockerd asks the mirror for library/mirror-busybox.
    CommandResult pull = docker({"pull", "mirror-busybox:v1"});
    ASSERT_EQ(pull.status, 0) << mirror.log();
    EXPECT_NE(pull.out.find("Pull complete"), std::string::npos) << pull.out;
    CommandResult hello = docker(
        {"run", "--rm", "--network", "none", "mirror-busybox:v1", "echo", "through the mirror"});
    EXPECT_EQ(hello.out, "through the mirror\n");
    docker({"rmi", "mirror-busybox:v1"});
  }
  EXPECT_EQ(catalog(mirror), "{\"repositories\":[\"library/mirror-busybox\"]}\n");

  {
    SCOPED_TRACE("containerd, hosts.toml");
    // The mirror for docker.io names, as /etc/containerd/certs.d/docker.io/hosts.toml, with
    // the prefix in the path (override_path: the URL is the API root).
    TempDir hosts;
    hosts.write("docker.io/hosts.toml",
                "server = \"https://registry-1.docker.io\"\n\n[host.\"" + mirror.url() +
                    "/v2/docker.io\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
                    "  override_path = true\n");
    const std::string ref = "docker.io/library/mirror-busybox-ctr:v1";
    std::vector<std::string> ctr = {"ctr", "--address", daemon.containerdAddress(), "--namespace",
                                    "regfs-mirror-test"};
    auto ctrRun = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = ctr;
      argv.insert(argv.end(), args.begin(), args.end());
      return run(argv);
    };
    CommandResult pull = ctrRun(
        {"images", "pull", "--hosts-dir", hosts.path().string(), "--snapshotter", "native", ref});
    ASSERT_EQ(pull.status, 0) << pull.out << pull.err << mirror.log();
    CommandResult listed = ctrRun({"images", "ls", "-q"});
    EXPECT_NE(listed.out.find(ref), std::string::npos) << listed.out;
    ctrRun({"images", "rm", ref});
  }
  EXPECT_EQ(catalog(mirror),
            "{\"repositories\":[\"docker.io/library/mirror-busybox-ctr\","
            "\"library/mirror-busybox\"]}\n");
}

// registries.conf of the clients built on containers/image, in a file of the test's own:
// docker.io names go to the mirror first, `mirrorLocation`
// (host:port, and a namespace there if any).
std::string registriesConf(const std::string& mirrorLocation) {
  return "unqualified-search-registries = []\n\n"
         "[[registry]]\n"
         "prefix = \"docker.io\"\n"
         "location = \"docker.io\"\n\n"
         "[[registry.mirror]]\n"
         "location = \"" +
         mirrorLocation +
         "\"\n"
         "insecure = true\n";
}

TEST(MirrorClients, PodmanAndSkopeoPullThroughARegistriesConfMirror) {
  ASSERT_TRUE(haveProgram("podman")) << "podman is required: scripts/setup.sh installs it";
  TempDir dir;
  RegfsServer upstream;
  OciLayout layout(dir / "oci");
  Blob image = layout.addImage({layout.addLayer({{"hello.txt", "from the upstream\n"}})});
  layout.tag("v1", image);
  for (const std::string name : {"library/for-skopeo", "library/for-podman"}) {
    CommandResult pushed =
        skopeoCopy(layout.ref("v1"), "docker://" + upstream.host() + "/" + name + ":v1");
    ASSERT_EQ(pushed.status, 0) << pushed.err;
  }
  RegfsServer mirror({}, mirrorOf(upstream.url()));
  // skopeo with the mirror's root as the location (names go to proxy.remoteurl as they are),
  // podman with the docker.io namespace on it (regfs.proxy.upstreams). podman reads the file
  // CONTAINERS_REGISTRIES_CONF names; skopeo 1.9 ignores the variable and takes
  // --registries-conf.
  const std::string rootConf = dir.write("root.conf", registriesConf(mirror.host())).string();
  const std::string namespaceConf =
      dir.write("namespace.conf", registriesConf(mirror.host() + "/docker.io")).string();

  {
    SCOPED_TRACE("skopeo");
    CommandResult copied =
        run({"skopeo", "--insecure-policy", "--registries-conf", rootConf, "copy",
             "docker://docker.io/library/for-skopeo:v1", "dir:" + (dir / "skopeo").string()});
    ASSERT_EQ(copied.status, 0) << copied.err << mirror.log();
    // Byte for byte: the upstream's manifest, so its digest.
    EXPECT_EQ(readFile(dir / "skopeo/manifest.json"), image.bytes);
  }
  {
    SCOPED_TRACE("podman");
    std::vector<std::string> podman = privatePodman(dir.path());
    auto cmd = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = podman;
      argv.insert(argv.end(), args.begin(), args.end());
      return run(argv,
                 {{"CONTAINERS_REGISTRIES_CONF", namespaceConf}, {"TMPDIR", dir.path().string()}});
    };
    CommandResult pull = cmd({"pull", "docker.io/library/for-podman:v1"});
    ASSERT_EQ(pull.status, 0) << pull.err << mirror.log();
    EXPECT_EQ(cmd({"image", "exists", "docker.io/library/for-podman:v1"}).status, 0);
    CommandResult digest =
        cmd({"image", "inspect", "--format", "{{.Digest}}", "docker.io/library/for-podman:v1"});
    EXPECT_EQ(digest.out, image.digest + "\n") << digest.err;
  }
  EXPECT_EQ(catalog(mirror),
            "{\"repositories\":[\"docker.io/library/for-podman\",\"library/for-skopeo\"]}\n");
}

}  // namespace
}  // namespace regfs
