// regfs-server over HTTP: a real server process on loopback, driven with curl and raw
// sockets. Every endpoint, every error code the server answers, streaming, keep-alive,
// delete gating, read-only mode and two servers sharing one store.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/digest.h"
#include "common/names.h"
#include "common/store/layout.h"
#include "support/image.h"
#include "support/poll.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  TempDir work;

  std::filesystem::path file(const std::string& bytes) {
    static int n = 0;
    auto p = work / ("body-" + std::to_string(n++));
    writeFile(p, bytes);
    return p;
  }
  Reply push(RegfsServer& s, const std::string& repo, const std::string& bytes) {
    return http("POST", s.url() + "/v2/" + repo + "/blobs/uploads/?digest=" + digestOf(bytes),
                {"--data-binary", "@" + file(bytes).string(), "-H",
                 "Content-Type: application/octet-stream"});
  }
  Reply putManifest(RegfsServer& s, const std::string& repo, const std::string& ref,
                    const std::string& bytes, const std::string& type) {
    return http("PUT", s.url() + "/v2/" + repo + "/manifests/" + ref,
                {"--data-binary", "@" + file(bytes).string(), "-H", "Content-Type: " + type});
  }
};

const std::string kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

TEST_F(ServerTest, BaseAnswersWithTheApiVersionOnEveryResponse) {
  RegfsServer s;
  Reply r = http("GET", s.url() + "/v2/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("docker-distribution-api-version"), "registry/2.0");
  EXPECT_EQ(r.body, "{}");
  r = http("HEAD", s.url() + "/v2/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  r = http("GET", s.url() + "/nothing/here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("docker-distribution-api-version"), "registry/2.0");
  r = http("GET", s.url() + "/v2/a/../b/tags/list", {"--path-as-is"});
  EXPECT_EQ(r.status, 404);
  r = http("POST", s.url() + "/v2/");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.code(), "UNSUPPORTED");
}

TEST_F(ServerTest, MonolithicUploadThenBlobReadsWithRangeAndHead) {
  RegfsServer s;
  std::string blob = randomBytes(300000, 1);
  std::string d = digestOf(blob);
  Reply r = push(s, "library/app", blob);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("location"), "/v2/library/app/blobs/" + d);
  EXPECT_EQ(r.header("docker-content-digest"), d);

  r = http("GET", s.url() + "/v2/library/app/blobs/" + d);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == blob);
  EXPECT_EQ(r.header("content-length"), std::to_string(blob.size()));
  EXPECT_EQ(r.header("content-type"), "application/octet-stream");
  EXPECT_EQ(r.header("docker-content-digest"), d);
  EXPECT_EQ(r.header("etag"), "\"" + d + "\"");

  r = http("HEAD", s.url() + "/v2/library/app/blobs/" + d);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length"), std::to_string(blob.size()));
  EXPECT_EQ(r.body, "");

  r = http("GET", s.url() + "/v2/library/app/blobs/" + d, {"-H", "Range: bytes=100-199"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("content-range"), "bytes 100-199/300000");
  EXPECT_TRUE(r.body == blob.substr(100, 100));
  r = http("GET", s.url() + "/v2/library/app/blobs/" + d, {"-H", "Range: bytes=-10"});
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == blob.substr(blob.size() - 10));
  r = http("GET", s.url() + "/v2/library/app/blobs/" + d, {"-H", "Range: bytes=300000-"});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.header("content-range"), "bytes */300000");
  EXPECT_EQ(r.code(), "RANGE_INVALID");

  // Errors: unknown blob, blob of another repository, bad digest, bad name.
  r = http("GET", s.url() + "/v2/library/app/blobs/" + digestOf("nope"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "BLOB_UNKNOWN");
  r = http("HEAD", s.url() + "/v2/library/other/blobs/" + d);
  EXPECT_EQ(r.status, 404);
  r = http("GET", s.url() + "/v2/library/app/blobs/sha256:xyz");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "DIGEST_INVALID");
  r = http("GET", s.url() + "/v2/Library/App/blobs/" + d);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "NAME_INVALID");

  // A monolithic upload whose content does not match the digest.
  r = http("POST", s.url() + "/v2/library/app/blobs/uploads/?digest=" + digestOf("other"),
           {"--data-binary", "@" + file("content").string()});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "DIGEST_INVALID");
  r = http("POST", s.url() + "/v2/library/app/blobs/uploads/?digest=sha256:12",
           {"--data-binary", "@" + file("content").string()});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "DIGEST_INVALID");
}

