// The web UI's JSON endpoints (docs/api.md "The web UI's endpoints") on a real regfs-server:
// images pushed over HTTP as a client pushes them (a config with history, empty layers and
// labels; a multi-platform index; a referrer with an artifactType), tags whose push dates are
// set on their links, and the answers read back as JSON. A user browses a repository of
// 10,000 tags newest first, finds what is untagged, and a page of another site cannot make
// the user's browser delete anything.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "common/store/layout.h"
#include "common/store/store.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/poll.h"
#include "support/server.h"
#include "support/store_builder.h"
#include "support/tls.h"

namespace regfs::testing {
namespace {

const std::string kHostile = "</script><script>alert(\"x\")</script>\\\u2028&<img src=x>";

// A config with labels, run settings and a history whose second entry made no layer.
std::string configWithHistory() {
  return R"({"architecture":"amd64","os":"linux","created":"2026-12-01T00:00:00Z",)"
         R"("config":{"User":"app","WorkingDir":"/srv","Entrypoint":["/bin/sh"],"Cmd":["-c","run"],)"
         R"("Env":["PATH=/usr/bin"],"ExposedPorts":{"8080/tcp":{}},"Volumes":{"/data":{}},)"
         R"("Labels":{"maintainer":"team","evil":"</script><script>alert(\"x\")</script>\\\u2028&<img src=x>"}},)"
         R"("history":[{"created":"2026-11-30T00:00:00Z","created_by":"ADD base /"},)"
         R"({"created_by":"ENV PATH=/usr/bin","empty_layer":true},)"
         R"({"created_by":"COPY app /srv","comment":"<b>hi</b>"}]})";
}

rapidjson::Document json(const Reply& r) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  EXPECT_FALSE(doc.HasParseError()) << r.status << " " << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8") << r.body;
  return doc;
}

std::string str(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

class UiApiTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::unique_ptr<RegfsServer> server;
  std::unique_ptr<HttpConnection> conn;

  void start(RegfsServerOptions options = {}) {
    server = std::make_unique<RegfsServer>(dir / "store", std::move(options));
    conn = std::make_unique<HttpConnection>(server->port());
  }
  Reply get(const std::string& target, std::vector<std::string> args = {}) {
    return http("GET", server->url() + target, std::move(args));
  }
  void push(const std::string& repo, const std::string& ref, const ImageBytes& image) {
    auto r = pushImage(*conn, repo, ref, image);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
  }
  void putIndex(const std::string& repo, const std::string& ref, const std::string& index) {
    auto r = putManifest(*conn, repo, ref, index, kOciIndexType);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
  }
  // Sets the mtime of a link file of the store (a tag's push date, a revision's).
  void setMtime(const std::string& driverPath, time_t t) {
    timespec times[2] = {{t, 0}, {t, 0}};
    std::string path = (dir / "store").string() + driverPath;
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
  }
  void pushedAt(const std::string& repo, const std::string& tag, time_t t) {
    setMtime(layout::tagCurrentLink(RepoName::parse(repo), Tag::parse(tag)), t);
  }
};

