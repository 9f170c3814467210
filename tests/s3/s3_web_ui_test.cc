// The web UI on S3 (radosgw): what its pages ask for answers from a bucket as from a disk. An
// image pushed through the API shows in the catalog (count and size), on its repository's tag page
// (digest, push date from the tag link's LastModified, platform), on its image page (config,
// history) and in its files (a directory's entries with their layer, a file's bytes).
#include <gtest/gtest.h>

#include <filesystem>

#include "shared_ceph.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

namespace fs = std::filesystem;

TEST(S3WebUiTest, CatalogTagPageImageAndFilesAnswerFromTheBucket) {
  RegfsServerOptions options;
  options.storage = sharedCeph().storageYaml(newBucket());
  RegfsServer server({}, options);
  TempDir work;
  OciLayout oci(work / "oci");
  ImageExtras extras;
  extras.containerConfig = R"({"WorkingDir":"/srv","Env":["ON=s3"]})";
  extras.configFields =
      R"(,"history":[{"created_by":"ADD files /"},{"created_by":"ENV ON=s3","empty_layer":true}])";
  Blob image = oci.addImage(
      {oci.addLayer({{"srv/hello.txt", "hello from the bucket\n"}, {"srv/sub/x", "x"}})}, {}, false,
      extras);
  oci.tag("1.0", image);
  // Its blobs (layer, config) and manifest, pushed as a client does, then tagged twice.
  HttpConnection c(server.port());
  for (const auto& blob : fs::directory_iterator(oci.dir() / "blobs/sha256")) {
    std::string bytes = readFile(blob.path());
    if (bytes == image.bytes) continue;
    auto pushed = pushBlobMonolithic(c, "team/app", bytes);
    ASSERT_TRUE(pushed && pushed->status == 201) << (pushed ? pushed->body : "") << server.log();
  }
  for (const char* tag : {"1.0", "1.1"}) {
    auto put = putManifest(c, "team/app", tag, image.bytes, kOciManifestType);
    ASSERT_TRUE(put && put->status == 201) << (put ? put->body : "") << server.log();
  }
  const std::string v2 = server.url() + "/v2/";

  Reply catalog = http("GET", v2 + "_regfs/catalog");
  ASSERT_EQ(catalog.status, 200) << catalog.body << server.log();
  EXPECT_NE(catalog.body.find("\"name\":\"team/app\",\"tags\":2"), std::string::npos)
      << catalog.body;

  Reply tags = http("GET", v2 + "team/app/_regfs/tags?sort=name&order=asc");
  ASSERT_EQ(tags.status, 200) << tags.body << server.log();
  EXPECT_NE(tags.body.find("\"total\":2"), std::string::npos) << tags.body;
  size_t first = tags.body.find("\"tag\":\"1.0\",\"digest\":\"" + image.digest + "\"");
  EXPECT_NE(first, std::string::npos) << tags.body;
  EXPECT_LT(first, tags.body.find("\"tag\":\"1.1\"")) << tags.body;
  EXPECT_NE(tags.body.find("\"pushed\":\"20"), std::string::npos) << tags.body;
  EXPECT_NE(tags.body.find("\"platforms\":[\"linux/amd64\"]"), std::string::npos) << tags.body;

  Reply page = http("GET", v2 + "team/app/_regfs/image/1.0");
  ASSERT_EQ(page.status, 200) << page.body << server.log();
  EXPECT_NE(page.body.find("\"workingDir\":\"/srv\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("ENV ON=s3"), std::string::npos) << page.body;

  Reply dir = getFiles(v2 + "team/app/_regfs/files/1.0/srv/");
  ASSERT_EQ(dir.status, 200) << dir.body << server.log();
  EXPECT_NE(dir.body.find("\"hello.txt\""), std::string::npos) << dir.body;
  EXPECT_NE(dir.body.find("\"sub\""), std::string::npos) << dir.body;
  Reply file = http("GET", v2 + "team/app/_regfs/files/1.0/srv/hello.txt");
  ASSERT_EQ(file.status, 200) << server.log();
  EXPECT_EQ(file.body, "hello from the bucket\n");
  EXPECT_EQ(file.header("content-disposition").rfind("attachment", 0), 0u);
}

}  // namespace
}  // namespace regfs::testing