TEST_F(ServerTest, ChunkedUploadWithContentRangeStatusAndCancel) {
  RegfsServer s;
  std::string blob = randomBytes(200000, 2);
  std::string base = s.url() + "/v2/team/app/blobs/uploads/";
  Reply r = http("POST", base);
  ASSERT_EQ(r.status, 202);
  std::string location = r.header("location");
  std::string uuid = r.header("docker-upload-uuid");
  EXPECT_EQ(location, "/v2/team/app/blobs/uploads/" + uuid);
  EXPECT_EQ(r.header("range"), "0-0");
  EXPECT_EQ(r.header("content-length"), "0");

  r = http("PATCH", s.url() + location,
           {"--data-binary", "@" + file(blob.substr(0, 100000)).string(), "-H",
            "Content-Range: 0-99999", "-H", "Content-Type: application/octet-stream"});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.header("range"), "0-99999");
  EXPECT_EQ(r.header("location"), location);

  r = http("GET", s.url() + location);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("range"), "0-99999");
  EXPECT_EQ(r.header("docker-upload-uuid"), uuid);

  // Out of order: 416 RANGE_INVALID; a Content-Range that disagrees with the length: 400.
  r = http("PATCH", s.url() + location,
           {"--data-binary", "@" + file(blob.substr(0, 10)).string(), "-H", "Content-Range: 5-14"});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.code(), "RANGE_INVALID");
  r = http("PATCH", s.url() + location,
           {"--data-binary", "@" + file(blob.substr(0, 10)).string(), "-H",
            "Content-Range: 100000-100019"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "SIZE_INVALID");

  // Chunked transfer encoding, no Content-Range (appends), as docker sends it.
  r = http("PATCH", s.url() + location,
           {"--data-binary", "@" + file(blob.substr(100000, 50000)).string(), "-H",
            "Transfer-Encoding: chunked"});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.header("range"), "0-149999");

  // PUT with the last chunk.
  r = http("PUT", s.url() + location + "?digest=" + digestOf(blob),
           {"--data-binary", "@" + file(blob.substr(150000)).string(), "-H",
            "Content-Range: 150000-199999"});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("location"), "/v2/team/app/blobs/" + digestOf(blob));
  EXPECT_EQ(r.header("docker-content-digest"), digestOf(blob));
  r = http("GET", s.url() + "/v2/team/app/blobs/" + digestOf(blob));
  EXPECT_TRUE(r.body == blob);
  r = http("GET", s.url() + location);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "BLOB_UPLOAD_UNKNOWN");

  // PUT without digest; PUT with a digest that does not match; cancel; unknown uuid.
  r = http("POST", base);
  location = r.header("location");
  r = http("PUT", s.url() + location);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "DIGEST_INVALID");
  r = http("DELETE", s.url() + location);
  EXPECT_EQ(r.status, 204);
  r = http("GET", s.url() + location);
  EXPECT_EQ(r.status, 404);
  r = http("PATCH", s.url() + location, {"--data-binary", "x"});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "BLOB_UPLOAD_UNKNOWN");

  r = http("POST", base);
  location = r.header("location");
  r = http("PUT", s.url() + location + "?digest=" + digestOf("abc"), {"--data-binary", "abd"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "DIGEST_INVALID");
  r = http("GET", s.url() + "/v2/team/app/blobs/uploads/not-a-uuid");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "BLOB_UPLOAD_UNKNOWN");
}

// Bodies larger than one stage are written behind the hashing; PATCHes of odd sizes leave
// the file at unaligned offsets, so the next one starts with a short stage.
TEST_F(ServerTest, ChunkedUploadOverManyUnevenPatchesCommitsByteIdentical) {
  RegfsServer s;
  const std::vector<size_t> sizes = {1,     (1 << 20) + 3,    4093, (3 << 20) - 5, 17,
                                     65536, (2 << 20) + 4096, 9};
  size_t total = 0;
  for (size_t n : sizes) total += n;
  std::string blob = randomBytes(total, 11);
  Reply r = http("POST", s.url() + "/v2/uneven/blobs/uploads/");
  std::string location = r.header("location");
  size_t offset = 0;
  for (size_t n : sizes) {
    r = http("PATCH", s.url() + location,
             {"--data-binary", "@" + file(blob.substr(offset, n)).string(), "-H",
              "Content-Range: " + std::to_string(offset) + "-" + std::to_string(offset + n - 1),
              "-H", "Content-Type: application/octet-stream"});
    ASSERT_EQ(r.status, 202) << r.body;
    offset += n;
    EXPECT_EQ(r.header("range"), "0-" + std::to_string(offset - 1));
  }
  r = http("PUT", s.url() + location + "?digest=" + digestOf(blob));
  ASSERT_EQ(r.status, 201) << r.body;
  r = http("GET", s.url() + "/v2/uneven/blobs/" + digestOf(blob));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == blob);
}

