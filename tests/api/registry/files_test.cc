// Files inside images over HTTP (GET/HEAD /v2/<name>/_regfs/files/<reference>/<path>): a
// real regfs-server over a store built with common/, driven with curl. A script fetches
// /etc/os-release of an image by tag, the web UI lists directories page by page, and nothing
// in the URL reaches outside the image or renders in the registry's origin.

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <string>

#include "api/registry/auth.h"
#include "common/store/store.h"
#include "support/api_request.h"
#include "support/compress.h"
#include "support/image.h"
#include "support/server.h"
#include "support/store_builder.h"
#include "support/tar_writer.h"

namespace regfs::testing {
namespace {

const std::string kOsRelease = "ID=regfs\nVERSION_ID=1\n";
const std::string kHtml = "<html><script>alert(1)</script></html>";

std::string bigFile() {
  std::string s(3 * (1 << 20) + 12345, '\0');
  uint32_t x = 7;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Two layers: the base (a plain tar), and one (gzip'd, as most are) that adds, replaces and
// whites out.
std::vector<std::string> imageLayers() {
  TarWriter base;
  base.dir("etc/")
      .file("etc/os-release", kOsRelease)
      .file("etc/gone", "x")
      .dir("usr/")
      .dir("usr/lib/")
      .file("usr/lib/libc.so", "ELF")
      .symlink("lib", "usr/lib")
      .file("www/index.html", kHtml)
      .file("www/caf\xc3\xa9.html", "cafe")
      .file("www/\xff.bin", "ff")
      .file("www/a\"b\r\nX-Evil: 1.txt", "evil")
      .end();
  TarWriter top;
  top.file("etc/.wh.gone", "")
      .file("etc/hostname", "box\n", 0600)
      .file("big.bin", bigFile())
      .fifo("run.fifo")
      .end();
  return {base.bytes(), testing::gzipBytes(top.bytes())};
}

class FilesTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir / "store");
  Repository repo = store.repository(RepoName::parse("team/app"));
  BuiltImage image = pushImage(store, repo, imageLayers());
  std::unique_ptr<RegfsServer> server;

  void SetUp() override { repo.putTag(Tag::parse("latest"), image.manifest); }
  void start(RegfsServerOptions options = {}) {
    server = std::make_unique<RegfsServer>(dir / "store", std::move(options));
  }
  // A GET, asked again while the server indexes the image's layers (INDEX_PENDING).
  Reply get(const std::string& path, std::vector<std::string> args = {}) {
    args.push_back("--path-as-is");
    return getFiles(server->url() + path, std::move(args));
  }
};

// A store written by another registry has no layer indexes: the first request for the files
// inside an image answers 503 INDEX_PENDING with Retry-After at once, while a thread of the
// server indexes the layers, and the answers that follow are the files. No request waits on
// a build.
TEST_F(FilesTest, AnImageNotIndexedYetAnswersIndexPendingUntilItIs) {
  start();
  Reply r = http("GET", server->url() + "/v2/team/app/_regfs/files/latest/etc/os-release");
  ASSERT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.code(), "INDEX_PENDING");
  EXPECT_EQ(r.header("retry-after"), "1");
  r = get("/v2/team/app/_regfs/files/latest/etc/os-release");
  ASSERT_EQ(r.status, 200) << r.body << server->log();
  EXPECT_EQ(r.body, kOsRelease);
  EXPECT_NE(server->log().find("for a request"), std::string::npos) << server->log();
  // A layer that cannot be indexed (its blob is gone) is not waited for again and again: once
  // its build failed, the request says why.
  Repository other = store.repository(RepoName::parse("team/broken"));
  BuiltImage broken =
      pushImage(store, other, {testing::gzipBytes(TarWriter().file("a", "a").end().bytes())});
  const std::string hex = broken.layers[0].hex();
  std::filesystem::remove_all(dir / "store/docker/registry/v2/blobs/sha256" / hex.substr(0, 2) /
                              hex);
  r = get("/v2/team/broken/_regfs/files/" + broken.manifest.str() + "/a");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.code(), "BLOB_UNKNOWN") << r.body;
}

