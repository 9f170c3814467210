// Packaging as an operator meets it: `cmake --install` lays out the programs, a sample
// configuration and systemd units (checked with systemd-analyze verify); the sample
// configuration serves; the Dockerfile builds on a base imported from the local build and
// runs the way `docker run registry:2` does; scripts/start.sh installs only what running
// needs, and the image it suggests pushing is made on the spot.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "support/dockerd.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

std::filesystem::path sourceDir() { return REGFS_SOURCE_DIR; }
std::filesystem::path buildDir() { return binDir().parent_path(); }

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

class PackagingTest : public ::testing::Test {
 protected:
  TempDir prefix;
  void SetUp() override {
    CommandResult r =
        run({"cmake", "--install", buildDir().string(), "--prefix", prefix.path().string()});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }
};

TEST_F(PackagingTest, InstallLaysOutProgramsConfigAndUnits) {
  for (const char* p :
       {"bin/regfs-server", "bin/regfs-mount", "bin/regfsctl", "etc/regfs/config.yml",
        "share/regfs/config.yml.sample", "lib/systemd/system/regfs-server.service",
        "lib/systemd/system/regfs-mount@.service"}) {
    EXPECT_TRUE(std::filesystem::exists(prefix / p)) << p;
  }
  CommandResult help = run({(prefix / "bin/regfs-server").string(), "--help"});
  EXPECT_EQ(help.status, 0);
  for (const char* section :
       {"SYNOPSIS", "DESCRIPTION", "OPERATIONS", "FILES", "EXIT STATUS", "--version"}) {
    EXPECT_NE(help.out.find(section), std::string::npos) << section << "\n" << help.out;
  }
}

TEST_F(PackagingTest, TheSampleConfigurationServesWithoutWarnings) {
  TempDir store;
  int port = freePort();
  int debugPort = freePort();
  Process server(
      {(prefix / "bin/regfs-server").string(), (prefix / "etc/regfs/config.yml").string()},
      {{"REGISTRY_HTTP_ADDR", "127.0.0.1:" + std::to_string(port)},
       {"REGISTRY_HTTP_DEBUG_ADDR", "127.0.0.1:" + std::to_string(debugPort)},
       {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", store.path().string()}},
      store / "server.log");
  ASSERT_TRUE(waitForPort(port)) << server.log();
  ASSERT_TRUE(waitForPort(debugPort)) << server.log();
  EXPECT_EQ(http("GET", "http://127.0.0.1:" + std::to_string(port) + "/v2/").status, 200);
  EXPECT_EQ(http("GET", "http://127.0.0.1:" + std::to_string(debugPort) + "/debug/health").status,
            200);
  EXPECT_EQ(server.stop(), 0);
  EXPECT_EQ(server.log().find("level=warning"), std::string::npos) << server.log();
}

TEST_F(PackagingTest, SystemdUnitsVerify) {
  ASSERT_TRUE(haveProgram("systemd-analyze"))
      << "systemd-analyze (Debian package systemd) is required";
  // The units name the configured prefix; point them at this install so verify finds
  // the programs it checks for.
  TempDir units;
  for (const char* name : {"regfs-server.service", "regfs-mount@.service"}) {
    std::string text = readFile(prefix / "lib/systemd/system" / name);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(text, m, std::regex("ExecStart=(/\\S*)/bin/regfs-"))) << text;
    text = replaceAll(text, m[1].str() + "/bin/", (prefix / "bin").string() + "/");
    writeFile(units / name, text);
  }
  CommandResult r = sh("cd '" + units.path().string() +
                       "' && systemd-analyze verify ./regfs-server.service "
                       "./regfs-mount@srv-registry\\\\x2dview.service 2>&1");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "") << r.out;
  // A broken unit is caught, so the check above means something.
  writeFile(units / "broken.service", "[Service]\nExecStart=relative/path\nBogusKey=1\n");
  EXPECT_NE(sh("cd '" + units.path().string() + "' && systemd-analyze verify ./broken.service 2>&1")
                .status,
            0);
}

