// regfs-server on S3 under load and faults: a large upload and download hold at most a
// few parts in memory, and radosgw stopped in the middle of an upload gives the client a
// clear 5xx, commits nothing, and the upload goes on once radosgw is back; stopped while a
// chunk streams in, the same, and the push then succeeds from its start.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "shared_ceph.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

RegfsServerOptions onBucket(const std::string& bucket) {
  RegfsServerOptions o;
  o.storage = sharedCeph().storageYaml(bucket);
  o.env["REGISTRY_STORAGE_S3_CHUNKSIZE"] = std::to_string(5 << 20);
  return o;
}

// Pushes `blob` in one PATCH and pulls it back; prints the times beside `who`.
void pushAndPull(const std::string& who, int port, const std::string& url,
                 const std::string& blob) {
  using Clock = std::chrono::steady_clock;
  HttpConnection c(port, std::chrono::seconds(120));
  auto start = Clock::now();
  auto reply = pushBlobChunked(c, "big/blob", blob, 1);
  double up = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 201) << reply->body;
  TempDir work;
  start = Clock::now();
  CommandResult got =
      curl({"-sS", "-o", (work / "out").string(), url + "/v2/big/blob/blobs/" + digestOf(blob)});
  double down = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_EQ(got.status, 0) << got.err;
  EXPECT_EQ(sha256Hex(readFile(work / "out")), sha256Hex(blob));
  std::cout << "[s3] " << (blob.size() >> 20) << " MiB blob through " << who << ": up " << up
            << " s, down " << down << " s" << std::endl;
}

TEST(S3Faults, LargeBlobsStreamWithBoundedMemory) {
  std::string bucket = newBucket();
  RegfsServer server({}, onBucket(bucket));
  std::string big = randomBytes(96 << 20, 11);
  pushAndPull("regfs", server.port(), server.url(), big);
  if (!kAddressSanitizer) {
    EXPECT_LT(peakRssKiB(server.pid()), 64u * 1024) << "a 96 MiB blob must not sit in memory";
  }

  // The same through the reference registry's S3 driver, for comparison (not asserted).
  auto reference = ReferenceRegistry::withStorage(sharedCeph().storageYaml(newBucket()));
  pushAndPull("the reference registry", reference->port(), reference->url(), big);
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
  auto failed = c.request(
      "PATCH", location, rest,
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
  auto resumed = c.request(
      "PATCH", location, rest,
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

TEST(S3Faults, GatewayStoppedMidChunkFailsClearlyAndThePushSucceedsAfter) {
  CephCluster& ceph = sharedCeph();
  std::string bucket = newBucket();
  RegfsServer server({}, onBucket(bucket));
  const std::string repo = "faults/midchunk";
  std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})";
  std::string layer = randomBytes(16 << 20, 13);
  std::string manifest = ociManifest(config, {layer});
  HttpConnection c(server.port(), std::chrono::seconds(60));
  auto pushed = pushBlobMonolithic(c, repo, config);
  ASSERT_TRUE(pushed);
  ASSERT_EQ(pushed->status, 201) << pushed->body;

  // The layer in one PATCH: its head and the first 10 MiB go while radosgw runs (the
  // server streams them into parts), the rest after radosgw stopped.
  auto started = c.request("POST", "/v2/" + repo + "/blobs/uploads/");
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202);
  std::string location = started->header("location");
  size_t half = 10 << 20;
  ASSERT_TRUE(c.send("PATCH " + location + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                     "Content-Type: application/octet-stream\r\nContent-Range: 0-" +
                     std::to_string(layer.size() - 1) +
                     "\r\nContent-Length: " + std::to_string(layer.size()) + "\r\n\r\n"));
  ASSERT_TRUE(c.send(std::string_view(layer).substr(0, half)));
  ceph.stopGateway();
  // The server reads (and drops) what follows an early answer, so the rest goes through.
  EXPECT_TRUE(c.send(std::string_view(layer).substr(half)));
  auto failed = c.receive();
  ceph.startGateway();
  ASSERT_TRUE(failed) << "the server answers while its storage is down" << server.log();
  EXPECT_GE(failed->status, 500) << failed->body;
  EXPECT_LT(failed->status, 600) << failed->body;
  EXPECT_NE(failed->body.find("\"errors\""), std::string::npos) << failed->body;

  // Nothing of the layer or the image is visible: no blob, no layer link, no tag.
  std::string hex = digestOf(layer).substr(7);
  for (const auto& k : ceph.listObjects(bucket)) {
    EXPECT_EQ(k.find(hex), std::string::npos) << k;
    EXPECT_EQ(k.find("/_manifests/"), std::string::npos) << k;
  }
  auto head = c.request("HEAD", "/v2/" + repo + "/blobs/" + digestOf(layer));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 404);
  auto tag = c.request("GET", "/v2/" + repo + "/manifests/v1", {}, {"Accept: " + kOciManifestType});
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->status, 404);

  // radosgw is back: the same push, from its start, succeeds.
  pushed = pushBlobMonolithic(c, repo, config);
  ASSERT_TRUE(pushed);
  ASSERT_EQ(pushed->status, 201) << pushed->body;
  pushed = pushBlobChunked(c, repo, layer, 1);
  ASSERT_TRUE(pushed);
  ASSERT_EQ(pushed->status, 201) << pushed->body << server.log();
  pushed = putManifest(c, repo, "v1", manifest, kOciManifestType);
  ASSERT_TRUE(pushed);
  ASSERT_EQ(pushed->status, 201) << pushed->body;
  tag = c.request("GET", "/v2/" + repo + "/manifests/v1", {}, {"Accept: " + kOciManifestType});
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->body, manifest);
  auto back = c.request("GET", "/v2/" + repo + "/blobs/" + digestOf(layer));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->body == layer);
}

}  // namespace
}  // namespace regfs::testing