TEST_F(FilesTest, AFileByTagIsItsBytesAsAnAttachment) {
  start();
  Reply r = get("/v2/team/app/_regfs/files/latest/etc/os-release");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, kOsRelease);
  EXPECT_EQ(r.header("content-type"), "application/octet-stream");
  EXPECT_EQ(r.header("content-disposition"), "attachment; filename=\"os-release\"");
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r.header("content-length"), std::to_string(kOsRelease.size()));
  // By digest too, and from the top layer.
  r = get("/v2/team/app/_regfs/files/" + image.manifest.str() + "/etc/hostname");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "box\n");
}

TEST_F(FilesTest, AnHtmlFileNeverRendersInTheRegistrysOrigin) {
  start();
  Reply r = get("/v2/team/app/_regfs/files/latest/www/index.html");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kHtml);
  EXPECT_EQ(r.header("content-type"), "application/octet-stream");
  EXPECT_EQ(r.header("content-disposition").rfind("attachment;", 0), 0u);
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_NE(r.header("content-security-policy").find("sandbox"), std::string::npos);
}

TEST_F(FilesTest, NamesAreBytesAndNeverHeaders) {
  start();
  Reply r = get("/v2/team/app/_regfs/files/latest/www/caf%C3%A9.html");
  EXPECT_EQ(r.body, "cafe");
  EXPECT_EQ(r.header("content-disposition"),
            "attachment; filename=\"caf__.html\"; filename*=UTF-8''caf%C3%A9.html");
  r = get("/v2/team/app/_regfs/files/latest/www/a%22b%0D%0AX-Evil:%201.txt");
  EXPECT_EQ(r.body, "evil");
  EXPECT_FALSE(r.has("x-evil"));
  EXPECT_EQ(
      r.header("content-disposition"),
      "attachment; filename=\"a_b__X-Evil: 1.txt\"; filename*=UTF-8''a%22b%0D%0AX-Evil%3A%201.txt");
  EXPECT_EQ(get("/v2/team/app/_regfs/files/latest/www/%FF.bin").body, "ff");
  // JSON holds text: the name that is not UTF-8 reads as U+FFFD there.
  r = get("/v2/team/app/_regfs/files/latest/www");
  EXPECT_NE(r.body.find("\"name\":\"caf\xc3\xa9.html\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"name\":\"\xef\xbf\xbd.bin\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"name\":\"a\\\"b\\r\\nX-Evil: 1.txt\""), std::string::npos) << r.body;
}

TEST_F(FilesTest, LargeFilesStreamWholeAndByRange) {
  start();
  std::string big = bigFile();
  Reply r = get("/v2/team/app/_regfs/files/latest/big.bin");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), big.size());
  EXPECT_TRUE(r.body == big);
  r = get("/v2/team/app/_regfs/files/latest/big.bin", {"-H", "Range: bytes=1048570-2097160"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("content-range"), "bytes 1048570-2097160/" + std::to_string(big.size()));
  EXPECT_TRUE(r.body == big.substr(1048570, 2097160 - 1048570 + 1));
  r = get("/v2/team/app/_regfs/files/latest/big.bin", {"-H", "Range: bytes=-10"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, big.substr(big.size() - 10));
  r = get("/v2/team/app/_regfs/files/latest/etc/os-release", {"-H", "Range: bytes=100-"});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.code(), "RANGE_INVALID");
  EXPECT_EQ(r.header("content-range"), "bytes */" + std::to_string(kOsRelease.size()));
}