TEST(DockerImageTest, BuildsFromALocalBaseAndRunsLikeRegistry2) {
  DockerDaemon& d = sharedDockerDaemon();
  CommandResult base = sh("DOCKER='docker -H " + d.host() + "' '" +
                          (sourceDir() / "scripts/docker-base.sh").string() + "' '" +
                          buildDir().string() + "' regfs-base:test 2>&1");
  ASSERT_EQ(base.status, 0) << base.out;
  CommandResult build =
      d.docker({"build", "-q", "-t", "regfs:test", "--build-arg", "BASE=regfs-base:test", "-f",
                (sourceDir() / "Dockerfile").string(), sourceDir().string()});
  ASSERT_EQ(build.status, 0) << build.out << build.err;
  CommandResult inspect =
      d.docker({"image", "inspect", "-f",
                "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.ExposedPorts}} "
                "{{json .Config.Volumes}}",
                "regfs:test"});
  ASSERT_EQ(inspect.status, 0) << inspect.err;
  EXPECT_EQ(inspect.out,
            "[\"regfs-server\"] [\"/etc/docker/registry/config.yml\"] {\"5000/tcp\":{}} "
            "{\"/var/lib/registry\":{}}\n");

  // dockerd runs without a bridge, so the container shares the host's network; the
  // address moves off 5000 with the usual REGISTRY_* variable.
  TempDir volume;
  int port = freePort();
  CommandResult started = d.docker({"run", "-d", "--network", "host", "-v",
                                    volume.path().string() + ":/var/lib/registry", "-e",
                                    "REGISTRY_HTTP_ADDR=127.0.0.1:" + std::to_string(port), "-e",
                                    "REGISTRY_STORAGE_DELETE_ENABLED=true", "regfs:test"});
  ASSERT_EQ(started.status, 0) << started.err;
  std::string id = started.out.substr(0, started.out.find('\n'));
  ASSERT_TRUE(waitForPort(port)) << d.docker({"logs", id}).err;
  EXPECT_EQ(http("GET", "http://127.0.0.1:" + std::to_string(port) + "/v2/").status, 200);
  std::string blob = "hello from a container";
  TempDir work;
  writeFile(work / "blob", blob);
  Reply r = http("POST",
                 "http://127.0.0.1:" + std::to_string(port) +
                     "/v2/c/app/blobs/uploads/?digest=sha256:" + sha256Hex(blob),
                 {"--data-binary", "@" + (work / "blob").string()});
  EXPECT_EQ(r.status, 201) << r.body;
  std::string hex = sha256Hex(blob);
  EXPECT_EQ(readFile(volume /
                     ("docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data")),
            blob);
  EXPECT_EQ(d.docker({"stop", id}).status, 0);
  EXPECT_EQ(d.docker({"inspect", "-f", "{{.State.ExitCode}}", id}).out, "0\n");
  d.docker({"rm", id});
}

}  // namespace
}  // namespace regfs::testing

namespace regfs::testing {
namespace {

std::set<std::string> lineSet(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.insert(line);
  return out;
}

// scripts/start.sh, the README's first command, installs what running needs and none of the
// test stack (clients, Ceph, a second Docker), which scripts/test.sh installs.
TEST(StartScriptTest, InstallsWhatRunningNeedsAndNoneOfTheTestStack) {
  std::string setup = (sourceDir() / "scripts/setup.sh").string();
  CommandResult runtime = run({setup, "--runtime", "--list"});
  ASSERT_EQ(runtime.status, 0) << runtime.err;
  CommandResult all = run({setup, "--list"});
  ASSERT_EQ(all.status, 0) << all.err;
  std::set<std::string> forRunning = lineSet(runtime.out), forTesting = lineSet(all.out);
  for (const char* p : {"libpistache-dev", "libfuse3-dev", "fuse3", "cmake", "curl"}) {
    EXPECT_TRUE(forRunning.contains(p)) << p;
  }
  for (const char* p : {"docker.io", "podman", "skopeo", "docker-registry", "ceph-mon", "radosgw",
                        "ceph-fuse", "prometheus", "nginx-light", "wrk", "libgtest-dev"}) {
    EXPECT_FALSE(forRunning.contains(p)) << p;
    EXPECT_TRUE(forTesting.contains(p)) << p;
  }
  EXPECT_NE(readFile(sourceDir() / "scripts/start.sh")
                .find("scripts/setup.sh --build-dir build --runtime"),
            std::string::npos);
}

// The image start.sh suggests pushing is made on the spot with curl and the coreutils, so a
// fresh machine has one: pushed, a real client pulls it back with every digest verified.
TEST(PushExampleTest, PushesAnImageThatARealClientPullsBack) {
  RegfsServer server;
  std::string script = (sourceDir() / "scripts/push-example.sh").string();
  CommandResult push = run({script, server.host(), "example/hello:1.0"});
  ASSERT_EQ(push.status, 0) << push.err;
  EXPECT_EQ(push.out.rfind("pushed example/hello:1.0 sha256:", 0), 0u) << push.out;
  CommandResult again = run({script, server.host(), "example/hello:1.0"});
  EXPECT_EQ(again.out, push.out) << "the same content makes the same digests";

  TempDir out;
  CommandResult pull =
      run({"skopeo", "copy", "--src-tls-verify=false",
           "docker://" + server.host() + "/example/hello:1.0", "oci:" + (out / "image").string()});
  ASSERT_EQ(pull.status, 0) << pull.err;
  CommandResult hello = sh("for f in " + (out / "image/blobs/sha256").string() +
                           "/*; do tar -xzOf \"$f\" hello.txt 2>/dev/null; done");
  EXPECT_EQ(hello.out, "hello from regfs\n");

  EXPECT_EQ(run({script, server.host(), "no-tag"}).status, 2);
}

}  // namespace
}  // namespace regfs::testing