TEST_F(ServerTest, LargeUploadWithAWrongDigestIsRejectedAndLeavesNothing) {
  RegfsServer s;
  std::string blob = randomBytes((6 << 20) + 123, 12);
  std::string other = digestOf(blob + "x");
  Reply r = http(
      "POST", s.url() + "/v2/wrong/blobs/uploads/?digest=" + other,
      {"--data-binary", "@" + file(blob).string(), "-H", "Content-Type: application/octet-stream"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "DIGEST_INVALID");
  r = http("POST", s.url() + "/v2/wrong/blobs/uploads/");
  std::string location = r.header("location");
  r = http(
      "PUT", s.url() + location + "?digest=" + other,
      {"--data-binary", "@" + file(blob).string(), "-H", "Content-Type: application/octet-stream"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "DIGEST_INVALID");
  EXPECT_EQ(http("HEAD", s.url() + "/v2/wrong/blobs/" + other).status, 404);
  EXPECT_EQ(http("HEAD", s.url() + "/v2/wrong/blobs/" + digestOf(blob)).status, 404);
  auto uploads = s.root() / "docker/registry/v2/repositories/wrong/_uploads";
  EXPECT_TRUE(!std::filesystem::exists(uploads) || std::filesystem::is_empty(uploads))
      << "a rejected upload left its session";
}

TEST_F(ServerTest, EmptyBlobAndExpectContinue) {
  RegfsServer s;
  Reply r = push(s, "a", "");
  ASSERT_EQ(r.status, 201) << r.body;
  r = http("GET", s.url() + "/v2/a/blobs/" + digestOf(""));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length"), "0");
  // curl sends "Expect: 100-continue" for large bodies; the server must answer it.
  std::string big = randomBytes(3 << 20, 3);
  r = http("POST", s.url() + "/v2/a/blobs/uploads/?digest=" + digestOf(big),
           {"--data-binary", "@" + file(big).string(), "-H", "Expect: 100-continue",
            "--expect100-timeout", "30"});
  EXPECT_EQ(r.status, 201);
}

TEST_F(ServerTest, CrossRepositoryMount) {
  RegfsServer s;
  std::string blob = "mount me";
  ASSERT_EQ(push(s, "src/repo", blob).status, 201);
  Reply r = http(
      "POST", s.url() + "/v2/dst/repo/blobs/uploads/?mount=" + digestOf(blob) + "&from=src/repo");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.header("location"), "/v2/dst/repo/blobs/" + digestOf(blob));
  EXPECT_EQ(r.header("docker-content-digest"), digestOf(blob));
  EXPECT_EQ(http("GET", s.url() + "/v2/dst/repo/blobs/" + digestOf(blob)).body, blob);
  // Not mountable (the source does not have it): a normal upload session.
  r = http("POST",
           s.url() + "/v2/dst/other/blobs/uploads/?mount=" + digestOf("absent") + "&from=src/repo");
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(r.has("docker-upload-uuid"));
}

TEST_F(ServerTest, ManifestsPutGetHeadWithNegotiationAndValidation) {
  RegfsServer s;
  std::string config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
  std::string layer = randomBytes(5000, 4);
  ASSERT_EQ(push(s, "lib/app", config).status, 201);
  ASSERT_EQ(push(s, "lib/app", layer).status, 201);
  std::string manifest = ociManifest(config, {layer});
  std::string md = digestOf(manifest);

  Reply r = putManifest(s, "lib/app", "v1", manifest, kOciManifestType);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("location"), "/v2/lib/app/manifests/" + md);
  EXPECT_EQ(r.header("docker-content-digest"), md);
  EXPECT_FALSE(r.has("oci-subject"));

  for (std::string ref : {std::string("v1"), md}) {
    r = http("GET", s.url() + "/v2/lib/app/manifests/" + ref,
             {"-H", "Accept: " + kOciManifestType});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, manifest) << "byte-exact";
    EXPECT_EQ(r.header("content-type"), kOciManifestType);
    EXPECT_EQ(r.header("docker-content-digest"), md);
    r = http("HEAD", s.url() + "/v2/lib/app/manifests/" + ref,
             {"-H", "Accept: " + kOciManifestType});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-length"), std::to_string(manifest.size()));
    EXPECT_EQ(r.body, "");
  }
  // An OCI manifest to a client that does not accept OCI: 404, as distribution answers.
  r = http("GET", s.url() + "/v2/lib/app/manifests/v1", {"-H", "Accept: " + kDockerManifest});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "MANIFEST_UNKNOWN");

  r = http("GET", s.url() + "/v2/lib/app/manifests/nope", {"-H", "Accept: " + kOciManifestType});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "MANIFEST_UNKNOWN");
  r = http("GET", s.url() + "/v2/lib/none/manifests/v1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "NAME_UNKNOWN");
  r = http("GET", s.url() + "/v2/lib/app/manifests/bad:tag:x");
  EXPECT_EQ(r.status, 400);
  // A reference that is no valid tag names no manifest: 404, as distribution answers (only a
  // PUT to it is TAG_INVALID, below).
  for (std::string ref : {std::string(".bad"), std::string("-bad-tag"), std::string(129, 't')}) {
    for (const char* method : {"GET", "DELETE"}) {
      r = http(method, s.url() + "/v2/lib/app/manifests/" + ref);
      EXPECT_EQ(r.status, 404) << method << " " << ref;
      EXPECT_EQ(r.code(), "MANIFEST_UNKNOWN") << method << " " << ref;
    }
    EXPECT_EQ(http("HEAD", s.url() + "/v2/lib/app/manifests/" + ref).status, 404) << ref;
  }

  // Validation.
  r = putManifest(s, "lib/app", "v2", ociManifest(config, {"layer not pushed"}), kOciManifestType);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "MANIFEST_BLOB_UNKNOWN");
  r = putManifest(s, "lib/other", "v2", manifest, kOciManifestType);
  EXPECT_EQ(r.status, 400) << "blobs must be linked in the repository pushed to";
  EXPECT_EQ(r.code(), "MANIFEST_BLOB_UNKNOWN");
  r = putManifest(s, "lib/app", "v2", "{not json", kOciManifestType);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "MANIFEST_INVALID");
  r = putManifest(s, "lib/app", digestOf("something else"), manifest, kOciManifestType);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "DIGEST_INVALID");
  r = putManifest(s, "lib/app", "v2", std::string(4 * 1024 * 1024 + 1, ' '), kOciManifestType);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.code(), "SIZE_INVALID");
  r = putManifest(s, "lib/app", "-bad-tag", manifest, kOciManifestType);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "TAG_INVALID");

  // By digest.
  r = putManifest(s, "lib/app", md, manifest, kOciManifestType);
  EXPECT_EQ(r.status, 201);

  // An index whose children must be manifests of the repository.
  std::string index = indexJson({descriptorOf(kOciManifestType, manifest)});
  r = putManifest(s, "lib/app", "multi", index, kOciIndexType);
  EXPECT_EQ(r.status, 201) << r.body;
  std::string orphanIndex = indexJson({descriptorOf(kOciManifestType, "{}")});
  r = putManifest(s, "lib/app", "orphan", orphanIndex, kOciIndexType);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "MANIFEST_BLOB_UNKNOWN");
  r = http("GET", s.url() + "/v2/lib/app/manifests/multi", {"-H", "Accept: " + kOciIndexType});
  EXPECT_EQ(r.body, index);
  EXPECT_EQ(r.header("content-type"), kOciIndexType);
}

