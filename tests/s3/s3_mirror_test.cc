// regfs-server as a pull-through cache on S3 (radosgw): skopeo pulls an image through it and
// gets the upstream's bytes, which the bucket then holds and serves with the upstream gone;
// concurrent clients of a blob being fetched are streamed its bytes as they arrive (an upload
// on S3 cannot be read back, so they follow the fill's spool file), and the upstream sends
// each blob once.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "shared_ceph.h"
#include "support/fake_upstream.h"
#include "support/image.h"
#include "support/poll.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

class S3MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(haveProgram("skopeo")) << "skopeo is required (scripts/setup.sh installs it)";
    bucket = newBucket();
  }

  // A mirror of `upstreamUrl` keeping what it fetches in the test's bucket.
  std::unique_ptr<RegfsServer> mirrorOf(const std::string& upstreamUrl) const {
    RegfsServerOptions o;
    o.storage = sharedCeph().storageYaml(bucket);
    // chunksize at S3's minimum part, so a 12 MiB blob takes several parts.
    o.env["REGISTRY_STORAGE_S3_CHUNKSIZE"] = std::to_string(5 << 20);
    o.extraConfig = "proxy:\n  remoteurl: " + upstreamUrl + "\n";
    return std::make_unique<RegfsServer>(std::filesystem::path(), o);
  }

  bool bucketHoldsBlob(const std::string& digest) const {
    std::string hex = digest.substr(7);
    auto keys = sharedCeph().listObjects(bucket);
    return std::find(keys.begin(), keys.end(),
                     "docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data") !=
           keys.end();
  }

  TempDir work;
  std::string bucket;
};

uintmax_t sizeOr0(const std::filesystem::path& p) {
  std::error_code ec;
  uintmax_t n = std::filesystem::file_size(p, ec);
  return ec ? 0 : n;
}

TEST_F(S3MirrorTest, SkopeoPullsThroughAMirrorOnS3AndTheBucketServesItAfterwards) {
  RegfsServer upstream;
  OciLayout oci(work / "oci");
  Blob image = oci.addImage({oci.addLayer({{"opt/big.bin", randomBytes(12 << 20, 41)}})});
  oci.tag("v1", image);
  ASSERT_EQ(skopeoCopy(oci.ref("v1"), "docker://" + upstream.host() + "/library/app:v1").status, 0);
  auto mirror = mirrorOf(upstream.url());
  CommandResult pulled = skopeoCopy("docker://" + mirror->host() + "/library/app:v1",
                                    "oci:" + (work / "back").string() + ":v1");
  ASSERT_EQ(pulled.status, 0) << pulled.err << mirror->log();
  auto manifest = curl({"-sS", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                        mirror->url() + "/v2/library/app/manifests/v1"});
  EXPECT_EQ(manifest.out, image.bytes);
  for (const auto& k : uploadKeysLeft(bucket)) ADD_FAILURE() << "left behind: " << k;

  upstream.stop();
  CommandResult again = skopeoCopy("docker://" + mirror->host() + "/library/app:v1",
                                   "oci:" + (work / "again").string() + ":v1");
  EXPECT_EQ(again.status, 0) << again.err << mirror->log();
}

TEST_F(S3MirrorTest, ClientsOfABlobBeingFetchedGetItsBytesAsTheyArriveFromOneUpstreamFetch) {
  std::string blob = randomBytes(12 << 20, 42);
  std::string digest = digestOf(blob);
  // The upstream sends half the blob, then waits to be released.
  FakeUpstream fake(blob, FakeUpstream::Mode::kPause);
  auto mirror = mirrorOf(fake.url());
  std::string url = mirror->url() + "/v2/library/slow/blobs/" + digest;

  constexpr size_t kClients = 4;
  std::vector<CommandResult> results(kClients);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      results[i] = curl({"-sf", "-o", (work / ("got-" + std::to_string(i))).string(), url});
    });
  }
  // Every client has bytes while the fill still waits for the rest: none waits for the
  // whole blob to be on S3.
  bool streaming = waitUntil(
                       [&] {
                         for (size_t i = 0; i < kClients; ++i) {
                           if (sizeOr0(work / ("got-" + std::to_string(i))) < (2u << 20)) {
                             return false;
                           }
                         }
                         return true;
                       },
                       std::chrono::seconds(20))
                       .has_value();
  EXPECT_TRUE(streaming) << mirror->log();
  EXPECT_FALSE(bucketHoldsBlob(digest));
  fake.release();
  for (auto& t : clients) t.join();

  for (size_t i = 0; i < kClients; ++i) {
    EXPECT_EQ(results[i].status, 0) << results[i].err;
    EXPECT_EQ("sha256:" + sha256Hex(readFile(work / ("got-" + std::to_string(i)))), digest);
  }
  EXPECT_EQ(occurrences(fake.log(), "GET /v2/library/slow/blobs/" + digest), 1u) << fake.log();
  EXPECT_TRUE(bucketHoldsBlob(digest));
  for (const auto& k : uploadKeysLeft(bucket)) ADD_FAILURE() << "left behind: " << k;
}

}  // namespace
}  // namespace regfs::testing
