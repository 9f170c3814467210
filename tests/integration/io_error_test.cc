// Real I/O errors: regfs-server over a store inside regfs-faultfs, a FUSE passthrough that
// answers EIO to the reads, writes or fsyncs of the files the test names, as a failing disk
// would. A blob whose file cannot be read answers 500 with the spec's error JSON before any
// byte of it is out; one that fails further in cuts the connection short of its
// Content-Length, so no client takes a truncated blob for a whole one; a manifest that
// cannot be read answers 500; the server keeps serving everything else; fsck reports the
// unreadable blob and repair leaves it alone. A push whose writes or fsyncs fail answers
// 500, and nothing of it becomes visible.

#include <gtest/gtest.h>

#include <filesystem>

#include "common/store/layout.h"
#include "common/store/store.h"
#include "support/faultfs.h"
#include "support/http_client.h"
#include "support/server.h"
#include "support/store_check.h"

namespace regfs::testing {
namespace {

const std::string kStorageFailed =
    "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"the registry's storage "
    "failed\",\"detail\":\"\"}]}\n";

void expectStorageFailed(const std::optional<Reply>& r, const std::string& what) {
  ASSERT_TRUE(r) << what << ": no answer";
  EXPECT_EQ(r->status, 500) << what << ": " << r->body;
  EXPECT_EQ(r->body, kStorageFailed) << what;
}

// A store inside regfs-faultfs with two images, app:v1 and other:v1.
class IoErrorTest : public ::testing::Test {
 protected:
  IoErrorTest()
      : faults_(dir_ / "backing", dir_ / "mnt"),
        server_(root_),
        c_(server_.port(), std::chrono::seconds(30)),
        appManifest_(ociManifest(config_, {appLayer_})),
        otherManifest_(ociManifest(config_, {otherLayer_})) {
    EXPECT_EQ(pushImage(c_, "app", "v1", ImageBytes{config_, {appLayer_}, appManifest_})->status,
              201)
        << server_.log();
    EXPECT_EQ(
        pushImage(c_, "other", "v1", ImageBytes{config_, {otherLayer_}, otherManifest_})->status,
        201)
        << server_.log();
  }

  // The path of a blob's data file in the mount, as regfs-faultfs matches it.
  static std::string dataPath(const std::string& blob) {
    return layout::blobData(Digest::of(blob));
  }

  void expectOtherServed() {
    auto r = c_.request("GET", "/v2/other/blobs/" + digestOf(otherLayer_));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body == otherLayer_);
    r = c_.request("GET", "/v2/other/manifests/v1", {}, {"Accept: " + kOciManifestType});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, otherManifest_);
  }

  TempDir dir_;
  std::filesystem::path root_ = dir_ / "mnt/store";
  FaultFs faults_;
  RegfsServer server_;
  HttpConnection c_;
  std::string config_ = "{\"os\":\"linux\"}";
  std::string appLayer_ = randomBytes(3 << 20, 1);
  std::string otherLayer_ = randomBytes(1 << 20, 2);
  std::string appManifest_, otherManifest_;
};