TEST_F(ServerTest, TagsListAndCatalogPaginateWithLink) {
  RegfsServerOptions options;
  options.catalogMaxEntries = 3;
  RegfsServer s({}, options);
  std::string config = "{}", layer = "l";
  for (std::string repo : {"a", "b/c", "b", "d", "e"}) {
    ASSERT_EQ(push(s, repo, config).status, 201);
    ASSERT_EQ(push(s, repo, layer).status, 201);
    for (std::string tag : {"1", "2", "3", "latest"}) {
      ASSERT_EQ(putManifest(s, repo, tag, ociManifest(config, {layer}), kOciManifestType).status,
                201);
    }
  }
  Reply r = http("GET", s.url() + "/v2/b/c/tags/list");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"name\":\"b/c\",\"tags\":[\"1\",\"2\",\"3\",\"latest\"]}\n");
  EXPECT_FALSE(r.has("link"));
  r = http("GET", s.url() + "/v2/b/c/tags/list?n=2");
  EXPECT_EQ(r.body, "{\"name\":\"b/c\",\"tags\":[\"1\",\"2\"]}\n");
  EXPECT_EQ(r.header("link"), "</v2/b/c/tags/list?last=2&n=2>; rel=\"next\"");
  r = http("GET", s.url() + "/v2/b/c/tags/list?n=2&last=2");
  EXPECT_EQ(r.body, "{\"name\":\"b/c\",\"tags\":[\"3\",\"latest\"]}\n");
  EXPECT_FALSE(r.has("link"));
  r = http("GET", s.url() + "/v2/nope/tags/list");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "NAME_UNKNOWN");

  // catalog.maxentries caps the page; Link continues after the last name.
  r = http("GET", s.url() + "/v2/_catalog");
  EXPECT_EQ(r.body, "{\"repositories\":[\"a\",\"b\",\"b/c\"]}\n");
  EXPECT_EQ(r.header("link"), "</v2/_catalog?last=b%2Fc&n=3>; rel=\"next\"");
  r = http("GET", s.url() + "/v2/_catalog?last=b%2Fc&n=3");
  EXPECT_EQ(r.body, "{\"repositories\":[\"d\",\"e\"]}\n");
  EXPECT_FALSE(r.has("link"));
  r = http("GET", s.url() + "/v2/_catalog?n=1");
  EXPECT_EQ(r.body, "{\"repositories\":[\"a\"]}\n");
  EXPECT_EQ(r.header("link"), "</v2/_catalog?last=a&n=1>; rel=\"next\"");
  r = http("GET", s.url() + "/v2/_catalog?n=x");
  EXPECT_EQ(r.status, 400);
}