TEST_F(UiApiTest, TheImagePageHasConfigHistoryLayersReferrersAndTags) {
  start();
  ImageBytes image{configWithHistory(), {"base-layer", "app-layer"}, {}};
  image.manifest = ociManifest(image.config, image.layers);
  push("team/app", "1.0", image);
  push("team/app", "latest", image);
  std::string sbom = "{\"spdx\":1}";
  ImageBytes referrer{"{}", {sbom}, {}};
  referrer.manifest = manifestJson(descriptorOf("application/vnd.oci.empty.v1+json", "{}"),
                                   {descriptorOf("application/spdx+json", sbom)},
                                   ",\"artifactType\":\"application/spdx+json\",\"subject\":" +
                                       descriptorOf(kOciManifestType, image.manifest) +
                                       ",\"annotations\":{\"evil\":\"" +
                                       std::string("<img src=x onerror=alert(1)>") + "\"}");
  push("team/app", referrer.digest(), referrer);

  Reply r = get("/v2/team/app/_regfs/image/1.0");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d = json(r);
  EXPECT_EQ(str(d["name"]), "team/app");
  EXPECT_EQ(str(d["reference"]), "1.0");
  EXPECT_EQ(str(d["digest"]), image.digest());
  EXPECT_EQ(str(d["mediaType"]), kOciManifestType);
  EXPECT_EQ(d["size"].GetUint64(), image.manifest.size());
  EXPECT_EQ(str(d["manifest"]), image.manifest) << "the stored bytes, as one string";
  EXPECT_TRUE(d["index"].IsNull());
  const auto& config = d["config"];
  EXPECT_EQ(str(config["digest"]), digestOf(image.config));
  EXPECT_EQ(str(config["created"]), "2026-12-01T00:00:00Z");
  EXPECT_EQ(str(config["user"]), "app");
  EXPECT_EQ(str(config["workingDir"]), "/srv");
  EXPECT_EQ(str(config["entrypoint"][0]), "/bin/sh");
  EXPECT_EQ(config["cmd"].Size(), 2u);
  EXPECT_EQ(str(config["exposedPorts"][0]), "8080/tcp");
  EXPECT_EQ(str(config["volumes"][0]), "/data");
  EXPECT_EQ(str(config["labels"]["evil"]), kHostile) << "returned verbatim";
  ASSERT_EQ(d["layers"].Size(), 2u);
  EXPECT_EQ(d["layers"][1]["index"].GetUint(), 1u);
  EXPECT_EQ(str(d["layers"][1]["digest"]), digestOf("app-layer"));
  EXPECT_EQ(d["layers"][1]["size"].GetUint64(), 9u);
  const auto& history = d["history"];
  ASSERT_EQ(history.Size(), 3u);
  EXPECT_EQ(history[0]["layer"].GetUint(), 0u);
  EXPECT_EQ(history[0]["size"].GetUint64(), 10u);
  EXPECT_TRUE(history[1]["emptyLayer"].GetBool());
  EXPECT_TRUE(history[1]["layer"].IsNull());
  EXPECT_TRUE(history[1]["size"].IsNull());
  EXPECT_TRUE(history[1]["created"].IsNull());
  EXPECT_EQ(history[2]["layer"].GetUint(), 1u) << "the empty entry does not count";
  EXPECT_EQ(str(history[2]["comment"]), "<b>hi</b>");
  ASSERT_EQ(d["referrers"].Size(), 1u);
  EXPECT_EQ(str(d["referrers"][0]["digest"]), referrer.digest());
  EXPECT_EQ(str(d["referrers"][0]["artifactType"]), "application/spdx+json");
  EXPECT_EQ(str(d["referrers"][0]["annotations"]["evil"]), "<img src=x onerror=alert(1)>");
  ASSERT_EQ(d["tags"].Size(), 2u);
  EXPECT_EQ(str(d["tags"][0]), "1.0");
  EXPECT_EQ(str(d["tags"][1]), "latest");

  EXPECT_EQ(get("/v2/team/app/_regfs/image/" + image.digest()).status, 200);
  EXPECT_EQ(get("/v2/team/app/_regfs/image/nope").code(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(get("/v2/team/none/_regfs/image/1.0").code(), "NAME_UNKNOWN");
  EXPECT_EQ(get("/v2/team/app/_regfs/image/sha256:zz").code(), "DIGEST_INVALID");
  EXPECT_EQ(http("POST", server->url() + "/v2/team/app/_regfs/image/1.0").status, 405);
}

TEST_F(UiApiTest, AnIndexListsItsPlatformsAndPlatformShowsOne) {
  start();
  ImageBytes amd{R"({"architecture":"amd64","os":"linux"})", {"amd"}, {}};
  amd.manifest = ociManifest(amd.config, amd.layers);
  ImageBytes arm{R"({"architecture":"arm64","os":"linux","variant":"v8"})", {"arm"}, {}};
  arm.manifest = ociManifest(arm.config, arm.layers);
  push("multi/app", amd.digest(), amd);
  push("multi/app", arm.digest(), arm);
  std::string index = indexJson(
      {descriptor(kOciManifestType, amd.digest(), amd.manifest.size(),
                  ",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}"),
       descriptor(
           kOciManifestType, arm.digest(), arm.manifest.size(),
           ",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}")});
  putIndex("multi/app", "2.0", index);

  rapidjson::Document d = json(get("/v2/multi/app/_regfs/image/2.0"));
  EXPECT_EQ(str(d["digest"]), digestOf(index));
  EXPECT_TRUE(d["config"].IsNull());
  EXPECT_EQ(d["layers"].Size(), 0u);
  ASSERT_EQ(d["index"]["platforms"].Size(), 2u);
  EXPECT_EQ(str(d["index"]["platforms"][1]["platform"]), "linux/arm64/v8");
  EXPECT_EQ(str(d["index"]["platforms"][1]["digest"]), arm.digest());

  d = json(get("/v2/multi/app/_regfs/image/2.0?platform=linux/arm64"));
  EXPECT_EQ(str(d["digest"]), arm.digest());
  EXPECT_EQ(str(d["index"]["digest"]), digestOf(index));
  EXPECT_EQ(str(d["config"]["variant"]), "v8");
  EXPECT_EQ(d["layers"].Size(), 1u);
  EXPECT_EQ(str(d["tags"][0]), "2.0") << "the tags of the reference";
  EXPECT_EQ(get("/v2/multi/app/_regfs/image/2.0?platform=linux/s390x").code(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(get("/v2/multi/app/_regfs/image/2.0?platform=linux").status, 400);

  d = json(get("/v2/multi/app/_regfs/tags"));
  ASSERT_EQ(d["tags"].Size(), 1u);
  EXPECT_EQ(str(d["tags"][0]["mediaType"]), kOciIndexType);
  ASSERT_EQ(d["tags"][0]["platforms"].Size(), 2u);
  EXPECT_EQ(str(d["tags"][0]["platforms"][0]), "linux/amd64");
  EXPECT_EQ(d["tags"][0]["size"].GetUint64(), index.size() + amd.manifest.size() +
                                                  arm.manifest.size() + amd.config.size() +
                                                  arm.config.size() + 3 + 3);
}

TEST_F(UiApiTest, TagsSortAndPageAcrossAllTags) {
  start();
  ImageBytes small = ociImage(R"({"architecture":"amd64","os":"linux"})", {"s"});
  ImageBytes big = ociImage(R"({"architecture":"amd64","os":"linux"})", {std::string(5000, 'b')});
  for (const char* tag : {"b", "c", "d"}) push("team/app", tag, small);
  push("team/app", "a", big);
  pushedAt("team/app", "b", 1000);
  pushedAt("team/app", "a", 3000);
  pushedAt("team/app", "c", 2000);
  pushedAt("team/app", "d", 3000);
  auto tags = [&](const std::string& query) {
    rapidjson::Document d = json(get("/v2/team/app/_regfs/tags" + query));
    std::vector<std::string> out;
    for (const auto& t : d["tags"].GetArray()) out.push_back(str(t["tag"]));
    return out;
  };
  rapidjson::Document d = json(get("/v2/team/app/_regfs/tags?n=3"));
  EXPECT_EQ(str(d["name"]), "team/app");
  EXPECT_EQ(d["total"].GetUint(), 4u);
  EXPECT_EQ(str(d["tags"][0]["pushed"]), "1970-01-01T00:50:00Z");
  EXPECT_EQ(str(d["tags"][0]["digest"]), big.digest());
  EXPECT_EQ(str(d["tags"][0]["platforms"][0]), "linux/amd64");
  EXPECT_EQ(tags("?n=3"), (std::vector<std::string>{"a", "d", "c"}));
  EXPECT_EQ(tags("?n=3&offset=3"), (std::vector<std::string>{"b"}));
  EXPECT_EQ(tags("?order=asc"), (std::vector<std::string>{"b", "c", "a", "d"}));
  EXPECT_EQ(tags("?sort=name"), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(tags("?sort=name&order=desc&n=2"), (std::vector<std::string>{"d", "c"}));
  EXPECT_EQ(tags("?sort=size&n=1"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(tags("?q=c&unknown=1"), (std::vector<std::string>{"c"}));
  EXPECT_EQ(tags("?offset=99"), std::vector<std::string>{});
  EXPECT_EQ(get("/v2/team/app/_regfs/tags?sort=color").status, 400);
  EXPECT_EQ(get("/v2/team/app/_regfs/tags?order=up").status, 400);
  EXPECT_EQ(get("/v2/team/app/_regfs/tags?n=-1").status, 400);
  EXPECT_EQ(get("/v2/team/none/_regfs/tags").code(), "NAME_UNKNOWN");
}

TEST_F(UiApiTest, UntaggedManifestsLeaveOutTaggedIndexChildrenAndReferrers) {
  start();
  ImageBytes child = ociImage(R"({"architecture":"amd64","os":"linux"})", {"child"});
  push("team/app", child.digest(), child);
  std::string index = indexJson({descriptorOf(kOciManifestType, child.manifest)});
  putIndex("team/app", "latest", index);
  ImageBytes sig{"{}", {"sig"}, {}};
  sig.manifest = manifestJson(descriptorOf("application/vnd.oci.empty.v1+json", "{}"),
                              {descriptorOf("application/octet-stream", "sig")},
                              ",\"artifactType\":\"application/vnd.dev.cosign\",\"subject\":" +
                                  descriptorOf(kOciIndexType, index));
  push("team/app", sig.digest(), sig);
  ImageBytes old = ociImage("{}", {"old"});
  ImageBytes older = ociImage("{}", {"older"});
  push("team/app", "old", old);
  push("team/app", "older", older);
  ASSERT_EQ(http("DELETE", server->url() + "/v2/team/app/manifests/old").status, 202);
  ASSERT_EQ(http("DELETE", server->url() + "/v2/team/app/manifests/older").status, 202);
  RepoName repo = RepoName::parse("team/app");
  setMtime(layout::revisionLink(repo, Digest::parse(old.digest())), 2000);
  setMtime(layout::revisionLink(repo, Digest::parse(older.digest())), 1000);

  rapidjson::Document d = json(get("/v2/team/app/_regfs/manifests?untagged=true"));
  const auto& m = d["manifests"];
  ASSERT_EQ(m.Size(), 2u) << get("/v2/team/app/_regfs/manifests?untagged=true").body;
  EXPECT_EQ(str(m[0]["digest"]), old.digest()) << "newest first";
  EXPECT_EQ(str(m[0]["pushed"]), "1970-01-01T00:33:20Z");
  EXPECT_EQ(str(m[0]["mediaType"]), kOciManifestType);
  EXPECT_EQ(m[0]["size"].GetUint64(), old.manifest.size());
  EXPECT_FALSE(m[0].HasMember("artifactType")) << "a plain image";
  EXPECT_EQ(str(m[1]["digest"]), older.digest());

  d = json(get("/v2/team/app/_regfs/manifests"));
  ASSERT_EQ(d["manifests"].Size(), 5u);
  bool sawReferrer = false;
  for (const auto& row : d["manifests"].GetArray()) {
    if (str(row["digest"]) != sig.digest()) continue;
    sawReferrer = true;
    EXPECT_EQ(str(row["artifactType"]), "application/vnd.dev.cosign");
    EXPECT_EQ(str(row["subject"]), digestOf(index));
  }
  EXPECT_TRUE(sawReferrer);
  EXPECT_EQ(get("/v2/team/app/_regfs/manifests?untagged=maybe").status, 400);
}

TEST_F(UiApiTest, TheCatalogSummarizesEachRepositoryAndPages) {
  start();
  ImageBytes one = ociImage(R"({"architecture":"amd64","os":"linux"})", {"shared", "one"});
  ImageBytes two = ociImage(R"({"architecture":"amd64","os":"linux","x":1})", {"shared", "two"});
  push("a/app", "1", one);
  push("a/app", "2", two);
  pushedAt("a/app", "1", 1000);
  pushedAt("a/app", "2", 2000);
  push("b/tool", one.digest(), one);
  push("c/app", "x", one);

  rapidjson::Document d = json(get("/v2/_regfs/catalog"));
  EXPECT_EQ(d["total"].GetUint(), 3u);
  const auto& r = d["repositories"];
  ASSERT_EQ(r.Size(), 3u);
  EXPECT_EQ(str(r[0]["name"]), "a/app");
  EXPECT_EQ(r[0]["tags"].GetUint(), 2u);
  EXPECT_EQ(r[0]["manifests"].GetUint(), 2u);
  EXPECT_EQ(r[0]["size"].GetUint64(), one.manifest.size() + two.manifest.size() +
                                          one.config.size() + two.config.size() + 6 + 3 + 3)
      << "the shared layer counts once";
  EXPECT_EQ(str(r[0]["pushed"]), "1970-01-01T00:33:20Z");
  EXPECT_EQ(r[1]["tags"].GetUint(), 0u);
  EXPECT_TRUE(r[1]["pushed"].IsNull());

  Reply page = get("/v2/_regfs/catalog?n=1&q=app");
  d = json(page);
  EXPECT_EQ(d["total"].GetUint(), 2u);
  ASSERT_EQ(d["repositories"].Size(), 1u);
  EXPECT_EQ(str(d["repositories"][0]["name"]), "a/app");
  EXPECT_EQ(page.header("link"), "</v2/_regfs/catalog?last=a%2Fapp&n=1&q=app>; rel=\"next\"");
  d = json(get("/v2/_regfs/catalog?n=1&q=app&last=a%2Fapp"));
  ASSERT_EQ(d["repositories"].Size(), 1u);
  EXPECT_EQ(str(d["repositories"][0]["name"]), "c/app");
  EXPECT_EQ(get("/v2/_regfs/catalog?n=x").status, 400);
}

TEST_F(UiApiTest, TheCatalogFollowsPushesAndDeletesThroughTheServer) {
  start();
  ImageBytes one = ociImage(R"({"architecture":"amd64","os":"linux"})", {"one"});
  ImageBytes two = ociImage(R"({"architecture":"amd64","os":"linux","x":1})", {"two"});
  push("a/app", "1", one);
  rapidjson::Document d = json(get("/v2/_regfs/catalog"));
  ASSERT_EQ(d["total"].GetUint(), 1u);
  EXPECT_EQ(json(get("/v2/_regfs/storage"))["repositories"].GetUint(), 1u);

  // The server keeps the summaries it read; what is pushed and deleted through it shows in
  // the next answer.
  push("a/app", "2", two);
  push("b/new", "x", one);
  ASSERT_EQ(http("DELETE", server->url() + "/v2/a/app/manifests/1").status, 202);
  d = json(get("/v2/_regfs/catalog"));
  ASSERT_EQ(d["total"].GetUint(), 2u);
  EXPECT_EQ(str(d["repositories"][0]["name"]), "a/app");
  EXPECT_EQ(d["repositories"][0]["tags"].GetUint(), 1u);
  EXPECT_EQ(d["repositories"][0]["manifests"].GetUint(), 2u);
  EXPECT_EQ(str(d["repositories"][1]["name"]), "b/new");
  // The store's space is read again in the background: an answer after that has the push.
  EXPECT_TRUE(
      waitUntil([&] { return json(get("/v2/_regfs/storage"))["repositories"].GetUint() == 2u; }));
}

TEST_F(UiApiTest, AnotherProcesssPushShowsOnceTheSummariesAreOlderThanTheRefresh) {
  start({.extraConfig = "regfs:\n  ui:\n    refresh: 1s\n"});
  ImageBytes one = ociImage(R"({"architecture":"amd64","os":"linux"})", {"one"});
  push("a/app", "1", one);
  ASSERT_EQ(json(get("/v2/_regfs/catalog"))["total"].GetUint(), 1u);
  // Another process on the same store (regfsctl, a second server).
  Store other = Store::openLocal(dir / "store");
  Repository repo = other.repository(RepoName::parse("b/behind"));
  pushImage(other, repo, {"layer"});
  EXPECT_TRUE(waitUntil([&] { return json(get("/v2/_regfs/catalog"))["total"].GetUint() == 2u; },
                        std::chrono::seconds(15), std::chrono::milliseconds(200)));
}

TEST_F(UiApiTest, StorageCountsBlobsReferencesSavingsAndUploads) {
  start();
  ImageBytes one = ociImage(R"({"architecture":"amd64","os":"linux"})", {std::string(1000, 's')});
  push("a/app", "1", one);
  push("b/app", "1", one);
  Reply started = http("POST", server->url() + "/v2/c/new/blobs/uploads/");
  ASSERT_EQ(started.status, 202) << started.body;

  rapidjson::Document d = json(get("/v2/_regfs/storage"));
  uint64_t image = one.manifest.size() + one.config.size() + 1000;
  EXPECT_EQ(d["blobs"].GetUint(), 3u);
  EXPECT_EQ(d["bytes"].GetUint64(), image);
  EXPECT_EQ(d["referencedBytes"].GetUint64(), 2 * image);
  EXPECT_EQ(d["dedupeSavings"].GetUint64(), image);
  EXPECT_EQ(d["repositories"].GetUint(), 2u) << "as the catalog counts them: c/new has no manifest";
  ASSERT_EQ(d["biggest"].Size(), 2u);
  EXPECT_EQ(d["biggest"][0]["size"].GetUint64(), image);
  ASSERT_EQ(d["uploads"].Size(), 1u);
  EXPECT_EQ(str(d["uploads"][0]["name"]), "c/new");
  EXPECT_EQ(d["uploads"][0]["size"].GetUint64(), 0u);
  EXPECT_FALSE(str(d["uploads"][0]["startedAt"]).empty());
}

TEST_F(UiApiTest, TenThousandTagsAnswerTheirNewestPage) {
  Store store = Store::openLocal(dir / "store");
  Repository repo = store.repository(RepoName::parse("big/repo"));
  BuiltImage image = pushImage(store, repo, {"layer"});
  for (int i = 0; i < 10000; ++i) {
    std::string tag = "t" + std::to_string(i);
    // The links as putTag writes them, without its fsyncs (ten thousand of them are slow).
    for (const std::string& link :
         {layout::tagCurrentLink(repo.name(), Tag::parse(tag)),
          layout::tagIndexLink(repo.name(), Tag::parse(tag), image.manifest)})
      writeFile((dir / "store").string() + link, image.manifest.str());
    // Pushed in a scrambled order, so that name order is not push order.
    pushedAt("big/repo", tag, 1'000'000 + (i * 7919) % 10000);
  }
  start();
  rapidjson::Document d = json(get("/v2/big/repo/_regfs/tags?n=50"));
  EXPECT_EQ(d["total"].GetUint(), 10000u);
  ASSERT_EQ(d["tags"].Size(), 50u);
  for (unsigned k = 0; k < 50; ++k) {
    int expected = 0;  // the tag pushed at 1'000'000 + 9999 - k
    while ((expected * 7919) % 10000 != static_cast<int>(9999 - k)) ++expected;
    EXPECT_EQ(str(d["tags"][k]["tag"]), "t" + std::to_string(expected)) << k;
  }
  d = json(get("/v2/_regfs/catalog"));
  EXPECT_EQ(d["repositories"][0]["tags"].GetUint(), 10000u);
}

TEST_F(UiApiTest, HtpasswdAsksForCredentialsAndWhoamiNamesTheUser) {
  start(htpasswdAuth(dir.path(), "alice", "secret"));
  for (const char* target :
       {"/v2/_regfs/catalog", "/v2/_regfs/storage", "/v2/_regfs/whoami", "/v2/a/_regfs/tags",
        "/v2/a/_regfs/manifests", "/v2/a/_regfs/image/latest"}) {
    Reply r = get(target);
    EXPECT_EQ(r.status, 401) << target;
    EXPECT_EQ(r.code(), "UNAUTHORIZED") << target;
  }
  EXPECT_EQ(get("/v2/_regfs/catalog", {"-u", "alice:wrong"}).status, 401);
  rapidjson::Document d = json(get("/v2/_regfs/whoami", {"-u", "alice:secret"}));
  EXPECT_EQ(str(d["user"]), "alice");
  EXPECT_TRUE(d["deleteEnabled"].GetBool());
  EXPECT_TRUE(d["canDelete"].GetBool());
  EXPECT_FALSE(str(d["version"]).empty());
  EXPECT_EQ(get("/v2/_regfs/catalog", {"-u", "alice:secret"}).status, 200);
}

TEST_F(UiApiTest, WhoamiWithoutAuthHasNoUser) {
  RegfsServerOptions o;
  o.deleteEnabled = false;
  start(o);
  rapidjson::Document d = json(get("/v2/_regfs/whoami"));
  EXPECT_TRUE(d["user"].IsNull());
  EXPECT_FALSE(d["deleteEnabled"].GetBool());
  EXPECT_FALSE(d["canDelete"].GetBool());
}

TEST_F(UiApiTest, TokenAuthNeedsPullOnTheRepositoryAndCatalogForTheCatalog) {
  TokenServer tokens("regfs-test-issuer", "regfs-test");
  RegfsServerOptions o;
  o.extraConfig = tokens.registryConfig();
  start(o);
  // puller gets pull only; pusher every action it asks for.
  auto token = [&](const std::string& scope, const std::string& user = "puller:pull-secret") {
    CommandResult c =
        curl({"-s", "-u", user, tokens.realm() + "?service=regfs-test&scope=" + scope});
    size_t at = c.out.find("\"token\": \"");
    if (at == std::string::npos) ADD_FAILURE() << c.out << c.err << tokens.log();
    at += 10;
    return "Authorization: Bearer " + c.out.substr(at, c.out.find('"', at) - at);
  };
  Reply anon = get("/v2/some/repo/_regfs/tags");
  EXPECT_EQ(anon.status, 401);
  EXPECT_NE(anon.header("www-authenticate").find("scope=\"repository:some/repo:pull\""),
            std::string::npos)
      << anon.header("www-authenticate");
  std::string pull = token("repository:some/repo:pull");
  Reply allowed = get("/v2/some/repo/_regfs/tags", {"-H", pull});
  EXPECT_EQ(allowed.code(), "NAME_UNKNOWN") << "allowed; the repository does not exist";
  EXPECT_EQ(get("/v2/other/repo/_regfs/tags", {"-H", pull}).status, 401);
  EXPECT_EQ(get("/v2/_regfs/catalog", {"-H", pull}).status, 401);
  EXPECT_EQ(get("/v2/_regfs/catalog", {"-H", token("registry:catalog:*")}).status, 401)
      << "pull is not catalog access";
  Reply catalog =
      get("/v2/_regfs/catalog", {"-H", token("registry:catalog:*", "pusher:push-secret")});
  EXPECT_EQ(catalog.status, 200) << catalog.body;
}

// With token auth, deletes are per repository: the answers the UI's repository and image pages
// read say whether the request's token grants delete there, so the UI offers deletes only then.
TEST_F(UiApiTest, WithTokensTheRepositoryAnswersSayWhetherTheTokenMayDelete) {
  TokenServer tokens("regfs-test-issuer", "regfs-test");
  {
    Store store = Store::openLocal(dir / "store");
    Repository repo = store.repository(RepoName::parse("team/app"));
    BuiltImage image = pushImage(store, repo, {"layer"});
    repo.putTag(Tag::parse("1.0"), image.manifest);
  }
  RegfsServerOptions o;
  o.extraConfig = tokens.registryConfig();
  start(o);
  auto bearer = [&](const std::string& user, const std::string& scope) {
    return "Authorization: Bearer " + tokens.token(user, scope);
  };
  const std::string asked = "repository:team/app:pull,delete";  // what the UI asks for
  for (const char* target : {"/v2/team/app/_regfs/tags", "/v2/team/app/_regfs/manifests",
                             "/v2/team/app/_regfs/image/1.0"}) {
    Reply viewer = get(target, {"-H", bearer("viewer:view-secret", asked)});
    ASSERT_EQ(viewer.status, 200) << target << viewer.body;
    EXPECT_FALSE(json(viewer)["canDelete"].GetBool()) << target << ": viewer got pull only";
    Reply pusher = get(target, {"-H", bearer("pusher:push-secret", asked)});
    ASSERT_EQ(pusher.status, 200) << target << pusher.body;
    EXPECT_TRUE(json(pusher)["canDelete"].GetBool()) << target;
    Reply pullOnly = get(target, {"-H", bearer("pusher:push-secret", "repository:team/app:pull")});
    EXPECT_FALSE(json(pullOnly)["canDelete"].GetBool()) << target << ": the token it came with";
  }
  Reply refused = http("DELETE", server->url() + "/v2/team/app/manifests/1.0",
                       {"-H", bearer("viewer:view-secret", asked)});
  EXPECT_EQ(refused.status, 401);
  EXPECT_NE(refused.header("www-authenticate").find("error=\"insufficient_scope\""),
            std::string::npos)
      << refused.header("www-authenticate");
  EXPECT_EQ(
      get("/v2/team/app/_regfs/image/1.0", {"-H", bearer("viewer:view-secret", asked)}).status, 200)
      << "the tag is still there";
}

TEST_F(UiApiTest, ADeleteFromAnotherOriginIsDenied) {
  start();
  ImageBytes image = ociImage("{}", {"l"});
  for (const char* tag : {"a", "b", "c", "d", "e"}) push("team/app", tag, image);
  std::string url = server->url() + "/v2/team/app/manifests/";
  Reply r = http("DELETE", url + "a", {"-H", "Origin: https://evil.example"});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.code(), "DENIED");
  EXPECT_EQ(http("DELETE", url + "a", {"-H", "Origin: null"}).status, 403);
  EXPECT_EQ(http("DELETE", url + "a", {"-H", "Sec-Fetch-Site: cross-site"}).status, 403);
  EXPECT_EQ(http("DELETE", url + image.digest(), {"-H", "Origin: http://127.0.0.1:1"}).status, 403);
  EXPECT_EQ(http("DELETE", server->url() + "/v2/team/app/blobs/" + digestOf("l"),
                 {"-H", "Origin: https://evil.example"})
                .status,
            403);
  EXPECT_EQ(get("/v2/team/app/manifests/a", {"-H", "Accept: " + kOciManifestType}).status, 200)
      << "nothing was deleted";

  EXPECT_EQ(http("DELETE", url + "a", {"-H", "Origin: " + server->url()}).status, 202)
      << "the registry's own pages";
  EXPECT_EQ(http("DELETE", url + "b", {"-H", "Sec-Fetch-Site: same-origin"}).status, 202);
  EXPECT_EQ(http("DELETE", url + "c").status, 202) << "clients without Origin";
}

}  // namespace
}  // namespace regfs::testing