TEST_F(IoErrorTest, UnreadableBlobsAnswer500OrACutConnectionAndFsckReportsThem) {
  faults_.failReads(dataPath(appLayer_));
  std::string target = "/v2/app/blobs/" + digestOf(appLayer_);
  expectStorageFailed(c_.request("GET", target), "GET of an unreadable blob");
  expectStorageFailed(c_.request("GET", target, {}, {"Range: bytes=1000-"}),
                      "ranged GET of an unreadable blob");
  expectOtherServed();

  // A bad spot 1 MiB in: the answer has begun, so the server can only stop short of the
  // Content-Length it announced. What did arrive is the blob's own bytes.
  faults_.heal();
  faults_.failReads(dataPath(appLayer_), 1 << 20);
  std::string raw =
      rawExchange(server_.port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n", 10000);
  size_t head = raw.find("\r\n\r\n");
  ASSERT_NE(head, std::string::npos) << raw.substr(0, 200);
  Reply partial = parseReply(raw);
  EXPECT_EQ(partial.status, 200);
  EXPECT_EQ(partial.header("content-length"), std::to_string(appLayer_.size()));
  std::string body = raw.substr(head + 4);
  EXPECT_LT(body.size(), appLayer_.size()) << "a blob that cannot be read was served whole";
  EXPECT_TRUE(appLayer_.compare(0, body.size(), body) == 0)
      << "bytes served that are not the blob's";
  EXPECT_FALSE(c_.request("GET", target)) << "a complete reply for a blob that cannot be read";
  expectOtherServed();

  // An unreadable manifest.
  faults_.failReads(dataPath(appManifest_));
  expectStorageFailed(
      c_.request("GET", "/v2/app/manifests/v1", {}, {"Accept: " + kOciManifestType}),
      "GET of an unreadable manifest");
  expectOtherServed();

  // fsck names the unreadable blobs; repair leaves them (the storage may recover).
  CommandResult fsck = runFsck(root_);
  EXPECT_EQ(fsck.status, 4) << fsck.out << fsck.err;
  EXPECT_NE(fsck.out.find("unreadable-blob " + root_.string() + dataPath(appLayer_)),
            std::string::npos)
      << fsck.out;
  EXPECT_NE(fsck.out.find("unreadable-blob " + root_.string() + dataPath(appManifest_)),
            std::string::npos)
      << fsck.out;
  fsck = runFsck(root_, {"--repair"});
  EXPECT_EQ(fsck.status, 4) << fsck.out << fsck.err;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "backing/store" / dataPath(appLayer_).substr(1)));

  // Once the storage reads again, so does everything.
  faults_.heal();
  auto r = c_.request("GET", target);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body == appLayer_);
  fsck = runFsck(root_);
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
  EXPECT_EQ(server_.stop(), 0) << server_.log();
}

TEST_F(IoErrorTest, PushesWhoseWritesOrFsyncsFailLeaveNothingVisible) {
  Store store = Store::openLocal(root_);
  Repository app = store.repository(RepoName::parse("app"));
  std::string blob = randomBytes(2 << 20, 3);

  faults_.failWrites("/_uploads/");
  expectStorageFailed(pushBlobMonolithic(c_, "app", blob), "monolithic push, writes fail");
  expectStorageFailed(pushBlobChunked(c_, "app", blob, 3), "chunked push, writes fail");
  expectOtherServed();
  EXPECT_FALSE(store.statBlob(Digest::of(blob)));
  EXPECT_EQ(runFsck(root_).out.find("torn-upload"), std::string::npos)
      << "a session that failed to start was left";
  for (const auto& u : app.listUploads()) app.cancelUpload(u.uuid);

  // Every fsync under the store fails: nothing the server did not make durable may count.
  faults_.heal();
  faults_.failSyncs("/store/");
  expectStorageFailed(pushBlobMonolithic(c_, "app", blob), "monolithic push, fsync fails");
  EXPECT_TRUE(app.listUploads().empty()) << "a failed monolithic push kept its session";
  expectStorageFailed(pushBlobChunked(c_, "app", blob, 2, true), "chunked push, fsync fails");
  std::string manifest = ociManifest(config_, {appLayer_}, "v2");
  expectStorageFailed(putManifest(c_, "app", "v2", manifest, kOciManifestType),
                      "manifest push, fsync fails");
  expectOtherServed();
  EXPECT_FALSE(store.statBlob(Digest::of(blob)));
  EXPECT_FALSE(store.statBlob(Digest::of(manifest)));
  EXPECT_FALSE(app.resolveTag(Tag::parse("v2")));

  StoreReport report = checkStore(root_);
  EXPECT_TRUE(report.clean()) << report.describe();
  EXPECT_EQ(report.tempFiles, 0u);
  EXPECT_EQ(runFsck(root_).out.find("torn-upload"), std::string::npos)
      << "a session that failed to start was left";

  // Healed: the same pushes work and pull back byte for byte.
  faults_.heal();
  for (const auto& u : app.listUploads()) app.cancelUpload(u.uuid);
  ASSERT_EQ(pushBlobChunked(c_, "app", blob, 2, true)->status, 201);
  auto r = putManifest(c_, "app", "v2", manifest, kOciManifestType);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  r = c_.request("GET", "/v2/app/blobs/" + digestOf(blob));
  EXPECT_TRUE(r && r->body == blob);
  CommandResult fsck = runFsck(root_);
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
}

}  // namespace
}  // namespace regfs::testing