TEST_F(ServerTest, ATagWhoseLinkIsMalformedIsNotListed) {
  RegfsServer s;
  std::string config = "{}", layer = "l";
  ASSERT_EQ(push(s, "app", config).status, 201);
  ASSERT_EQ(push(s, "app", layer).status, 201);
  for (std::string tag : {"1", "broken", "empty"}) {
    ASSERT_EQ(putManifest(s, "app", tag, ociManifest(config, {layer}), kOciManifestType).status,
              201);
  }
  RepoName app = RepoName::parse("app");
  writeFile(s.root().string() + layout::tagCurrentLink(app, Tag::parse("broken")),
            "sha256:../../../../etc/passwd");
  writeFile(s.root().string() + layout::tagCurrentLink(app, Tag::parse("empty")), "");
  Reply r = http("GET", s.url() + "/v2/app/tags/list");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"name\":\"app\",\"tags\":[\"1\"]}\n");
  r = http("GET", s.url() + "/v2/app/manifests/broken");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "MANIFEST_UNKNOWN");
}

TEST_F(ServerTest, ABlobWhoseDataIsASymlinkIsNotServed) {
  RegfsServer s;
  std::string blob = "a blob", config = "{}";
  ASSERT_EQ(push(s, "app", blob).status, 201);
  ASSERT_EQ(push(s, "app", config).status, 201);
  ASSERT_EQ(putManifest(s, "app", "v1", ociManifest(config, {blob}), kOciManifestType).status, 201);
  // The data file replaced by a symlink out of the store: to another file, and to a copy
  // of the blob's own bytes (the rule is about where it points, not what it holds).
  writeFile(work / "hostname", "outside the store\n");
  writeFile(work / "copy", config);
  std::string blobData = s.root().string() + layout::blobData(Digest::parse(digestOf(blob)));
  std::string configData = s.root().string() + layout::blobData(Digest::parse(digestOf(config)));
  std::filesystem::remove(blobData);
  std::filesystem::create_symlink(work / "hostname", blobData);
  std::filesystem::remove(configData);
  std::filesystem::create_symlink(work / "copy", configData);
  for (const std::string& digest : {digestOf(blob), digestOf(config)}) {
    Reply r = http("GET", s.url() + "/v2/app/blobs/" + digest);
    EXPECT_EQ(r.status, 404) << digest;
    EXPECT_EQ(r.code(), "BLOB_UNKNOWN") << digest;
    EXPECT_EQ(r.body.find("outside the store"), std::string::npos);
    r = http("HEAD", s.url() + "/v2/app/blobs/" + digest);
    EXPECT_EQ(r.status, 404) << digest;
    r = http("GET", s.url() + "/v2/app/blobs/" + digest, {"-H", "Range: bytes=0-1"});
    EXPECT_EQ(r.status, 404) << digest;
  }
}

