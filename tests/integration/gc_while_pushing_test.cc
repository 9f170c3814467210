// garbage-collect is safe on a live store: while skopeo pushes images continuously through
// a registry serving the same root (regfs-server, and the reference docker-registry),
// garbage-collect runs again and again (alternating --delete-untagged), sweeping real garbage.
// Afterwards every image whose push succeeded pulls back byte for byte, and fsck finds the store
// clean.
//
// Some pushes reuse a layer that is garbage at the time (its manifest was deleted): a push
// that sees it exist just before it is swept may be refused (MANIFEST_BLOB_UNKNOWN, nothing
// half-written) and is retried; it must then succeed.

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
#include "support/store_builder.h"

namespace regfs {
namespace {

using namespace regfs::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Pushed {
  std::string ref;  // repo:tag
  Blob manifest;
  std::vector<Blob> layers;
};

// Runs the scenario with `Registry` (regfs-server, or the reference) serving the store.
template <typename Registry>
void pushWhileCollecting() {
  ASSERT_TRUE(haveProgram("skopeo"));
  TempDir work;
  fs::path root = work / "store";
  fs::create_directories(root);
  OciLayout oci(work / "oci");
  Registry registry(root);
  auto push = [&](const std::string& tag, const std::string& dest) {
    return skopeoCopy(oci.ref(tag), "docker://" + registry.host() + "/" + dest);
  };

  // Garbage from before: two images whose manifests were deleted, aged past the grace.
  Blob base = oci.addLayer({{"etc/base", "base layer every image shares"}});
  Blob reused = oci.addLayer({{"lib/reused", "garbage now, reused by later pushes"}});
  Blob doomed = oci.addLayer({{"lib/doomed", "garbage, never reused"}});
  Blob g1 = oci.addImage({base, reused}, {"linux", "amd64", ""});
  Blob g2 = oci.addImage({base, doomed}, {"linux", "arm64", ""});
  oci.tag("g1", g1);
  oci.tag("g2", g2);
  ASSERT_EQ(push("g1", "live/reuse:old").status, 0);
  ASSERT_EQ(push("g2", "live/doomed:old").status, 0);
  for (const auto& [repo, digest] :
       {std::pair{"live/reuse", g1.digest}, std::pair{"live/doomed", g2.digest}}) {
    auto r = curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
                   registry.url() + "/v2/" + repo + "/manifests/" + digest});
    ASSERT_EQ(r.out, "202");
  }
  ageTree(root, 2h);

  // Build every image up front, so the loop below only pushes.
  constexpr int kImages = 24;
  std::vector<std::pair<std::string, Pushed>> plan;
  for (int i = 0; i < kImages; ++i) {
    Blob own =
        oci.addLayer({{"app/" + std::to_string(i), "content of image " + std::to_string(i)}});
    std::vector<Blob> layers = {base, own};
    if (i % 3 == 0) layers.insert(layers.begin() + 1, reused);
    Blob manifest = oci.addImage(layers, {"linux", "amd64", ""});
    std::string tag = "t" + std::to_string(i);
    oci.tag(tag, manifest);
    std::string repo = i % 3 == 0 ? "live/reuse" : "live/app" + std::to_string(i % 2);
    // Every fourth image overwrites the previous tag, leaving untagged manifests behind.
    std::string destTag = i % 4 == 3 ? "t" + std::to_string(i - 1) : tag;
    plan.push_back({tag, Pushed{repo + ":" + destTag, manifest, layers}});
  }

  std::atomic<bool> pushing{true};
  std::vector<CommandResult> collections;
  std::thread collector([&] {
    for (int round = 0; pushing || round < 2; ++round) {
      std::vector<std::string> argv = {(binDir() / "regfsctl").string(),
                                       "garbage-collect",
                                       root.string(),
                                       "--grace",
                                       "3s",
                                       "--settle",
                                       "300ms"};
      if (round % 2) argv.push_back("--delete-untagged");
      collections.push_back(run(argv));
    }
  });
  std::map<std::string, Pushed> latest;  // what each ref names once all pushes are done
  int refused = 0;
  for (auto& [tag, pushed] : plan) {
    CommandResult r;
    for (int attempt = 0; attempt < 3; ++attempt) {
      r = push(tag, pushed.ref);
      if (r.status == 0) break;
      ++refused;
      std::cerr << "push of " << pushed.ref << " refused: " << r.err;
    }
    ASSERT_EQ(r.status, 0) << pushed.ref << ": " << r.err;
    latest[pushed.ref] = pushed;
  }
  pushing = false;
  collector.join();

  ASSERT_GE(collections.size(), 3u);
  size_t removedBlobs = 0;
  for (const CommandResult& c : collections) {
    ASSERT_EQ(c.status, 0) << c.out << c.err;
    for (size_t at = c.out.find("removed blob "); at != std::string::npos;
         at = c.out.find("removed blob ", at + 1)) {
      ++removedBlobs;
    }
  }
  EXPECT_GE(removedBlobs, 3u) << "the old garbage (a manifest, a config, a layer) went";
  EXPECT_FALSE(fs::exists(root.string() + layout::blobData(Digest::parse(doomed.digest))));
  ::testing::Test::RecordProperty("collections", static_cast<int>(collections.size()));
  ::testing::Test::RecordProperty("refused_pushes", refused);

  int pulls = 0;
  for (const auto& [ref, pushed] : latest) {
    fs::path out = work / ("pulled-" + std::to_string(++pulls));
    fs::remove_all(out);
    auto r = skopeoCopy("docker://" + registry.host() + "/" + ref, "dir:" + out.string());
    ASSERT_EQ(r.status, 0) << ref << ": " << r.err;
    EXPECT_EQ(readFile(out / "manifest.json"), pushed.manifest.bytes) << ref;
    for (const Blob& layer : pushed.layers) {
      EXPECT_EQ(readFile(out / layer.digest.substr(7)), layer.bytes) << ref << " " << layer.digest;
    }
  }
  auto fsck = regfsctl({"fsck", root.string()});
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
}

TEST(GcWhilePushingTest, ThroughRegfsServerEveryPushedImagePulls) {
  pushWhileCollecting<RegfsServer>();
}

TEST(GcWhilePushingTest, ThroughTheReferenceEveryPushedImagePulls) {
  pushWhileCollecting<ReferenceRegistry>();
}

}  // namespace
}  // namespace regfs