TEST_F(FilesTest, HeadSaysWhatGetWouldWithoutTheBody) {
  start();
  ASSERT_EQ(get("/v2/team/app/_regfs/files/latest/").status, 200);  // the layers indexed
  Reply r = http("HEAD", server->url() + "/v2/team/app/_regfs/files/latest/big.bin");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length"), std::to_string(bigFile().size()));
  EXPECT_EQ(r.header("content-type"), "application/octet-stream");
  EXPECT_TRUE(r.body.empty());
  r = http("HEAD", server->url() + "/v2/team/app/_regfs/files/latest/etc");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  r = http("HEAD", server->url() + "/v2/team/app/_regfs/files/latest/nothing");
  EXPECT_EQ(r.status, 404);
}

TEST_F(FilesTest, ADirectoryIsItsSortedEntriesAsJson) {
  start();
  Reply r = get("/v2/team/app/_regfs/files/latest/etc/");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  std::string layer0 = image.layers[0].str(), layer1 = image.layers[1].str();
  EXPECT_EQ(r.body,
            "{\"name\":\"team/app\",\"reference\":\"latest\",\"digest\":\"" + image.manifest.str() +
                "\",\"path\":\"/etc\",\"entry\":{\"name\":\"etc\",\"type\":\"directory\","
                "\"mode\":\"0755\",\"uid\":0,\"gid\":0,\"size\":0,\"mtime\":"
                "\"1970-01-01T00:00:00Z\",\"layer\":\"" +
                layer0 +
                "\"},\"entries\":["
                "{\"name\":\"hostname\",\"type\":\"file\",\"mode\":\"0600\",\"uid\":0,\"gid\":0,"
                "\"size\":4,\"mtime\":\"1970-01-01T00:00:00Z\",\"layer\":\"" +
                layer1 +
                "\"},"
                "{\"name\":\"os-release\",\"type\":\"file\",\"mode\":\"0644\",\"uid\":0,\"gid\":0,"
                "\"size\":" +
                std::to_string(kOsRelease.size()) +
                ",\"mtime\":\"1970-01-01T00:00:00Z\",\"layer\":\"" + layer0 + "\"}]}\n");
  // The root, with the whited-out file gone and every kind of entry named.
  r = get("/v2/team/app/_regfs/files/latest");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"path\":\"/\""), std::string::npos);
  EXPECT_NE(r.body.find("{\"name\":\"run.fifo\",\"type\":\"fifo\""), std::string::npos);
  EXPECT_NE(r.body.find("\"type\":\"symlink\",\"mode\":\"0777\""), std::string::npos) << r.body;
  EXPECT_EQ(get("/v2/team/app/_regfs/files/latest/").body, r.body);
  EXPECT_EQ(get("/v2/team/app/_regfs/files/latest/etc/gone").code(), "FILE_UNKNOWN");
}

TEST_F(FilesTest, LargeDirectoriesComeInPages) {
  start();
  Reply r = get("/v2/team/app/_regfs/files/latest/?n=2");
  ASSERT_EQ(r.status, 200);
  // big.bin, etc | lib, run.fifo | usr, www
  EXPECT_NE(r.body.find("\"name\":\"big.bin\""), std::string::npos);
  EXPECT_NE(r.body.find("\"name\":\"etc\",\"type\""), std::string::npos);
  EXPECT_EQ(r.body.find("\"name\":\"lib\""), std::string::npos);
  EXPECT_EQ(r.header("link"), "</v2/team/app/_regfs/files/latest/?n=2&last=etc>; rel=\"next\"");
  r = get("/v2/team/app/_regfs/files/latest/?n=2&last=etc");
  EXPECT_NE(r.body.find("\"name\":\"lib\""), std::string::npos);
  EXPECT_NE(r.body.find("\"name\":\"run.fifo\""), std::string::npos);
  r = get("/v2/team/app/_regfs/files/latest/?n=2&last=run.fifo");
  EXPECT_NE(r.body.find("\"name\":\"www\""), std::string::npos);
  EXPECT_FALSE(r.has("link"));
  EXPECT_EQ(get("/v2/team/app/_regfs/files/latest/?n=x").status, 400);
}

