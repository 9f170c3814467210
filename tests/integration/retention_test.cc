// Retention on a live registry: old tags go while skopeo keeps pushing (some pushes re-push
// old tag names during the runs: none of them is lost), then garbage-collect frees the
// layers, and every kept image still pulls byte for byte from regfs-server and from Debian's
// docker-registry serving the same store. Immutable tags: skopeo's push that would move one
// is refused (DENIED, the API's message naming the rule), the same push again is accepted.
// With a Docker engine (one per test program, so one test does both): docker push cannot
// move an immutable tag (the API's answer to its manifest names the rule), and after
// retention and garbage-collect every kept image still pulls with docker.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "support/dockerd.h"
#include "support/image.h"
#include "support/server.h"
#include "support/store_builder.h"

namespace regfs {
namespace {

using namespace regfs::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kRules = R"(regfs:
  retention:
    policies:
      - repositories: ["ci/**"]
        protecttags: ["main"]
        removeolderthan: 24h
        untaggedolderthan: 24h
  immutable:
    - repositories: ["prod/**"]
      tags: ["v[0-9.]+"]
)";

// A store in a temp directory, an OCI layout to push from, and a config.yml for regfsctl
// naming the store and holding the rules.
class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(haveProgram("skopeo"));
    fs::create_directories(root);
    writeFile(config, "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + root.string() +
                          "\n" + kRules);
  }
  TempDir work;
  fs::path root = work / "store";
  fs::path config = work / "config.yml";
  OciLayout oci{work / "oci"};
};

TEST_F(LifecycleTest, OldTagsGoWhilePushingAndEveryKeptImageStillPulls) {
  RegfsServer server(root);
  auto push = [&](const std::string& tag, const std::string& dest) {
    return skopeoCopy(oci.ref(tag), "docker://" + server.host() + "/" + dest);
  };
  std::map<std::string, Blob> images;
  auto image = [&](const std::string& name) {
    Blob layer = oci.addLayer({{"app/" + name, "content of " + name}});
    images[name] = oci.addImage({layer});
    oci.tag(name, images[name]);
  };
  for (const char* name : {"main", "old-1", "old-2", "old-3", "repush-1", "repush-2"}) {
    image(name);
    ASSERT_EQ(push(name, std::string("ci/app:") + name).status, 0);
  }
  ageTree(root, 48h);
  image("new-1");
  ASSERT_EQ(push("new-1", "ci/app:new-1").status, 0);

  // Runs again and again while old tag names are pushed anew and new ones arrive.
  std::atomic<bool> pushing{true};
  std::vector<CommandResult> runs;
  std::thread retention([&] {
    for (int round = 0; pushing || round < 2; ++round)
      runs.push_back(regfsctl({"retention", config.string()}));
  });
  // The repush-N tags move to new images (re-pushing the same one changes nothing: a tag's
  // push time is when it last changed).
  std::vector<std::string> pushedDuring;
  for (int i = 0; i < 6; ++i) {
    std::string name = i < 2 ? "repush-" + std::to_string(i + 1) : "during-" + std::to_string(i);
    std::string source = name + "-new";
    image(source);
    images[name] = images[source];
    ASSERT_EQ(push(source, "ci/app:" + name).status, 0);
    pushedDuring.push_back(name);
  }
  pushing = false;
  retention.join();
  for (const CommandResult& r : runs) ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(runs.front().out.find("removed tag ci/app:old-1 (pushed"), std::string::npos)
      << runs.front().out;

  auto gc = regfsctl({"garbage-collect", root.string(), "--grace", "1s", "--settle", "100ms"});
  ASSERT_EQ(gc.status, 0) << gc.out << gc.err;

  std::vector<std::string> kept = {"main", "new-1"};
  kept.insert(kept.end(), pushedDuring.begin(), pushedDuring.end());
  ReferenceRegistry reference(root);
  int pulls = 0;
  for (const std::string& host : {server.host(), reference.host()}) {
    for (const std::string& tag : kept) {
      fs::path out = work / ("pulled-" + std::to_string(++pulls));
      auto r = skopeoCopy("docker://" + host + "/ci/app:" + tag, "dir:" + out.string());
      ASSERT_EQ(r.status, 0) << host << " ci/app:" << tag << ": " << r.err;
      EXPECT_EQ(readFile(out / "manifest.json"), images[tag].bytes) << tag;
    }
    for (const char* gone : {"old-1", "old-2", "old-3"}) {
      auto r = http("GET", "http://" + host + "/v2/ci/app/manifests/" + gone);
      EXPECT_EQ(r.status, 404) << gone;
    }
  }
  // Their layers went with garbage collection.
  EXPECT_FALSE(fs::exists(root.string() + "/docker/registry/v2/blobs/sha256/" +
                          images["old-1"].digest.substr(7, 2) + "/" +
                          images["old-1"].digest.substr(7) + "/data"));
  auto fsck = regfsctl({"fsck", root.string()});
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
}