TEST_F(ServerTest, ReferrersWithSubjectAndArtifactTypeFilter) {
  RegfsServer s;
  std::string config = "{}", layer = "image layer";
  ASSERT_EQ(push(s, "app", config).status, 201);
  ASSERT_EQ(push(s, "app", layer).status, 201);
  std::string image = ociManifest(config, {layer});
  ASSERT_EQ(putManifest(s, "app", "v1", image, kOciManifestType).status, 201);

  Reply r = http("GET", s.url() + "/v2/app/referrers/" + digestOf(image));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), kOciIndexType);
  EXPECT_NE(r.body.find("\"manifests\":[]"), std::string::npos) << r.body;

  std::string empty = "{}";
  std::string sig = "signature bytes";
  ASSERT_EQ(push(s, "app", sig).status, 201);
  std::string subject = ",\"subject\":" + descriptorOf(kOciManifestType, image);
  std::string artifact =
      manifestJson(descriptorOf("application/vnd.oci.empty.v1+json", empty),
                   {descriptorOf("application/octet-stream", sig)},
                   ",\"artifactType\":\"application/vnd.example.sig\"" + subject);
  r = putManifest(s, "app", digestOf(artifact), artifact, kOciManifestType);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("oci-subject"), digestOf(image));

  r = http("GET", s.url() + "/v2/app/referrers/" + digestOf(image));
  EXPECT_NE(r.body.find(digestOf(artifact)), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("application/vnd.example.sig"), std::string::npos);
  EXPECT_FALSE(r.has("oci-filters-applied"));
  r = http("GET", s.url() + "/v2/app/referrers/" + digestOf(image) +
                      "?artifactType=application/vnd.example.sig");
  EXPECT_NE(r.body.find(digestOf(artifact)), std::string::npos);
  EXPECT_EQ(r.header("oci-filters-applied"), "artifactType");
  r = http("GET", s.url() + "/v2/app/referrers/" + digestOf(image) + "?artifactType=text/other");
  EXPECT_EQ(r.body.find(digestOf(artifact)), std::string::npos);
  EXPECT_EQ(r.header("oci-filters-applied"), "artifactType");
  r = http("GET", s.url() + "/v2/app/referrers/notadigest");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "DIGEST_INVALID");
}

TEST_F(ServerTest, DeletesAreRefusedUnlessEnabled) {
  TempDir root;
  std::string config = "{}", layer = "layer";
  std::string manifest = ociManifest(config, {layer});
  {
    RegfsServerOptions off;
    off.deleteEnabled = false;
    RegfsServer s(root.path(), off);
    ASSERT_EQ(push(s, "r", config).status, 201);
    ASSERT_EQ(push(s, "r", layer).status, 201);
    ASSERT_EQ(putManifest(s, "r", "t", manifest, kOciManifestType).status, 201);
    ASSERT_EQ(putManifest(s, "r", "u", manifest, kOciManifestType).status, 201);
    Reply r = http("DELETE", s.url() + "/v2/r/blobs/" + digestOf(layer));
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.code(), "UNSUPPORTED");
    r = http("DELETE", s.url() + "/v2/r/manifests/" + digestOf(manifest));
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.code(), "UNSUPPORTED");
  }
  RegfsServer s(root.path());
  Reply r = http("DELETE", s.url() + "/v2/r/manifests/t");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(
      http("GET", s.url() + "/v2/r/manifests/t", {"-H", "Accept: " + kOciManifestType}).status,
      404);
  EXPECT_EQ(
      http("GET", s.url() + "/v2/r/manifests/u", {"-H", "Accept: " + kOciManifestType}).status, 200)
      << "deleting a tag leaves the manifest and other tags";
  r = http("DELETE", s.url() + "/v2/r/manifests/" + digestOf(manifest));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(
      http("GET", s.url() + "/v2/r/manifests/u", {"-H", "Accept: " + kOciManifestType}).status,
      404);
  r = http("DELETE", s.url() + "/v2/r/manifests/" + digestOf(manifest));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "MANIFEST_UNKNOWN");
  r = http("DELETE", s.url() + "/v2/r/blobs/" + digestOf(layer));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(http("GET", s.url() + "/v2/r/blobs/" + digestOf(layer)).status, 404);
  r = http("DELETE", s.url() + "/v2/r/blobs/" + digestOf(layer));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "BLOB_UNKNOWN");
}

TEST_F(ServerTest, ReadOnlyModeRefusesWritesAndServesReads) {
  TempDir root;
  {
    RegfsServer s(root.path());
    ASSERT_EQ(push(s, "r", "blob").status, 201);
  }
  RegfsServerOptions ro;
  ro.readOnly = true;
  RegfsServer s(root.path(), ro);
  EXPECT_EQ(http("GET", s.url() + "/v2/r/blobs/" + digestOf("blob")).body, "blob");
  Reply r = http("POST", s.url() + "/v2/r/blobs/uploads/");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.code(), "UNSUPPORTED");
  r = push(s, "r", "other");
  EXPECT_EQ(r.status, 405);
  r = putManifest(s, "r", "t", "{}", kOciManifestType);
  EXPECT_EQ(r.status, 405);
  r = http("DELETE", s.url() + "/v2/r/blobs/" + digestOf("blob"));
  EXPECT_EQ(r.status, 405);
}

