// User story: regfs as a pull-through cache, configured the way registry:2 is
// (proxy.remoteurl), in front of an upstream registry holding library/… images. Clients
// pull through the mirror and get the upstream's exact bytes (Docker media types kept), the
// upstream is asked once per blob however many clients pull at once, nothing half-fetched or
// wrong is ever kept, what was fetched is still served when the upstream is gone, and
// proxy.ttl removes it on a live store. An upstream that answers 429 is not asked again before
// its Retry-After has passed. A mirror killed (SIGKILL) in the middle of a fetch
// leaves no partial blob. Several upstreams serve one mirror by name prefix
// (regfs.proxy.upstreams). The upstream is a second regfs-server (behind htpasswd, token
// auth or TLS with a private CA where the test says), Debian's docker-registry, or a small
// fake registry that cuts, corrupts, stalls or rate-limits a blob on purpose
// (tests/support/fake_upstream.py).

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/poll.h"
#include "support/server.h"
#include "support/tls.h"

namespace regfs {
namespace {

namespace fs = std::filesystem;
using namespace regfs::testing;

// A mirror of `upstreamUrl`, with its metrics on a debug listener.
struct Mirror {
  int debugPort = freePort();
  std::unique_ptr<RegfsServer> server;

  // `upstreamUrl` empty: no proxy section (`extra` names the upstreams).
  explicit Mirror(const std::string& upstreamUrl, const std::string& proxyExtra = "",
                  std::map<std::string, std::string> env = {}, const std::string& extra = "") {
    RegfsServerOptions o;
    if (!upstreamUrl.empty())
      o.extraConfig = "proxy:\n  remoteurl: " + upstreamUrl + "\n" + proxyExtra;
    o.extraConfig += extra;
    env["REGISTRY_HTTP_DEBUG_ADDR"] = "127.0.0.1:" + std::to_string(debugPort);
    o.env = std::move(env);
    server = std::make_unique<RegfsServer>(fs::path(), o);
  }
  double metric(const std::string& name) const {
    Reply r = http("GET", "http://127.0.0.1:" + std::to_string(debugPort) + "/metrics");
    return sampleValue(r.body, name);
  }
  fs::path blobData(const std::string& digest) const {
    std::string hex = digest.substr(7);
    return server->root() / "docker/registry/v2/blobs/sha256" / hex.substr(0, 2) / hex / "data";
  }
};

// The mirror's config for the upstreams of `items` (lines of regfs.proxy.upstreams).
std::string upstreamsByPrefix(const std::string& items) {
  return "regfs:\n  proxy:\n    upstreams:\n" + items;
}

// An image in an OCI layout: one layer of `text`.
Blob makeImage(OciLayout& layout, const std::string& text) {
  Blob image = layout.addImage({layout.addLayer({{"hello.txt", text}})});
  layout.tag("v1", image);
  return image;
}

// The manifest bytes `ref` (docker://…) serves.
std::string rawManifest(const std::string& ref, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"skopeo", "inspect", "--raw", "--tls-verify=false"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(ref);
  CommandResult c = run(argv);
  EXPECT_EQ(c.status, 0) << c.err;
  return c.out;
}

// How many lines of `log` hold `needle`.
size_t countLines(const std::string& log, const std::string& needle) {
  size_t n = 0;
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
  return n;
}

TEST(MirrorPullThrough, SkopeoPullsDockerAndOciImagesWithTheUpstreamsDigests) {
  TempDir dir;
  RegfsServer upstream;
  OciLayout layout(dir / "oci");
  makeImage(layout, "through the mirror\n");
  ASSERT_EQ(skopeoCopy(layout.ref("v1"), "docker://" + upstream.host() + "/library/oci:v1").status,
            0);
  // Docker media types, as Docker Hub serves most images: kept, never converted.
  CommandResult docker = skopeoCopy(
      layout.ref("v1"), "docker://" + upstream.host() + "/library/docker:v1", {"--format", "v2s2"});
  ASSERT_EQ(docker.status, 0) << docker.err;
  Mirror mirror(upstream.url());

  for (std::string name : {"library/oci", "library/docker"}) {
    std::string fromUpstream = rawManifest("docker://" + upstream.host() + "/" + name + ":v1");
    std::string viaMirror = rawManifest("docker://" + mirror.server->host() + "/" + name + ":v1");
    EXPECT_EQ(viaMirror, fromUpstream) << name;
    std::string digest = digestOf(fromUpstream);
    // A destination of its own: skopeo skips blobs a layout already holds.
    std::string leaf = fs::path(name).filename().string();
    CommandResult byTag = skopeoCopy("docker://" + mirror.server->host() + "/" + name + ":v1",
                                     "oci:" + (dir / ("tag-" + leaf)).string() + ":v1");
    EXPECT_EQ(byTag.status, 0) << byTag.err << mirror.server->log();
    CommandResult byDigest =
        skopeoCopy("docker://" + mirror.server->host() + "/" + name + "@" + digest,
                   "oci:" + (dir / ("digest-" + leaf)).string());
    EXPECT_EQ(byDigest.status, 0) << byDigest.err;
  }
  EXPECT_NE(rawManifest("docker://" + mirror.server->host() + "/library/docker:v1")
                .find("application/vnd.docker.distribution.manifest.v2+json"),
            std::string::npos);
  EXPECT_GT(mirror.metric("regfs_mirror_misses_total"), 0);
  EXPECT_GT(mirror.metric("regfs_mirror_upstream_bytes_total"), 0);

  // What is cached is listed; pushes and deletes go to the upstream, not here.
  EXPECT_EQ(http("GET", mirror.server->url() + "/v2/_catalog").body,
            "{\"repositories\":[\"library/docker\",\"library/oci\"]}\n");
  EXPECT_EQ(http("GET", mirror.server->url() + "/v2/library/oci/tags/list").body,
            "{\"name\":\"library/oci\",\"tags\":[\"v1\"]}\n");
  Reply push = http("POST", mirror.server->url() + "/v2/library/oci/blobs/uploads/");
  EXPECT_EQ(push.status, 405);
  EXPECT_EQ(push.code(), "UNSUPPORTED");
  EXPECT_EQ(http("DELETE", mirror.server->url() + "/v2/library/oci/manifests/v1").status, 405);
  CommandResult skopeoPush =
      skopeoCopy(layout.ref("v1"), "docker://" + mirror.server->host() + "/library/pushed:v1");
  EXPECT_NE(skopeoPush.status, 0);

  // The upstream gone: what was pulled is still served, by tag and by digest.
  upstream.stop();
  CommandResult again = skopeoCopy("docker://" + mirror.server->host() + "/library/docker:v1",
                                   "oci:" + (dir / "again").string() + ":v1");
  EXPECT_EQ(again.status, 0) << again.err << mirror.server->log();
  Reply missing = http("GET", mirror.server->url() + "/v2/library/never/manifests/v1");
  EXPECT_EQ(missing.status, 503) << missing.body;
}

TEST(MirrorPullThrough, EightConcurrentPullsOfABlobFetchItOnce) {
  RegfsServer upstream;
  std::string blob = randomBytes(48 << 20, 20);
  std::string digest = digestOf(blob);
  HttpConnection c(upstream.port());
  auto pushed = pushBlobMonolithic(c, "library/big", blob);
  ASSERT_TRUE(pushed && pushed->status == 201) << upstream.log();
  Mirror mirror(upstream.url());

  std::vector<std::string> got(8);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < got.size(); ++i) {
    clients.emplace_back([&, i] {
      CommandResult r = curl({"-sf", mirror.server->url() + "/v2/library/big/blobs/" + digest});
      got[i] = r.status == 0 ? sha256Hex(r.out) : "curl exit " + std::to_string(r.status);
    });
  }
  for (auto& t : clients) t.join();
  for (const std::string& g : got) EXPECT_EQ("sha256:" + g, digest);
  EXPECT_EQ(countLines(upstream.log(), "GET /v2/library/big/blobs/" + digest + " 200"), 1u)
      << upstream.log();
  EXPECT_EQ(mirror.metric("regfs_mirror_upstream_bytes_total"), static_cast<double>(blob.size()));
  EXPECT_TRUE(fs::exists(mirror.blobData(digest)));
  // Linked into the repository as a push would: the next pull is a hit.
  EXPECT_EQ(http("HEAD", mirror.server->url() + "/v2/library/big/blobs/" + digest).status, 200);
  EXPECT_GT(mirror.metric("regfs_mirror_hits_total"), 0);
}

// 8 clients pull a whole image the mirror has never seen, at once, as a client pulls: the
// manifest by tag, then the config and every layer. Each gets the image's exact bytes, and the
// upstream serves the manifest and each blob once.
TEST(MirrorPullThrough, EightConcurrentPullsOfAWholeUncachedImageFetchEachBlobOnce) {
  RegfsServer upstream;
  ImageBytes image =
      ociImage("{\"architecture\":\"amd64\",\"os\":\"linux\"}",
               {randomBytes(8 << 20, 31), randomBytes(8 << 20, 32), randomBytes(8 << 20, 33)});
  HttpConnection c(upstream.port());
  auto pushed = pushImage(c, "library/whole", "v1", image);
  ASSERT_TRUE(pushed && pushed->status == 201) << upstream.log();
  Mirror mirror(upstream.url());
  const std::string base = mirror.server->url() + "/v2/library/whole/";

  std::vector<std::string> failures(8);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < failures.size(); ++i) {
    clients.emplace_back([&, i] {
      CommandResult m = curl({"-sf", "-H", "Accept: " + kOciManifestType, base + "manifests/v1"});
      if (m.status != 0 || m.out != image.manifest) {
        failures[i] = "manifest: curl exit " + std::to_string(m.status);
        return;
      }
      for (const std::string& blob : image.blobs()) {
        CommandResult b = curl({"-sf", base + "blobs/" + digestOf(blob)});
        if (b.status != 0 || b.out != blob) {
          failures[i] = "blob " + digestOf(blob) + ": curl exit " + std::to_string(b.status);
          return;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  for (const std::string& f : failures) EXPECT_EQ(f, "") << mirror.server->log();
  for (const std::string& blob : image.blobs()) {
    EXPECT_EQ(countLines(upstream.log(), "GET /v2/library/whole/blobs/" + digestOf(blob) + " 200"),
              1u)
        << upstream.log();
  }
  EXPECT_EQ(countLines(upstream.log(), "GET /v2/library/whole/manifests/"), 1u) << upstream.log();
  size_t bytes = 0;
  for (const std::string& blob : image.blobs()) bytes += blob.size();
  EXPECT_EQ(mirror.metric("regfs_mirror_upstream_bytes_total"),
            static_cast<double>(bytes + image.manifest.size()));
}

// A blob the mirror's store already holds for another repository is not fetched again: the
// upstream is asked (HEAD, with this repository's name and credentials) whether this
// repository has it, and it is linked. One the upstream does not have there is refused.
TEST(MirrorPullThrough, ABlobStoredForAnotherRepositoryIsLinkedOnceTheUpstreamConfirmsIt) {
  RegfsServer upstream;
  std::string blob = randomBytes(2 << 20, 21);
  std::string digest = digestOf(blob);
  HttpConnection c(upstream.port());
  for (std::string repo : {"library/first", "library/second"}) {
    auto pushed = pushBlobMonolithic(c, repo, blob);
    ASSERT_TRUE(pushed && pushed->status == 201) << upstream.log();
  }
  Mirror mirror(upstream.url());
  auto pull = [&](const std::string& repo) {
    return http("GET", mirror.server->url() + "/v2/" + repo + "/blobs/" + digest);
  };

  ASSERT_EQ(pull("library/first").status, 200) << mirror.server->log();
  Reply second = pull("library/second");
  ASSERT_EQ(second.status, 200) << second.body << mirror.server->log();
  EXPECT_EQ("sha256:" + sha256Hex(second.body), digest);
  EXPECT_EQ(countLines(upstream.log(), "GET /v2/library/first/blobs/" + digest), 1u);
  EXPECT_EQ(countLines(upstream.log(), "GET /v2/library/second/blobs/" + digest), 0u)
      << upstream.log();
  EXPECT_EQ(countLines(upstream.log(), "HEAD /v2/library/second/blobs/" + digest), 1u)
      << upstream.log();
  EXPECT_EQ(mirror.metric("regfs_mirror_upstream_bytes_total"), static_cast<double>(blob.size()));
  // Linked: the next pull asks the upstream nothing.
  EXPECT_EQ(pull("library/second").status, 200);
  EXPECT_EQ(countLines(upstream.log(), "HEAD /v2/library/second/blobs/"), 1u) << upstream.log();
  EXPECT_EQ(countLines(upstream.log(), "GET /v2/library/second/blobs/"), 0u);

  // The upstream's library/other does not hold it: not served, not linked.
  Reply other = pull("library/other");
  EXPECT_EQ(other.status, 404) << other.body;
  EXPECT_EQ(other.code(), "BLOB_UNKNOWN");
  EXPECT_FALSE(fs::exists(mirror.server->root() /
                          "docker/registry/v2/repositories/library/other/_layers/sha256" /
                          digest.substr(7)));
  EXPECT_EQ(countLines(upstream.log(), "GET /v2/library/other/blobs/"), 0u) << upstream.log();
}

// The fake upstream misbehaves on the first GET of the blob (`mode`), then serves it right.
void expectNothingKeptThenARetryFetches(FakeUpstream::Mode mode) {
  TempDir dir;
  std::string blob = randomBytes(3 << 20, 7);
  std::string digest = digestOf(blob);
  FakeUpstream fake(blob, mode);
  Mirror mirror(fake.url());
  std::string url = mirror.server->url() + "/v2/library/flaky/blobs/" + digest;

  CommandResult first = curl({"-s", "-o", (dir / "first").string(), url});
  // Cut short of its Content-Length: curl says the transfer was partial (18), never a
  // complete body of the wrong bytes.
  EXPECT_EQ(first.status, 18) << first.err << mirror.server->log();
  EXPECT_FALSE(fs::exists(mirror.blobData(digest)));
  fs::path uploads =
      mirror.server->root() / "docker/registry/v2/repositories/library/flaky/_uploads";
  EXPECT_TRUE(waitUntil([&] { return !fs::exists(uploads) || fs::is_empty(uploads); }));
  EXPECT_GT(mirror.metric("regfs_mirror_upstream_errors_total"), 0);

  CommandResult retry = curl({"-sf", url});
  ASSERT_EQ(retry.status, 0) << retry.err << mirror.server->log();
  EXPECT_EQ("sha256:" + sha256Hex(retry.out), digest);
  EXPECT_TRUE(fs::exists(mirror.blobData(digest)));
  EXPECT_EQ(countLines(fake.log(), "GET /v2/library/flaky/blobs/" + digest), 2u) << fake.log();
}

TEST(MirrorPullThrough, AnUpstreamCutMidwayLeavesNothingAndTheRetryFetches) {
  expectNothingKeptThenARetryFetches(FakeUpstream::Mode::kCut);
}

TEST(MirrorPullThrough, WrongBytesFromTheUpstreamAreCaught) {
  expectNothingKeptThenARetryFetches(FakeUpstream::Mode::kCorrupt);
}

TEST(MirrorPullThrough, AnUpstreamThatAnswers429IsNotAskedAgainBeforeItsRetryAfter) {
  std::string blob = randomBytes(1 << 20, 13);
  std::string digest = digestOf(blob);
  // The first GET of the blob answers 429 with Retry-After: 2.
  FakeUpstream fake(blob, FakeUpstream::Mode::kRateLimit);
  Mirror mirror(fake.url());
  const std::string url = mirror.server->url() + "/v2/library/limited/blobs/" + digest;
  const std::string upstreamGet = "GET /v2/library/limited/blobs/" + digest;

  Reply first = http("GET", url);
  EXPECT_EQ(first.status, 429) << first.body << mirror.server->log();
  EXPECT_EQ(first.code(), "TOOMANYREQUESTS");
  // Within the pause the mirror answers without asking.
  Reply again = http("GET", url);
  EXPECT_EQ(again.status, 429) << again.body;
  EXPECT_EQ(countLines(fake.log(), upstreamGet), 1u) << fake.log();
  EXPECT_GT(mirror.metric("regfs_mirror_upstream_errors_total"), 0);

  // After it, the blob is fetched, with one more request upstream.
  CommandResult fetched;
  EXPECT_TRUE(waitUntil(
      [&] {
        fetched = curl({"-sf", url});
        return fetched.status == 0;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(250)));
  EXPECT_EQ("sha256:" + sha256Hex(fetched.out), digest);
  EXPECT_EQ(countLines(fake.log(), upstreamGet), 2u) << fake.log();
}

// Pushes an image to `upstream` as library/private:v1 with skopeo `pushArgs`, then pulls it
// through a mirror configured with `proxyExtra` and `env`.
void expectPullThrough(const std::string& upstreamUrl, const std::string& upstreamHost,
                       const std::vector<std::string>& pushArgs, const std::string& proxyExtra,
                       const std::map<std::string, std::string>& env = {}) {
  TempDir dir;
  OciLayout layout(dir / "oci");
  Blob image = makeImage(layout, "private\n");
  CommandResult pushed =
      skopeoCopy(layout.ref("v1"), "docker://" + upstreamHost + "/library/private:v1", pushArgs);
  ASSERT_EQ(pushed.status, 0) << pushed.err;
  Mirror mirror(upstreamUrl, proxyExtra, env);
  CommandResult pulled = skopeoCopy("docker://" + mirror.server->host() + "/library/private:v1",
                                    "oci:" + (dir / "back").string() + ":v1");
  EXPECT_EQ(pulled.status, 0) << pulled.err << mirror.server->log();
  EXPECT_EQ(rawManifest("docker://" + mirror.server->host() + "/library/private:v1"), image.bytes);
}

TEST(MirrorPullThrough, AKillDuringAFetchLeavesNoPartialBlobAndTheNextPullFetchesAgain) {
  TempDir dir;
  std::string blob = randomBytes(6 << 20, 11);
  std::string digest = digestOf(blob);
  std::string hex = digest.substr(7);
  // The first GET sends half the blob, then stalls: the mirror is killed in the middle.
  FakeUpstream fake(blob, FakeUpstream::Mode::kStall);
  fs::path root = dir / "store";
  RegfsServerOptions o;
  o.extraConfig = "proxy:\n  remoteurl: " + fake.url() + "\n";
  auto mirror = std::make_unique<RegfsServer>(root, o);
  const std::string url = mirror->url() + "/v2/library/killed/blobs/" + digest;
  const fs::path v2 = root / "docker/registry/v2";
  const fs::path uploads = v2 / "repositories/library/killed/_uploads";

  CommandResult first;
  std::thread client([&] { first = curl({"-s", "-o", (dir / "first").string(), url}); });
  // Part of the blob has landed in the fill's upload session, and the client has some of it
  // (the fill writes a piece before the client's connection sends it).
  auto landed = [&] {
    std::error_code ec;
    if (fs::file_size(dir / "first", ec) == 0 || ec) return false;
    for (const auto& session : fs::directory_iterator(uploads, ec)) {
      if (fs::exists(session.path() / "data") && fs::file_size(session.path() / "data") > 0)
        return true;
    }
    return false;
  };
  bool partway = static_cast<bool>(waitUntil(landed, std::chrono::seconds(20)));
  ASSERT_EQ(::kill(mirror->pid(), SIGKILL), 0);
  client.join();
  ASSERT_TRUE(partway) << mirror->log() << fake.log();
  EXPECT_NE(first.status, 0) << "a client of a killed fill got a whole body";
  EXPECT_LT(fs::file_size(dir / "first"), blob.size());
  // Nothing of the blob is in the store: no data, no link in the repository.
  EXPECT_FALSE(fs::exists(v2 / "blobs/sha256" / hex.substr(0, 2) / hex / "data"));
  EXPECT_FALSE(fs::exists(v2 / "repositories/library/killed/_layers/sha256" / hex));
  mirror.reset();

  // Restarted on the same store: the next pull fetches again, verified, and keeps the blob.
  mirror = std::make_unique<RegfsServer>(root, o);
  CommandResult retry = curl({"-sf", mirror->url() + "/v2/library/killed/blobs/" + digest});
  ASSERT_EQ(retry.status, 0) << retry.err << mirror->log();
  EXPECT_EQ("sha256:" + sha256Hex(retry.out), digest);
  EXPECT_EQ(readFile(v2 / "blobs/sha256" / hex.substr(0, 2) / hex / "data"), blob);
  EXPECT_EQ(countLines(fake.log(), "GET /v2/library/killed/blobs/" + digest), 2u) << fake.log();
}

// Two upstreams in one mirror by name prefix, both holding library/app:v1 (different
// images): the prefix picks the upstream, which is asked for the name without it, with its
// own credentials; each keeps what it fetched for its own ttl.
TEST(MirrorUpstreams, TwoUpstreamsByPrefixEachWithItsCredentialsAndTtl) {
  TempDir dir;
  RegfsServer one({}, htpasswdAuth(dir / "auth", "one", "one-secret"));
  ReferenceRegistry two(dir / "two");
  OciLayout layout(dir / "oci");
  Blob fromOne = layout.addImage({layout.addLayer({{"from.txt", "one\n"}})});
  layout.tag("one", fromOne);
  Blob fromTwo = layout.addImage({layout.addLayer({{"from.txt", "two\n"}})});
  layout.tag("two", fromTwo);
  ASSERT_EQ(skopeoCopy(layout.ref("one"), "docker://" + one.host() + "/library/app:v1",
                       {"--dest-creds", "one:one-secret"})
                .status,
            0);
  ASSERT_EQ(skopeoCopy(layout.ref("two"), "docker://" + two.host() + "/library/app:v1").status, 0);
  Mirror mirror("", "", {},
                upstreamsByPrefix("      - prefix: one.example\n"
                                  "        remoteurl: " +
                                  one.url() +
                                  "\n"
                                  "        username: one\n"
                                  "        password: one-secret\n"
                                  "        ttl: 1s\n"
                                  "      - prefix: two.example/mirrors\n"
                                  "        remoteurl: " +
                                  two.url() +
                                  "\n"
                                  "        ttl: 0\n"));
  const std::string host = mirror.server->host();

  // one.example through a registries.conf mirror, as docs/mirror.md writes it.
  std::string conf =
      dir.write("registries.conf",
                "[[registry]]\nprefix = \"one.example\"\nlocation = \"one.example\"\n"
                "[[registry.mirror]]\nlocation = \"" +
                    host + "/one.example\"\ninsecure = true\n")
          .string();
  CommandResult pulled =
      run({"skopeo", "--insecure-policy", "--registries-conf", conf, "copy",
           "docker://one.example/library/app:v1", "dir:" + (dir / "one").string()});
  ASSERT_EQ(pulled.status, 0) << pulled.err << mirror.server->log();
  EXPECT_EQ(readFile(dir / "one/manifest.json"), fromOne.bytes);
  EXPECT_EQ(rawManifest("docker://" + host + "/two.example/mirrors/library/app:v1"), fromTwo.bytes);
  CommandResult fromTwoByDigest =
      skopeoCopy("docker://" + host + "/two.example/mirrors/library/app@" + fromTwo.digest,
                 "dir:" + (dir / "by-digest").string());
  EXPECT_EQ(fromTwoByDigest.status, 0) << fromTwoByDigest.err;

  // A name under no prefix (a prefix matches whole components), with no proxy.remoteurl.
  for (const std::string name :
       {"library/app", "one.example", "two.example/library/app", "one.examples/library/app"}) {
    Reply r = http("GET", mirror.server->url() + "/v2/" + name + "/manifests/v1");
    EXPECT_EQ(r.status, 404) << name;
    EXPECT_EQ(r.code(), "NAME_UNKNOWN") << name << r.body;
  }
  // one's ttl (1s) removes what came from it; two's (0) keeps everything.
  fs::path repos = mirror.server->root() / "docker/registry/v2/repositories";
  EXPECT_TRUE(waitUntil(
      [&] {
        fs::path tags = repos / "one.example/library/app/_manifests/tags";
        return !fs::exists(tags) || fs::is_empty(tags);
      },
      std::chrono::seconds(20)))
      << mirror.server->log();
  EXPECT_TRUE(
      fs::exists(repos / "two.example/mirrors/library/app/_manifests/tags/v1/current/link"));
}

TEST(MirrorUpstreamAuth, HtpasswdWithTheConfiguredCredentials) {
  TempDir dir;
  RegfsServer upstream({}, htpasswdAuth(dir / "auth", "mirror", "mirror-secret"));
  expectPullThrough(upstream.url(), upstream.host(), {"--dest-creds", "mirror:mirror-secret"},
                    "  username: mirror\n  password: mirror-secret\n");
}

TEST(MirrorUpstreamAuth, BearerTokensFromTheUpstreamsRealm) {
  TokenServer tokens("regfs-test-issuer", "regfs-test");
  RegfsServerOptions o;
  o.extraConfig = tokens.registryConfig();
  RegfsServer upstream({}, o);
  expectPullThrough(upstream.url(), upstream.host(), {"--dest-creds", "pusher:push-secret"},
                    "  username: puller\n  password: pull-secret\n");
  EXPECT_NE(tokens.log().find("/token"), std::string::npos);
}

TEST(MirrorUpstreamAuth, TlsVerifiedAgainstAPrivateCa) {
  TempDir dir;
  IssuedCertificate cert = makeCaSignedServerCertificate(dir / "certs");
  RegfsServerOptions o;
  o.env = {{"REGISTRY_HTTP_TLS_CERTIFICATE", cert.cert.string()},
           {"REGISTRY_HTTP_TLS_KEY", cert.key.string()}};
  RegfsServer upstream({}, o);
  std::string url = "https://" + upstream.host();
  expectPullThrough(url, upstream.host(), {}, "", {{"SSL_CERT_FILE", cert.caCert.string()}});
  // Without the CA the upstream is not trusted: nothing is fetched.
  Mirror untrusting(url);
  Reply r = http("GET", untrusting.server->url() + "/v2/library/private/manifests/v1");
  EXPECT_EQ(r.status, 503) << r.body;
}

// The mirror itself behind TLS: clients of a blob being fetched, one of them asking for a
// range across the middle, get their bytes encrypted as they land, before the upstream has
// sent the rest.
TEST(MirrorUpstreamAuth, ClientsOfAFetchThroughAnHttpsMirrorGetBytesAsTheyLand) {
  TempDir dir;
  std::string blob = randomBytes(6 << 20, 41);
  std::string digest = digestOf(blob);
  // The upstream sends half the blob, then waits to be released.
  FakeUpstream fake(blob, FakeUpstream::Mode::kPause);
  IssuedCertificate cert = makeCaSignedServerCertificate(dir / "certs");
  Mirror mirror(fake.url(), "",
                {{"REGISTRY_HTTP_TLS_CERTIFICATE", cert.cert.string()},
                 {"REGISTRY_HTTP_TLS_KEY", cert.key.string()}});
  const std::string url = "https://" + mirror.server->host() + "/v2/library/secure/blobs/" + digest;
  const size_t from = (1 << 20) + 7;
  const size_t to = (5 << 20) - 3;
  auto out = [&](size_t i) { return dir / ("got-" + std::to_string(i)); };

  std::vector<CommandResult> got(3);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < got.size(); ++i) {
    clients.emplace_back([&, i] {
      std::vector<std::string> args = {"-sf", "--cacert",      cert.caCert.string(),
                                       "-o",  out(i).string(), url};
      if (i == 0) args.insert(args.end(), {"-r", std::to_string(from) + "-" + std::to_string(to)});
      got[i] = curl(args);
    });
  }
  bool streaming = waitUntil(
                       [&] {
                         std::error_code ec;
                         return fs::file_size(out(0), ec) >= (1u << 20) &&
                                fs::file_size(out(1), ec) >= (2u << 20) &&
                                fs::file_size(out(2), ec) >= (2u << 20);
                       },
                       std::chrono::seconds(20))
                       .has_value();
  EXPECT_TRUE(streaming) << mirror.server->log();
  fake.release();
  for (auto& t : clients) t.join();
  for (const CommandResult& r : got) ASSERT_EQ(r.status, 0) << r.err << mirror.server->log();
  EXPECT_EQ(readFile(out(0)), blob.substr(from, to - from + 1));
  EXPECT_EQ("sha256:" + sha256Hex(readFile(out(1))), digest);
  EXPECT_EQ("sha256:" + sha256Hex(readFile(out(2))), digest);
  EXPECT_EQ(countLines(fake.log(), "GET /v2/library/secure/blobs/" + digest), 1u) << fake.log();
}

TEST(MirrorExpiry, TtlRemovesWhatWasFetchedOnALiveStore) {
  TempDir dir;
  RegfsServer upstream;
  OciLayout layout(dir / "oci");
  makeImage(layout, "short-lived\n");
  ASSERT_EQ(
      skopeoCopy(layout.ref("v1"), "docker://" + upstream.host() + "/library/brief:v1").status, 0);
  Mirror mirror(upstream.url(), "  ttl: 1s\n");
  CommandResult pulled = skopeoCopy("docker://" + mirror.server->host() + "/library/brief:v1",
                                    "oci:" + (dir / "back").string() + ":v1");
  ASSERT_EQ(pulled.status, 0) << pulled.err;
  fs::path repo = mirror.server->root() / "docker/registry/v2/repositories/library/brief";
  auto emptyDir = [](const fs::path& p) { return !fs::exists(p) || fs::is_empty(p); };
  EXPECT_TRUE(waitUntil(
      [&] {
        return emptyDir(repo / "_manifests/tags") && emptyDir(repo / "_layers/sha256") &&
               emptyDir(repo / "_manifests/revisions/sha256");
      },
      std::chrono::seconds(20)))
      << mirror.server->log();
  EXPECT_GT(mirror.metric("regfs_mirror_expired_total"), 0);
  // Fetched again on the next pull.
  CommandResult again = skopeoCopy("docker://" + mirror.server->host() + "/library/brief:v1",
                                   "oci:" + (dir / "again").string() + ":v1");
  EXPECT_EQ(again.status, 0) << again.err;
}

}  // namespace
}  // namespace regfs