TEST_F(LifecycleTest, DryRunListsWhatWouldGoAndChangesNothing) {
  RegfsServer server(root);
  Blob image = oci.addImage({oci.addLayer({{"a", "a"}})});
  oci.tag("x", image);
  ASSERT_EQ(skopeoCopy(oci.ref("x"), "docker://" + server.host() + "/ci/app:old").status, 0);
  ageTree(root, 48h);
  auto r = regfsctl({"retention", config.string(), "--dry-run", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"tagsRemoved\": 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"reason\": \"removeolderthan\""), std::string::npos) << r.out;
  EXPECT_EQ(http("GET", server.url() + "/v2/ci/app/manifests/old",
                 {"-H", "Accept: application/vnd.oci.image.manifest.v1+json"})
                .status,
            200);
}

TEST_F(LifecycleTest, SkopeoCannotMoveAnImmutableTag) {
  RegfsServerOptions options;
  options.extraConfig = kRules;
  RegfsServer server(root, options);
  Blob a = oci.addImage({oci.addLayer({{"a", "first"}})});
  Blob b = oci.addImage({oci.addLayer({{"b", "second"}})});
  oci.tag("a", a);
  oci.tag("b", b);
  std::string dest = "docker://" + server.host() + "/prod/app:v1.0";
  ASSERT_EQ(skopeoCopy(oci.ref("a"), dest).status, 0);
  EXPECT_EQ(skopeoCopy(oci.ref("a"), dest).status, 0) << "the same manifest again";
  auto moved = skopeoCopy(oci.ref("b"), dest);
  EXPECT_NE(moved.status, 0);
  // skopeo says "denied" without the server's message; the API answer names the rule.
  EXPECT_NE(moved.err.find("denied"), std::string::npos) << moved.err;
  auto put = http(
      "PUT", server.url() + "/v2/prod/app/manifests/v1.0",
      {"-H", "Content-Type: application/vnd.oci.image.manifest.v1+json", "--data-binary", b.bytes});
  EXPECT_EQ(put.status, 403);
  EXPECT_NE(put.body.find("DENIED"), std::string::npos) << put.body;
  EXPECT_NE(put.body.find("regfs.immutable[0] (repositories prod/**"), std::string::npos)
      << put.body;
  auto r = http("GET", server.url() + "/v2/prod/app/manifests/v1.0",
                {"-H", "Accept: application/vnd.oci.image.manifest.v1+json"});
  EXPECT_EQ(r.body, a.bytes);
  EXPECT_EQ(http("DELETE", server.url() + "/v2/prod/app/manifests/v1.0").status, 403);
  // regfsctl shows the rule and the tag it protects.
  auto list = regfsctl({"immutable", config.string()});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_NE(list.out.find("immutable prod/app:v1.0 (regfs.immutable[0]"), std::string::npos)
      << list.out;
}