TEST_F(ServerTest, KeepAliveAndPipelining) {
  RegfsServer s;
  ASSERT_EQ(push(s, "k", "keep").status, 201);
  // curl reuses the connection for several URLs when the server keeps it open.
  CommandResult c =
      curl({"-v", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", s.url() + "/v2/",
            s.url() + "/v2/k/blobs/" + digestOf("keep"), s.url() + "/v2/_catalog"});
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_NE(c.err.find("Re-using existing connection"), std::string::npos) << c.err;
  EXPECT_EQ(c.err.find("Connection: close"), std::string::npos);

  // Three requests in one packet, a blob in the middle: three answers, in order.
  std::string req = "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/k/blobs/" + digestOf("keep") +
                    " HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/_catalog HTTP/1.1\r\nHost: "
                    "x\r\nConnection: close\r\n\r\n";
  std::string out = rawExchange(s.port(), req);
  size_t first = out.find("HTTP/1.1 200");
  size_t blob = out.find("\r\n\r\nkeep");
  size_t third = out.find("{\"repositories\":[");
  EXPECT_NE(first, std::string::npos) << out;
  EXPECT_NE(blob, std::string::npos) << out;
  EXPECT_NE(third, std::string::npos) << out;
  EXPECT_LT(blob, third);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);

  // HTTP/1.0 without keep-alive is closed after the answer.
  out = rawExchange(s.port(), "GET /v2/ HTTP/1.0\r\n\r\n");
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  // A malformed request gets a 400 and the connection closes.
  out = rawExchange(s.port(), "NOT HTTP\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 400"), std::string::npos) << out;
}

// A client that reads slowly makes the server find the socket full many times during a
// download: every byte still arrives once and in order, and the next pipelined request on
// the connection is answered after the body.
TEST_F(ServerTest, SlowReadersGetEveryByteAndTheNextAnswer) {
  RegfsServer s;
  std::string blob = randomBytes((5 << 20) + 777, 21);
  ASSERT_EQ(push(s, "slow", blob).status, 201);
  std::string req = "GET /v2/slow/blobs/" + digestOf(blob) +
                    " HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-\r\n\r\n"
                    "GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string out = rawExchange(s.port(), req, 60000, 32 << 10, 500);
  ASSERT_EQ(out.rfind("HTTP/1.1 206", 0), 0u) << out.substr(0, 200);
  size_t body = out.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  body += 4;
  ASSERT_GE(out.size(), body + blob.size() - 1000) << "short body";
  EXPECT_TRUE(out.compare(body, blob.size() - 1000, blob, 1000) == 0)
      << "the body differs from the blob";
  std::string after = out.substr(body + blob.size() - 1000);
  EXPECT_EQ(after.rfind("HTTP/1.1 200", 0), 0u) << after.substr(0, 200);
}

TEST_F(ServerTest, TwoServersOnOneRootServeOneChunkedUpload) {
  TempDir root;
  RegfsServer a(root.path()), b(root.path());
  std::string blob = randomBytes(90000, 5);
  Reply r = http("POST", a.url() + "/v2/shared/blobs/uploads/");
  ASSERT_EQ(r.status, 202);
  std::string location = r.header("location");
  r = http("PATCH", a.url() + location,
           {"--data-binary", "@" + file(blob.substr(0, 30000)).string(), "-H",
            "Content-Range: 0-29999"});
  ASSERT_EQ(r.status, 202);
  r = http("GET", b.url() + location);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("range"), "0-29999");
  r = http("PATCH", b.url() + location,
           {"--data-binary", "@" + file(blob.substr(30000, 30000)).string(), "-H",
            "Content-Range: 30000-59999"});
  ASSERT_EQ(r.status, 202);
  r = http("PATCH", a.url() + location,
           {"--data-binary", "@" + file(blob.substr(60000, 10000)).string(), "-H",
            "Content-Range: 60000-69999"});
  ASSERT_EQ(r.status, 202);
  r = http("PUT", a.url() + location + "?digest=" + digestOf(blob),
           {"--data-binary", "@" + file(blob.substr(70000)).string()});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(http("GET", b.url() + "/v2/shared/blobs/" + digestOf(blob)).body == blob);
}

TEST_F(ServerTest, ConcurrentPushesOfTheSameContentAllSucceed) {
  RegfsServer s;
  std::string config = "{}", layer = randomBytes(100000, 6);
  std::string manifest = ociManifest(config, {layer});
  auto layerFile = file(layer), configFile = file(config), manifestFile = file(manifest);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto a = curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary",
                     "@" + configFile.string(),
                     s.url() + "/v2/c/blobs/uploads/?digest=" + digestOf(config)});
      auto b = curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary",
                     "@" + layerFile.string(),
                     s.url() + "/v2/c/blobs/uploads/?digest=" + digestOf(layer)});
      auto m = curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
                     "Content-Type: " + kOciManifestType, "--data-binary",
                     "@" + manifestFile.string(), s.url() + "/v2/c/manifests/latest"});
      if (a.out == "201" && b.out == "201" && m.out == "201") ok++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  Reply r = http("GET", s.url() + "/v2/c/manifests/latest", {"-H", "Accept: " + kOciManifestType});
  EXPECT_EQ(r.body, manifest);
  EXPECT_TRUE(http("GET", s.url() + "/v2/c/blobs/" + digestOf(layer)).body == layer);
}

