// User story: push an image with a real Docker engine, pull it back and run it, through
// a registry. A second push to another repository of the same registry mounts the layer
// instead of uploading it again, and the image can be pulled by digest. Afterwards the
// registry's store, read through common/, holds both tags and every blob they need.
//
// The test runs against every registry in kRegistries, so the reference registry and
// regfs-server prove the same story.

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <regex>
#include <string>
#include <vector>

#include "common/manifest.h"
#include "common/store/store.h"
#include "support/dockerd.h"
#include "support/image.h"
#include "support/server.h"

namespace regfs {
namespace {

using namespace regfs::testing;

// A registry serving a store root on a loopback port, whatever its implementation.
class Registry {
 public:
  virtual ~Registry() = default;
  virtual std::string host() const = 0;
  virtual std::string log() const = 0;
};

template <typename Server>
class RegistryOf : public Registry {
 public:
  explicit RegistryOf(const std::filesystem::path& root) : server_(root) {}
  std::string host() const override { return server_.host(); }
  std::string log() const override { return server_.log(); }

 private:
  Server server_;
};

struct RegistryFactory {
  std::string name;
  std::function<std::unique_ptr<Registry>(const std::filesystem::path& root)> start;
};

// gtest names a failing case's parameter with this.
void PrintTo(const RegistryFactory& factory, std::ostream* os) { *os << factory.name; }

template <typename Server>
RegistryFactory registry(const std::string& name) {
  return {name, [](const std::filesystem::path& root) {
            return std::unique_ptr<Registry>(std::make_unique<RegistryOf<Server>>(root));
          }};
}

const std::vector<RegistryFactory> kRegistries = {
    registry<ReferenceRegistry>("reference"),
    registry<RegfsServer>("regfs"),
};

class DockerPushPullTest : public ::testing::TestWithParam<RegistryFactory> {
 protected:
  void SetUp() override {
    DockerDaemon& daemon = sharedDockerDaemon();
    RecordProperty("dockerd_start_ms", static_cast<int>(daemon.startupTime().count()));
    docker_ = &daemon;
    registry_ = GetParam().start(work_ / "store");
  }

  // Runs docker; a non-zero exit fails the test with docker's output and both logs.
  CommandResult docker(const std::vector<std::string>& args) {
    return docker_->dockerOk(args, registry_->log());
  }

  // The local image is gone: neither the reference nor its layer is left.
  void expectNoLocalImage(const std::string& ref) {
    EXPECT_NE(docker_->docker({"image", "inspect", ref}).status, 0) << ref << " is still local";
  }

  TempDir work_;
  DockerDaemon* docker_ = nullptr;
  std::unique_ptr<Registry> registry_;
};

TEST_P(DockerPushPullTest, PushPullRun) {
  const std::string host = registry_->host();
  const std::string local = "regfs-busybox:" + GetParam().name;
  const std::string team = host + "/team/busybox";
  const std::string other = host + "/other/busybox";
  importBusyboxImage(*docker_, local);

  // Push.
  docker({"tag", local, team + ":1.0"});
  CommandResult push = docker({"push", team + ":1.0"});
  ASSERT_EQ(push.status, 0);
  const std::string digest = pushedDigest(push.out, "1.0");
  ASSERT_FALSE(digest.empty()) << push.out;

  // Delete it locally, pull it back, run it.
  ASSERT_EQ(docker({"rmi", local, team + ":1.0"}).status, 0);
  expectNoLocalImage(team + ":1.0");
  CommandResult pull = docker({"pull", team + ":1.0"});
  ASSERT_EQ(pull.status, 0);
  EXPECT_NE(pull.out.find("Pull complete"), std::string::npos) << pull.out;
  EXPECT_EQ(pull.out.find("Already exists"), std::string::npos) << pull.out;
  EXPECT_NE(pull.out.find("Digest: " + digest), std::string::npos) << pull.out;
  CommandResult hello =
      docker({"run", "--rm", "--network", "none", team + ":1.0", "echo", "hello"});
  EXPECT_EQ(hello.out, "hello\n");

  // A push to another repository of the same registry mounts the layer from the first.
  docker({"tag", team + ":1.0", other + ":copy"});
  CommandResult mount = docker({"push", other + ":copy"});
  ASSERT_EQ(mount.status, 0);
  EXPECT_NE(mount.out.find("Mounted from team/busybox"), std::string::npos) << mount.out;
  EXPECT_EQ(pushedDigest(mount.out, "copy"), digest) << mount.out;

  // Pull by digest, with nothing left locally.
  ASSERT_EQ(docker({"rmi", team + ":1.0", other + ":copy"}).status, 0);
  expectNoLocalImage(other + "@" + digest);
  CommandResult byDigest = docker({"pull", other + "@" + digest});
  ASSERT_EQ(byDigest.status, 0);
  EXPECT_NE(byDigest.out.find("Digest: " + digest), std::string::npos) << byDigest.out;
  hello = docker({"run", "--rm", "--network", "none", other + "@" + digest, "echo", "by digest"});
  EXPECT_EQ(hello.out, "by digest\n");
  docker({"rmi", other + "@" + digest});

  // The store, read through common/: both tags point at the pushed manifest, and each
  // repository links every blob the manifest names, all present in the blob store.
  Store store = Store::openLocal(work_ / "store");
  EXPECT_EQ(store.catalog(100), (std::vector<std::string>{"other/busybox", "team/busybox"}));
  const Digest manifestDigest = Digest::parse(digest);
  for (const auto& [name, tag] :
       {std::pair{"team/busybox", "1.0"}, std::pair{"other/busybox", "copy"}}) {
    SCOPED_TRACE(name);
    Repository repo = store.repository(RepoName::parse(name));
    EXPECT_EQ(repo.resolveTag(Tag::parse(tag)), manifestDigest);
    std::string bytes = repo.getManifest(manifestDigest);
    EXPECT_EQ(Digest::of(bytes), manifestDigest);
    Manifest manifest = parseStoredManifest(bytes);
    EXPECT_EQ(manifest.mediaType, media::kDockerManifest);
    EXPECT_EQ(manifest.layers.size(), 1u) << bytes;
    std::vector<Descriptor> blobs = manifest.blobReferences();
    EXPECT_EQ(blobs.size(), 2u) << "config and one layer:\n" << bytes;
    for (const auto& blob : blobs) {
      EXPECT_TRUE(repo.hasLayer(blob.digest)) << blob.digest.str();
      std::optional<BlobInfo> info = store.statBlob(blob.digest);
      ASSERT_TRUE(info.has_value()) << blob.digest.str();
      EXPECT_EQ(info->size, static_cast<uint64_t>(blob.size)) << blob.digest.str();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Registries, DockerPushPullTest, ::testing::ValuesIn(kRegistries),
                         [](const ::testing::TestParamInfo<RegistryFactory>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace regfs
