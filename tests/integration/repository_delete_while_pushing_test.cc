// An operator deletes a repository while skopeo keeps pushing into it, again and again, through
// the same regfs-server. Every push ends wholly before a delete (gone with it) or wholly after
// (a new repository): whatever tags the repository has at the end pull back byte for byte, and
// fsck finds the store clean. Then garbage-collect takes the deleted images' blobs, and
// Debian's docker-registry still serves the store's other repository.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "common/digest.h"
#include "common/store/layout.h"
#include "support/image.h"
#include "support/server.h"

namespace regfs {
namespace {

using namespace regfs::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Planned {
  Blob manifest;
  std::vector<Blob> layers;
};

// Pulls `ref` from `host` and compares it with what was pushed.
void expectPulls(const fs::path& out, const std::string& host, const std::string& ref,
                 const Planned& pushed) {
  fs::remove_all(out);
  auto r = skopeoCopy("docker://" + host + "/" + ref, "dir:" + out.string());
  ASSERT_EQ(r.status, 0) << ref << ": " << r.err;
  EXPECT_EQ(readFile(out / "manifest.json"), pushed.manifest.bytes) << ref;
  for (const Blob& layer : pushed.layers)
    EXPECT_EQ(readFile(out / layer.digest.substr(7)), layer.bytes) << ref << " " << layer.digest;
}

TEST(RepositoryDeleteWhilePushingTest, EveryTagLeftPullsWholeAndTheRestOfTheStoreStays) {
  ASSERT_TRUE(haveProgram("skopeo"));
  TempDir work;
  fs::path root = work / "store";
  fs::create_directories(root);
  OciLayout oci(work / "oci");
  auto registry = std::make_unique<RegfsServer>(root);
  auto push = [&](const std::string& tag, const std::string& dest) {
    return skopeoCopy(oci.ref(tag), "docker://" + registry->host() + "/" + dest);
  };

  Blob base = oci.addLayer({{"etc/base", "base layer every image shares"}});
  Blob keptLayer = oci.addLayer({{"kept", "only the other repository has this"}});
  Planned kept{oci.addImage({base, keptLayer}), {base, keptLayer}};
  oci.tag("kept", kept.manifest);
  ASSERT_EQ(push("kept", "other/keep:v1").status, 0);

  constexpr int kImages = 16;
  std::map<std::string, Planned> plan;  // by tag
  for (int i = 0; i < kImages; ++i) {
    Blob own = oci.addLayer({{"app/" + std::to_string(i), "image " + std::to_string(i)}});
    std::string tag = "t" + std::to_string(i);
    plan[tag] = Planned{oci.addImage({base, own}, {"linux", "amd64", ""}), {base, own}};
    oci.tag(tag, plan[tag].manifest);
  }

  std::atomic<bool> pushing{true};
  std::atomic<size_t> deleted{0};    // deletes that found the repository (202)
  std::vector<std::string> deletes;  // status codes; read once the deleter ended
  std::thread deleter([&] {
    while (pushing) {
      auto r = curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
                     registry->url() + "/v2/live/target/_regfs/repository"});
      deletes.push_back(r.out);
      if (r.out == "202") ++deleted;
      std::this_thread::sleep_for(300ms);
    }
  });
  int refused = 0;
  // The tags pushed again (a few rounds at most) until at least two deletes overlapped pushes:
  // how often a delete lands between two pushes depends on the machine's pace.
  for (int round = 0; round < 4 && (round == 0 || deleted < 2); ++round) {
    for (const auto& [tag, planned] : plan) {
      CommandResult r;
      for (int attempt = 0; attempt < 6; ++attempt) {
        r = push(tag, "live/target:" + tag);
        if (r.status == 0) break;
        ++refused;
        std::cerr << "push of " << tag << " failed (a delete ran): " << r.err;
      }
      ASSERT_EQ(r.status, 0) << tag << ": " << r.err;
    }
  }
  pushing = false;
  deleter.join();
  EXPECT_GE(deleted.load(), 2u) << "deletes overlapped the pushes";
  for (const std::string& status : deletes)
    EXPECT_TRUE(status == "202" || status == "404") << status;
  ::testing::Test::RecordProperty("deletes", static_cast<int>(deleted.load()));
  ::testing::Test::RecordProperty("failed_pushes", refused);

  // What is left of the repository is whole: every tag pulls.
  Reply tags = http("GET", registry->url() + "/v2/live/target/tags/list");
  int pulls = 0;
  for (const auto& [tag, planned] : plan) {
    if (tags.body.find("\"" + tag + "\"") == std::string::npos) continue;
    expectPulls(work / ("pulled-" + std::to_string(++pulls)), registry->host(),
                "live/target:" + tag, planned);
  }
  auto fsck = regfsctl({"fsck", root.string()});
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;

  // Deleted for good, then collected: the other repository still pulls, from regfs and from
  // the reference registry on the same store.
  auto r = curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
                 registry->url() + "/v2/live/target/_regfs/repository"});
  EXPECT_TRUE(r.out == "202" || r.out == "404") << r.out;
  registry.reset();
  auto gc = regfsctl({"garbage-collect", root.string(), "--grace", "0s", "--settle", "0s"});
  ASSERT_EQ(gc.status, 0) << gc.out << gc.err;
  for (const auto& [tag, planned] : plan) {
    EXPECT_FALSE(
        fs::exists(root.string() + layout::blobData(Digest::parse(planned.layers[1].digest))))
        << tag << "'s own layer went with the repository";
  }
  EXPECT_TRUE(fs::exists(root.string() + layout::blobData(Digest::parse(base.digest))));
  fsck = regfsctl({"fsck", root.string()});
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
  ReferenceRegistry reference(root);
  expectPulls(work / "pulled-kept", reference.host(), "other/keep:v1", kept);
  Reply catalog = http("GET", reference.url() + "/v2/_catalog");
  EXPECT_EQ(catalog.body.find("live/target"), std::string::npos) << catalog.body;
}

}  // namespace
}  // namespace regfs