int openFds(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    n++;
  return n;
}

// An upload of a blob the store already holds frees its own copy after the answer: every
// one is answered with its session already gone, the stored blob stays whole, and no
// descriptor (the session's data, unlinked but still open at the answer) is left behind.
TEST_F(ServerTest, UploadsOfABlobTheStoreHoldsAreAnsweredAndLeaveNoDescriptors) {
  RegfsServer s;
  std::string blob = randomBytes((3 << 20) + 5, 13);
  ASSERT_EQ(push(s, "first", blob).status, 201);
  int before = openFds(s.pid());
  for (int i = 0; i < 10; ++i) {
    std::string repo = "again" + std::to_string(i);
    Reply r = push(s, repo, blob);
    ASSERT_EQ(r.status, 201) << r.body;
    auto uploads = s.root() / "docker/registry/v2/repositories" / repo / "_uploads";
    EXPECT_TRUE(!std::filesystem::exists(uploads) || std::filesystem::is_empty(uploads))
        << "the session of " << repo << " outlived its 201";
  }
  waitUntil([&] { return openFds(s.pid()) <= before; }, std::chrono::seconds(5),
            std::chrono::milliseconds(50));
  EXPECT_LE(openFds(s.pid()), before) << "the sinks of answered uploads were never dropped";
  Reply r = http("GET", s.url() + "/v2/again9/blobs/" + digestOf(blob));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == blob);
}

TEST_F(ServerTest, LargeUploadsStreamAndAbortedDownloadsLeakNothing) {
  RegfsServer s;
  std::string big = randomBytes(96 << 20, 7);
  auto path = file(big);
  Reply r = http("POST", s.url() + "/v2/big/blobs/uploads/");
  std::string location = r.header("location");
  r = http("PATCH", s.url() + location,
           {"--data-binary", "@" + path.string(), "-H", "Transfer-Encoding: chunked"});
  ASSERT_EQ(r.status, 202) << r.body;
  r = http("PUT", s.url() + location + "?digest=" + digestOf(big));
  ASSERT_EQ(r.status, 201) << r.body;
  if (!kAddressSanitizer) {
    EXPECT_LT(peakRssKiB(s.pid()), 64u * 1024) << "a 96 MiB body must not sit in memory";
  }

  // Downloads dropped half-way do not leave file descriptors behind.
  std::string get = "GET /v2/big/blobs/" + digestOf(big) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  rawExchange(s.port(), get, 50);  // warm up: the server's own descriptors are open
  int before = openFds(s.pid());
  for (int i = 0; i < 20; ++i) rawExchange(s.port(), get, 20);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LE(openFds(s.pid()), before) << "aborted downloads leak descriptors";
  CommandResult c =
      curl({"-s", "-o", (work / "out").string(), s.url() + "/v2/big/blobs/" + digestOf(big)});
  EXPECT_EQ(c.status, 0);
  EXPECT_EQ(sha256Hex(readFile(work / "out")), sha256Hex(big));
}

TEST_F(ServerTest, SigtermExitsZeroAndBadArgumentsExitNonZero) {
  RegfsServer s;
  EXPECT_EQ(http("GET", s.url() + "/v2/").status, 200);
  EXPECT_EQ(s.stop(), 0) << s.log();
  CommandResult c = run({(binDir() / "regfs-server").string(), "--no-such-flag"});
  EXPECT_NE(c.status, 0);
  EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
  c = run({(binDir() / "regfs-server").string(), (work / "missing.yml").string()});
  EXPECT_NE(c.status, 0);
  EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
}

TEST_F(ServerTest, EnvironmentOverridesTheConfigFile) {
  TempDir root;
  int port = freePort();
  RegfsServerOptions options;
  options.deleteEnabled = false;
  options.env = {{"REGISTRY_STORAGE_DELETE_ENABLED", "true"}};
  RegfsServer s(root.path(), options);
  ASSERT_EQ(push(s, "e", "x").status, 201);
  EXPECT_EQ(http("DELETE", s.url() + "/v2/e/blobs/" + digestOf("x")).status, 202);
  (void)port;
}

}  // namespace
}  // namespace regfs::testing