TEST_F(FilesTest, SymlinksAreAnsweredNotFollowed) {
  start();
  Reply r = get("/v2/team/app/_regfs/files/latest/lib");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_NE(r.body.find("\"entry\":{\"name\":\"lib\",\"type\":\"symlink\""), std::string::npos);
  EXPECT_NE(r.body.find("\"target\":\"usr/lib\""), std::string::npos);
  EXPECT_EQ(r.body.find("\"entries\""), std::string::npos);
  r = get("/v2/team/app/_regfs/files/latest/lib/libc.so");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "FILE_UNKNOWN");
  EXPECT_NE(r.body.find("/lib is a symlink to usr/lib"), std::string::npos) << r.body;
  r = get("/v2/team/app/_regfs/files/latest/etc/hostname/x");
  EXPECT_EQ(r.code(), "FILE_UNKNOWN");
  EXPECT_NE(r.body.find("/etc/hostname is not a directory"), std::string::npos) << r.body;
}

TEST_F(FilesTest, MissingThingsAreNamed) {
  start();
  Reply r = get("/v2/team/app/_regfs/files/latest/etc/passwd");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "FILE_UNKNOWN");
  EXPECT_NE(r.body.find("no /etc/passwd in the image"), std::string::npos);
  r = get("/v2/team/app/_regfs/files/v9/etc/passwd");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "MANIFEST_UNKNOWN");
  r = get("/v2/team/app/_regfs/files/" + Digest::of("x").str() + "/etc");
  EXPECT_EQ(r.code(), "MANIFEST_UNKNOWN");
  r = get("/v2/team/nothing/_regfs/files/latest/etc");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "NAME_UNKNOWN");
  EXPECT_EQ(get("/v2/Team/_regfs/files/latest/etc").code(), "NAME_INVALID");
  EXPECT_EQ(get("/v2/team/app/_regfs/files/sha256:zz/etc").code(), "DIGEST_INVALID");
  EXPECT_EQ(http("DELETE", server->url() + "/v2/team/app/_regfs/files/latest/etc").status, 405);
}

TEST_F(FilesTest, TraversalStaysInsideTheImage) {
  start();
  // "..", "." and "//" are cleaned inside the image: its root is as far as they go.
  for (std::string path : {"/etc/../etc/./os-release", "/../../../etc/os-release",
                           "//etc//os-release", "/%2e%2e/%2E%2E/etc/os-release",
                           "/etc%2fos-release", "/etc/%2e/os-release", "/x/../etc/os-release"}) {
    Reply r = get("/v2/team/app/_regfs/files/latest" + path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, kOsRelease) << path;
  }
  // Nothing before the path can be reached by it, nor a "_regfs" put elsewhere.
  EXPECT_EQ(get("/v2/team/app/_regfs/files/../../app/manifests/latest").status, 404);
  EXPECT_EQ(get("/v2/team/app/_regfs/files/latest/../../../../../_catalog").code(), "FILE_UNKNOWN");
  EXPECT_EQ(get("/v2/team/../app/_regfs/files/latest/etc/os-release").status, 404);
  EXPECT_EQ(get("/v2/_regfs/files/latest/etc/os-release").status, 404);
  EXPECT_EQ(get("/v2/team/app/_regfs/other/latest/etc").status, 404);
  EXPECT_EQ(get("/v2/team/app/_regfs/files/").status, 404);
  EXPECT_EQ(get("/v2/team/app/_regfs/files/latest/etc%00/os-release").status, 404);
}

TEST_F(FilesTest, AnArtifactHasNoRootFileSystem) {
  std::string config = "{\"chart\":1}";
  Digest c = store.putBlob(config);
  repo.linkLayer(c);
  Digest manifest = repo.putManifest(manifestJson(
      descriptor("application/vnd.cncf.helm.config.v1+json", c.str(), config.size()), {}));
  repo.putTag(Tag::parse("chart"), manifest);
  start();
  Reply r = get("/v2/team/app/_regfs/files/chart/");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "ROOTFS_UNKNOWN");
  EXPECT_NE(r.body.find("an artifact (config application/vnd.cncf.helm.config.v1+json)"),
            std::string::npos)
      << r.body;
}

