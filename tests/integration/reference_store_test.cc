// Compatibility with the reference registry (Debian's docker-registry), both ways:
// a store the reference wrote is read by common/, and a store common/ wrote is served
// by the reference. The layout paths are checked against the reference's own files.

#include <gtest/gtest.h>

#include <filesystem>

#include "common/store/layout.h"
#include "common/store/store.h"
#include "support/image.h"

namespace regfs {
namespace {

using namespace regfs::testing;

std::string fileAt(const std::filesystem::path& root, const std::string& driverPath) {
  return readFile(root.string() + driverPath);
}

class ReferenceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(haveProgram("skopeo")) << "skopeo is required (scripts/setup.sh installs it)";
    ASSERT_TRUE(std::filesystem::exists("/usr/bin/docker-registry"))
        << "docker-registry is required (scripts/setup.sh installs it)";
  }
  TempDir work;
};

TEST_F(ReferenceStoreTest, StoreWrittenByReferenceIsReadByCommon) {
  auto root = work / "store";
  OciLayout oci(work / "oci");
  Blob shared = oci.addLayer({{"etc/shared", "shared layer"}});
  Blob own = oci.addLayer({{"bin/app", "app one"}});
  Blob image = oci.addImage({shared, own});
  Blob amd = oci.addImage({shared}, {"linux", "amd64", ""});
  Blob arm = oci.addImage({shared}, {"linux", "arm64", "v8"});
  Blob index = oci.addIndex({{amd, {"linux", "amd64", ""}}, {arm, {"linux", "arm64", "v8"}}});
  oci.tag("v1", image);
  oci.tag("multi", index);

  ReferenceRegistry reference(root);
  auto r = skopeoCopy(oci.ref("v1"), "docker://" + reference.host() + "/library/app:v1");
  ASSERT_EQ(r.status, 0) << r.err;
  r = skopeoCopy(oci.ref("multi"), "docker://" + reference.host() + "/library/app/nested:multi",
                 {"--all"});
  ASSERT_EQ(r.status, 0) << r.err;
  // An upload left in progress.
  r = curl({"-i", "-X", "POST", reference.url() + "/v2/library/app/blobs/uploads/"});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_NE(r.out.find("202 Accepted"), std::string::npos) << r.out;

  // Every path common/store/layout.h names exists in the reference's store, with its content.
  Digest imageDigest = Digest::parse(image.digest);
  RepoName app = RepoName::parse("library/app");
  EXPECT_EQ(fileAt(root, layout::blobData(imageDigest)), image.bytes);
  EXPECT_EQ(fileAt(root, layout::revisionLink(app, imageDigest)), image.digest);
  EXPECT_EQ(fileAt(root, layout::tagCurrentLink(app, Tag::parse("v1"))), image.digest);
  EXPECT_EQ(fileAt(root, layout::tagIndexLink(app, Tag::parse("v1"), imageDigest)), image.digest);
  EXPECT_EQ(fileAt(root, layout::layerLink(app, Digest::parse(own.digest))), own.digest);

  Store store = Store::openLocal(root);
  EXPECT_EQ(store.catalog(100), (std::vector<std::string>{"library/app", "library/app/nested"}));
  Repository repo = store.repository(app);
  EXPECT_EQ(repo.resolveTag(Tag::parse("v1")), imageDigest);
  EXPECT_EQ(repo.getManifest(imageDigest), image.bytes);
  EXPECT_TRUE(repo.hasLayer(Digest::parse(shared.digest)));
  EXPECT_EQ(store.readBlob(Digest::parse(own.digest)), own.bytes);
  auto uploads = repo.listUploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].size, 0u);
  EXPECT_EQ(uploads[0].startedAt.size(), 20u) << uploads[0].startedAt;

  Repository nested = store.repository(RepoName::parse("library/app/nested"));
  EXPECT_EQ(nested.resolveTag(Tag::parse("multi")), Digest::parse(index.digest));
  auto manifests = nested.listManifests();
  EXPECT_EQ(manifests.size(), 3u) << "the index and both children are revisions";
  EXPECT_TRUE(nested.hasManifest(Digest::parse(arm.digest)));
}

TEST_F(ReferenceStoreTest, StoreWrittenByCommonIsServedByReference) {
  auto root = work / "store";
  OciLayout oci(work / "oci");
  Blob layer = oci.addLayer({{"hello.txt", "hello from regfs"}});
  Blob manifest = oci.addImage({layer}, {}, /*dockerMediaTypes=*/true);
  std::string configDigest;
  {
    Store store = Store::openLocal(root);
    Repository repo = store.repository(RepoName::parse("team/app"));
    // Every blob of the image goes through an upload session, as the API does it.
    for (const auto& entry : std::filesystem::directory_iterator(oci.dir() / "blobs" / "sha256")) {
      std::string bytes = readFile(entry.path());
      if (bytes == manifest.bytes) continue;
      std::string uuid = repo.startUpload();
      repo.openUpload(uuid, 0).write(bytes);
      repo.commitUpload(uuid, Digest::of(bytes));
    }
    Digest m = repo.putManifest(manifest.bytes);
    ASSERT_EQ(m.str(), manifest.digest);
    repo.putTag(Tag::parse("1.0"), m);
  }

  ReferenceRegistry reference(root);
  auto r = curl({"-f", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
                 reference.url() + "/v2/team/app/manifests/1.0"});
  ASSERT_EQ(r.status, 0) << r.err << reference.log();
  EXPECT_EQ(r.out, manifest.bytes);
  r = curl({"-f", reference.url() + "/v2/team/app/blobs/" + layer.digest});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, layer.bytes);
  r = curl({"-f", reference.url() + "/v2/_catalog"});
  EXPECT_EQ(r.out, "{\"repositories\":[\"team/app\"]}\n");
  r = curl({"-f", reference.url() + "/v2/team/app/tags/list"});
  EXPECT_EQ(r.out, "{\"name\":\"team/app\",\"tags\":[\"1.0\"]}\n");
  // A real client pulls the whole image back, byte for byte.
  auto out = work / "pulled";
  r = skopeoCopy("docker://" + reference.host() + "/team/app:1.0", "dir:" + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(readFile(out / "manifest.json"), manifest.bytes);
  EXPECT_EQ(readFile(out / layer.digest.substr(7)), layer.bytes);
}

}  // namespace
}  // namespace regfs
