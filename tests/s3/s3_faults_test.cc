// regfs-server on S3 under load and faults: a large upload and download hold at most a
// few parts in memory, and radosgw stopped in the middle of an upload gives the client a
// clear 5xx, commits nothing, and the upload goes on once radosgw is back.
#include <gtest/gtest.h>

#include "shared_ceph.h"
#include "support/http_client.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

RegfsServerOptions onBucket(const std::string& bucket) {
  RegfsServerOptions o;
  o.storage = sharedCeph().storageYaml(bucket);
  o.env["REGISTRY_STORAGE_S3_CHUNKSIZE"] = std::to_string(5 << 20);
  return o;
}

TEST(S3Faults, LargeBlobsStreamWithBoundedMemory) {
  RegfsServer server({}, onBucket(newBucket()));
  std::string big = randomBytes(96 << 20, 11);
  HttpConnection c(server.port(), std::chrono::seconds(120));
  auto reply = pushBlobChunked(c, "big/blob", big, 1);
  ASSERT_TRUE(reply) << server.log();
  ASSERT_EQ(reply->status, 201) << reply->body << server.log();
  EXPECT_LT(peakRssKiB(server.pid()), 64u * 1024) << "a 96 MiB body must not sit in memory";

  TempDir work;
  CommandResult got = curl({"-sS", "-o", (work / "out").string(), server.url() + "/v2/big/blob/blobs/" + digestOf(big)});
  ASSERT_EQ(got.status, 0) << got.err;
  EXPECT_EQ(sha256Hex(readFile(work / "out")), sha256Hex(big));
  EXPECT_LT(peakRssKiB(server.pid()), 64u * 1024) << "a 96 MiB download must not sit in memory";
}

TEST(S3Faults, GatewayStoppedMidUploadFailsClearlyAndRecovers) {
  CephCluster& ceph = sharedCeph();
  std::string bucket = newBucket();
  RegfsServer server({}, onBucket(bucket));
  std::string blob = randomBytes(8 << 20, 12);
  std::string first = blob.substr(0, 6 << 20), rest = blob.substr(6 << 20);
  HttpConnection c(server.port(), std::chrono::seconds(60));

  auto started = c.request("POST", "/v2/faults/app/blobs/uploads/");
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202);
  std::string location = started->header("location");
  auto patched = c.request("PATCH", location, first,
                           {"Content-Type: application/octet-stream",
                            "Content-Range: 0-" + std::to_string(first.size() - 1)});
  ASSERT_TRUE(patched);
  ASSERT_EQ(patched->status, 202) << patched->body;

  ceph.stopGateway();
  auto failed = c.request("PATCH", location, rest,
                          {"Content-Type: application/octet-stream",
                           "Content-Range: " + std::to_string(first.size()) + "-" + std::to_string(blob.size() - 1)});
  ASSERT_TRUE(failed) << "the server answers while its storage is down";
  EXPECT_GE(failed->status, 500) << failed->body;
  EXPECT_LT(failed->status, 600) << failed->body;
  EXPECT_NE(server.log().find("S3"), std::string::npos) << "the log names the storage failure";
  auto commit = c.request("PUT", location + (location.find('?') == std::string::npos ? "?" : "&") +
                                     "digest=" + digestOf(blob));
  ASSERT_TRUE(commit);
  EXPECT_GE(commit->status, 500) << commit->body;
  ceph.startGateway();

  // Nothing was committed; the upload still holds the first chunk and goes on.
  auto blobGet = c.request("HEAD", "/v2/faults/app/blobs/" + digestOf(blob));
  ASSERT_TRUE(blobGet);
  EXPECT_EQ(blobGet->status, 404);
  auto status = c.request("GET", location);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 204) << status->body;
  EXPECT_EQ(status->header("range"), "0-" + std::to_string(first.size() - 1));
  auto resumed = c.request("PATCH", location, rest,
                           {"Content-Type: application/octet-stream",
                            "Content-Range: " + std::to_string(first.size()) + "-" + std::to_string(blob.size() - 1)});
  ASSERT_TRUE(resumed);
  ASSERT_EQ(resumed->status, 202) << resumed->body << server.log();
  commit = c.request("PUT", location + (location.find('?') == std::string::npos ? "?" : "&") +
                                "digest=" + digestOf(blob));
  ASSERT_TRUE(commit);
  ASSERT_EQ(commit->status, 201) << commit->body << server.log();
  auto back = c.request("GET", "/v2/faults/app/blobs/" + digestOf(blob));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->body == blob);
}

}  // namespace
}  // namespace regfs::testing