TEST_F(LifecycleTest, DockerCannotMoveAnImmutableTagAndPullsWhatRetentionKept) {
  DockerDaemon& engine = sharedDockerDaemon();
  RegfsServerOptions options;
  options.extraConfig = kRules;
  RegfsServer server(root, options);
  auto docker = [&](const std::vector<std::string>& args) {
    return engine.dockerOk(args, server.log());
  };
  // Three images sharing their one layer, with different configs.
  for (const char* variant : {"a", "b", "c"})
    importBusyboxImage(engine, std::string("lifecycle-") + variant,
                       {std::string("LABEL variant=") + variant});
  const std::string host = server.host();
  std::map<std::string, std::string> pushed;  // reference -> digest docker reported
  auto push = [&](const std::string& local, const std::string& ref) {
    docker({"tag", local, host + "/" + ref});
    CommandResult r = docker({"push", host + "/" + ref});
    pushed[ref] = pushedDigest(r.out, ref.substr(ref.find(':') + 1));
    EXPECT_FALSE(pushed[ref].empty()) << r.out;
    return r;
  };

  // prod/app:v1.0 is immutable: the same image again is accepted, another is refused with the
  // rule in docker's message, and the tag still names the first.
  push("lifecycle-a", "prod/app:v1.0");
  std::string first = pushed["prod/app:v1.0"];
  push("lifecycle-a", "prod/app:v1.0");
  EXPECT_EQ(pushed["prod/app:v1.0"], first);
  docker({"tag", "lifecycle-b", host + "/prod/app:v1.0"});
  CommandResult moved = engine.docker({"push", host + "/prod/app:v1.0"});
  EXPECT_NE(moved.status, 0) << moved.out;
  EXPECT_NE((moved.out + moved.err)
                .find("denied: tag prod/app:v1.0 is immutable by regfs.immutable[0] (repositories "
                      "prod/**"),
            std::string::npos)
      << moved.out << moved.err;
  const std::string kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
  Reply head = http("HEAD", server.url() + "/v2/prod/app/manifests/v1.0",
                    {"-H", "Accept: " + kDockerManifest});
  EXPECT_EQ(head.header("docker-content-digest"), first);
  // The manifest docker sent, pushed under a tag no rule holds, then PUT under v1.0.
  push("lifecycle-b", "prod/app:other");
  Reply other = http("GET", server.url() + "/v2/prod/app/manifests/other",
                     {"-H", "Accept: " + kDockerManifest});
  ASSERT_EQ(other.header("docker-content-digest"), pushed["prod/app:other"]);
  Reply put = http("PUT", server.url() + "/v2/prod/app/manifests/v1.0",
                   {"-H", "Content-Type: " + kDockerManifest, "--data-binary", other.body});
  EXPECT_EQ(put.status, 403);
  EXPECT_EQ(put.code(), "DENIED");
  EXPECT_NE(put.body.find("prod/app:v1.0 is immutable by regfs.immutable[0] (repositories prod/**"),
            std::string::npos)
      << put.body;

  // ci/app: main (protected) and old are pushed, then aged; new is pushed after.
  push("lifecycle-a", "ci/app:main");
  push("lifecycle-b", "ci/app:old");
  ageTree(root, 48h);
  push("lifecycle-c", "ci/app:new");
  auto retention = regfsctl({"retention", config.string()});
  ASSERT_EQ(retention.status, 0) << retention.out << retention.err;
  EXPECT_NE(retention.out.find("removed tag ci/app:old"), std::string::npos) << retention.out;
  auto gc = regfsctl({"garbage-collect", root.string(), "--grace", "1s", "--settle", "100ms"});
  ASSERT_EQ(gc.status, 0) << gc.out << gc.err;

  // Nothing local is left, so each pull fetches every blob from regfs.
  std::vector<std::string> rmi = {"rmi", "-f", "lifecycle-a", "lifecycle-b", "lifecycle-c"};
  for (const auto& [ref, digest] : pushed) rmi.push_back(host + "/" + ref);
  docker(rmi);
  for (const std::string ref : {"ci/app:main", "ci/app:new", "prod/app:v1.0"}) {
    CommandResult pull = docker({"pull", host + "/" + ref});
    EXPECT_NE(pull.out.find("Digest: " + pushed[ref]), std::string::npos) << ref << pull.out;
  }
  CommandResult gone = engine.docker({"pull", host + "/ci/app:old"});
  EXPECT_NE(gone.status, 0) << gone.out;
  EXPECT_NE(gone.err.find("not found"), std::string::npos) << gone.err;
  // The engine is shared by the test program: leave no image (nor its layer) behind.
  docker({"rmi", host + "/ci/app:main", host + "/ci/app:new", host + "/prod/app:v1.0"});
}

}  // namespace
}  // namespace regfs