TEST_F(FilesTest, AnIndexNamesItsImageByPlatform) {
  BuiltImage arm =
      pushImage(store, repo, {TarWriter().file("arch", "arm64").end().bytes()}, "arm64");
  auto child = [](const BuiltImage& i, const std::string& platform) {
    return descriptor(kOciManifestType, i.manifest.str(), i.bytes.size(),
                      ",\"platform\":" + platform);
  };
  Digest index = repo.putManifest(
      indexJson({child(image, "{\"os\":\"linux\",\"architecture\":\"amd64\"}"),
                 child(arm, "{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}")}));
  repo.putTag(Tag::parse("multi"), index);
  start();
  Reply r = get("/v2/team/app/_regfs/files/multi/etc/os-release");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "ROOTFS_UNKNOWN");
  EXPECT_NE(r.body.find("linux/amd64, linux/arm64/v8"), std::string::npos) << r.body;
  r = get("/v2/team/app/_regfs/files/multi/etc/os-release?platform=linux/amd64");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kOsRelease);
  EXPECT_EQ(get("/v2/team/app/_regfs/files/multi/arch?platform=linux/arm64").body, "arm64");
  EXPECT_EQ(get("/v2/team/app/_regfs/files/multi/arch?platform=linux/arm64/v8").body, "arm64");
  r = get("/v2/team/app/_regfs/files/multi/?platform=linux/arm64");
  EXPECT_NE(r.body.find("\"digest\":\"" + arm.manifest.str() + "\""), std::string::npos);
  r = get("/v2/team/app/_regfs/files/multi/arch?platform=linux/s390x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "MANIFEST_UNKNOWN");
  EXPECT_NE(r.body.find("no linux/s390x image"), std::string::npos);
  EXPECT_EQ(get("/v2/team/app/_regfs/files/multi/arch?platform=linux").status, 400);
}

TEST_F(FilesTest, AnUnreadableLayerIsNamed) {
  BuiltImage bad = pushImage(store, repo, {imageLayers()[0], std::string(2048, 'z')});
  repo.putTag(Tag::parse("bad"), bad.manifest);
  start();
  Reply r = get("/v2/team/app/_regfs/files/bad/etc/os-release");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.code(), "LAYER_UNREADABLE");
  EXPECT_NE(r.body.find("layer " + bad.layers[1].str() + " cannot be read"), std::string::npos)
      << r.body;
  // The other images of the repository are served all the same.
  EXPECT_EQ(get("/v2/team/app/_regfs/files/latest/etc/os-release").body, kOsRelease);
}

TEST(FilesAccess, NeedsPullOnTheRepository) {
  auto scopes = [](const std::string& method, const std::string& target) {
    return scopeParam(api::requiredAccess(parsedRequest(method, target)));
  };
  EXPECT_EQ(scopes("GET", "/v2/team/app/_regfs/files/latest/etc/os-release"),
            "repository:team/app:pull");
  EXPECT_EQ(scopes("HEAD", "/v2/a/_regfs/files/sha256:00/"), "repository:a:pull");
  EXPECT_EQ(scopes("GET", "/v2/a/_regfs/files/latest/x/blobs/sha256:00"), "repository:a:pull");
}

TEST_F(FilesTest, NeedsCredentialsWhenAuthIsOn) {
  start(htpasswdAuth(dir.path(), "alice", "secret"));
  Reply r = get("/v2/team/app/_regfs/files/latest/etc/os-release");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.code(), "UNAUTHORIZED");
  EXPECT_NE(r.body.find("UNAUTHORIZED"), std::string::npos);
  EXPECT_EQ(get("/v2/team/app/_regfs/files/latest/etc/os-release", {"-u", "alice:wrong"}).status,
            401);
  r = get("/v2/team/app/_regfs/files/latest/etc/os-release", {"-u", "alice:secret"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kOsRelease);
}

}  // namespace
}  // namespace regfs::testing
