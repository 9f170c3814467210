// Disk full and I/O errors: regfs-server on a small tmpfs mounted by the test (it runs as
// root). A push that runs out of space fails with the spec's error JSON: 507 Insufficient
// Storage (a client that prints only the status line still says why), code UNKNOWN and the
// message "no space left on device: the registry's storage is full" (distribution 2.8 answers
// 500 UNKNOWN "unknown error" with "write <path>: no space left on device" as the detail; regfs
// names no server path). It leaves no partial blob and no temporary file behind, gives its
// space back, and reads go on being served; once space is freed pushes work again. A store
// that turns read-only under the server (EROFS) gets the same treatment with 500 and "the
// registry's storage failed".

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cstring>
#include <filesystem>

#include "common/store/store.h"
#include "support/http_client.h"
#include "support/server.h"
#include "support/store_check.h"

namespace regfs::testing {
namespace {

// A tmpfs of `size` at `dir`, unmounted on destruction.
class TmpfsMount {
 public:
  TmpfsMount(const std::filesystem::path& dir, const std::string& size) : dir_(dir) {
    std::filesystem::create_directories(dir);
    mounted_ =
        ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0755").c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  bool remount(bool readOnly) {
    unsigned long flags = MS_REMOUNT | (readOnly ? MS_RDONLY : 0);
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", flags, nullptr) == 0;
  }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

uint64_t freeBytes(const std::filesystem::path& p) { return std::filesystem::space(p).available; }

// The spec's error JSON with distribution's code for storage failures and a message that
// says what happened (507: the storage is full; 500: it failed), naming no server path.
void expectServerError(const std::optional<Reply>& r, int status, const std::string& what) {
  ASSERT_TRUE(r) << what << ": no answer";
  EXPECT_EQ(r->status, status) << what << ": " << r->body;
  std::string message = status == 507 ? "no space left on device: the registry's storage is full"
                                      : "the registry's storage failed";
  EXPECT_EQ(r->body, "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"" + message +
                         "\",\"detail\":\"\"}]}\n")
      << what;
  EXPECT_EQ(r->header("content-type"), "application/json; charset=utf-8");
}

void expectReadsServed(HttpConnection& c, const std::string& manifest, const std::string& layer) {
  auto r = c.request("GET", "/v2/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = c.request("GET", "/v2/small/app/manifests/v1", {}, {"Accept: " + kOciManifestType});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, manifest);
  r = c.request("GET", "/v2/small/app/blobs/" + digestOf(layer));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->body == layer);
  r = c.request("GET", "/v2/small/app/tags/list");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(DiskFull, PushesFailCleanlyReadsGoOnAndPushesWorkOnceSpaceIsFreed) {
  TempDir dir;
  TmpfsMount mount(dir / "mnt", "8m");
  ASSERT_TRUE(mount.mounted()) << "mounting a tmpfs needs root: " << std::strerror(errno);
  auto root = dir / "mnt/store";
  RegfsServer server(root);
  HttpConnection c(server.port(), std::chrono::seconds(30));
  std::string config = "{\"os\":\"linux\"}", layer = randomBytes(200000, 1);
  std::string manifest = ociManifest(config, {layer});
  ASSERT_EQ(pushImage(c, "small/app", "v1", ImageBytes{config, {layer}, manifest})->status, 201);

  // Fill the disk but for ~1 MiB, beside the store, as other data on the volume would.
  uint64_t before = freeBytes(dir / "mnt");
  writeFile(dir / "mnt/filler", std::string(static_cast<size_t>(before - (1 << 20)), 'f'));
  uint64_t left = freeBytes(dir / "mnt");

  std::string big = randomBytes(3 << 20, 2);
  expectServerError(pushBlobMonolithic(c, "small/app", big), 507, "monolithic push");
  expectReadsServed(c, manifest, layer);
  // The client never learnt of the monolithic push's session: it is gone, with its space.
  Store store = Store::openLocal(root);
  EXPECT_TRUE(store.repository(RepoName::parse("small/app")).listUploads().empty());
  EXPECT_GE(freeBytes(dir / "mnt") + (64 << 10), left) << "space kept by a failed monolithic push";
  expectServerError(pushBlobChunked(c, "small/app", big, 3), 507, "chunked push");
  expectServerError(pushBlobChunked(c, "small/app", big, 2, true), 507,
                    "chunked push, last chunk with PUT");
  expectReadsServed(c, manifest, layer);

  // No partial blob, no temporary file; the failed monolithic push gave its space back.
  StoreReport report = checkStore(root);
  EXPECT_TRUE(report.clean()) << report.describe();
  EXPECT_EQ(report.tempFiles, 0u);
  EXPECT_FALSE(store.statBlob(Digest::of(big)));

  // The chunked pushes' sessions stay for their clients to resume, and hold the last
  // blocks: not even a manifest fits now.
  ASSERT_LT(freeBytes(dir / "mnt"), 4096u);
  std::string other = ociManifest(config, {layer}, "other");
  auto r = putManifest(c, "small/app", "v2", other, kOciManifestType);
  expectServerError(r, 507, "manifest push");
  expectReadsServed(c, manifest, layer);
  report = checkStore(root);
  EXPECT_TRUE(report.clean()) << report.describe();
  EXPECT_EQ(report.tempFiles, 0u);
  EXPECT_FALSE(store.repository(RepoName::parse("small/app")).resolveTag(Tag::parse("v2")));

  // Space freed: every kind of push works again, and pulls back byte for byte.
  std::filesystem::remove(dir / "mnt/filler");
  for (const auto& u : store.repository(RepoName::parse("small/app")).listUploads()) {
    store.repository(RepoName::parse("small/app")).cancelUpload(u.uuid);
  }
  EXPECT_GE(freeBytes(dir / "mnt") + (64 << 10), before)
      << "space leaked by failed pushes (" << left << " left when full)";
  ASSERT_EQ(pushBlobMonolithic(c, "small/app", big)->status, 201);
  ASSERT_EQ(pushBlobChunked(c, "small/app", randomBytes(1 << 20, 3), 3)->status, 201);
  r = putManifest(c, "small/app", "v2", other, kOciManifestType);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  r = c.request("GET", "/v2/small/app/blobs/" + digestOf(big));
  EXPECT_TRUE(r && r->body == big);
  report = checkStore(root);
  EXPECT_TRUE(report.clean()) << report.describe();
}

TEST(DiskFull, StorageErrorsAnswer500AndTheStoreRecovers) {
  TempDir dir;
  TmpfsMount mount(dir / "mnt", "16m");
  ASSERT_TRUE(mount.mounted()) << "mounting a tmpfs needs root: " << std::strerror(errno);
  auto root = dir / "mnt/store";
  RegfsServer server(root);
  HttpConnection c(server.port(), std::chrono::seconds(30));
  std::string config = "{\"os\":\"linux\"}", layer = randomBytes(200000, 1);
  std::string manifest = ociManifest(config, {layer});
  ASSERT_EQ(pushImage(c, "small/app", "v1", ImageBytes{config, {layer}, manifest})->status, 201);
  auto r = c.request("POST", "/v2/small/app/blobs/uploads/");
  ASSERT_EQ(r->status, 202);
  std::string session = r->header("location");

  ASSERT_TRUE(mount.remount(true)) << std::strerror(errno);
  std::string blob = randomBytes(1 << 20, 4);
  expectServerError(pushBlobMonolithic(c, "small/app", blob), 500,
                    "monolithic push on a read-only store");
  expectServerError(
      c.request("PATCH", session, blob, {"Content-Range: 0-" + std::to_string(blob.size() - 1)}),
      500, "chunk on a read-only store");
  expectServerError(
      putManifest(c, "small/app", "v2", ociManifest(config, {layer}, "x"), kOciManifestType), 500,
      "manifest push on a read-only store");
  expectReadsServed(c, manifest, layer);

  ASSERT_TRUE(mount.remount(false)) << std::strerror(errno);
  r = c.request("PATCH", session, blob, {"Content-Range: 0-" + std::to_string(blob.size() - 1)});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  r = c.request("PUT", r->header("location") + "?digest=" + digestOf(blob));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  StoreReport report = checkStore(root);
  EXPECT_TRUE(report.clean()) << report.describe();
  EXPECT_EQ(report.tempFiles, 0u);
}

}  // namespace
}  // namespace regfs::testing
