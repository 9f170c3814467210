// Hostile input: a table of malformed and malicious requests against a real regfs-server —
// path traversal (plain and percent-encoded, in names, digests, upload ids and tags), invalid
// names, digests and tags, oversize manifests and heads, invalid JSON, manifests naming
// missing blobs, wrong digests, out-of-order and mismatched Content-Range, ranges past the
// end, unknown upload ids, broken framing, truncated bodies, clients that disconnect
// mid-upload, hundreds of half-open connections and a slowloris client. Each request is
// answered with the spec's 4xx error (never a 5xx, never a hang), nothing is written outside
// the store, nothing is half-written inside it, and a probe is served quickly throughout.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/store/store.h"
#include "support/http_client.h"
#include "support/server.h"
#include "support/store_check.h"

namespace regfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct BadRequest {
  std::string what;
  std::string raw;   // the bytes sent
  int status;        // the answer expected
  std::string code;  // the OCI error code expected ("" when the answer has no JSON body)
};

std::string request(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::vector<std::string>& headers = {}) {
  return requestHead(method, target, body.size(), headers) + body;
}

const std::string kHex = std::string(64, 'a');

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server = std::make_unique<RegfsServer>();
    HttpConnection c(server->port());
    ASSERT_EQ(pushImage(c, "good/app", "v1", ImageBytes{config, {layer}, manifest})->status, 201);
    auto r = c.request("POST", "/v2/good/app/blobs/uploads/");
    ASSERT_EQ(r->status, 202);
    upload = r->header("location");
    r = c.request("PATCH", upload, "0123456789", {"Content-Range: 0-9"});
    ASSERT_EQ(r->status, 202);
    upload = r->header("location");
    outsideBefore = outsideTheStore();
  }

  // Every file beside the store (the server's own config and log aside).
  std::string outsideTheStore() {
    std::string out;
    for (const auto& e : std::filesystem::directory_iterator(server->root().parent_path())) {
      std::string name = e.path().filename().string();
      if (name == "store" || name == "server.log" || name == "config.yml") continue;
      out += name + "\n";
    }
    return out;
  }

  // A fresh connection to GET /v2/ answers 200 within `limit`.
  void expectProbeServed(const std::string& during,
                         std::chrono::milliseconds limit = std::chrono::seconds(3)) {
    auto start = Clock::now();
    HttpConnection c(server->port(), limit);
    auto r = c.request("GET", "/v2/");
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    ASSERT_TRUE(r) << "probe not answered within " << limit.count() << " ms during " << during;
    EXPECT_EQ(r->status, 200) << during;
    EXPECT_LT(took, limit) << during;
  }

  std::string config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
  std::string layer = randomBytes(50000, 7);
  std::string manifest = ociManifest(config, {layer});
  std::string upload;  // a session holding 10 bytes
  std::string outsideBefore;
  std::unique_ptr<RegfsServer> server;
};

TEST_F(HostileInputTest, EveryMalformedRequestGetsItsSpecError) {
  const std::string digest = digestOf(layer);
  const std::string missing = "sha256:" + kHex;
  const std::string unknownUpload =
      "/v2/good/app/blobs/uploads/0b5e8c8e-6d0f-4f57-8b3c-0c3a53a7f001";
  const std::string bigManifest =
      "{\"schemaVersion\":2,\"annotations\":{\"x\":\"" + std::string(4 * 1024 * 1024, 'x') + "\"}}";
  std::string deep = "{\"schemaVersion\":2,\"annotations\":" + std::string(200000, '[') +
                     std::string(200000, ']') + "}";

  std::vector<BadRequest> table = {
      // Path traversal: plain, percent-encoded, double-encoded, in every path parameter.
      {"traversal in name", request("GET", "/v2/../../../etc/tags/list"), 404, "UNKNOWN"},
      {"encoded traversal in name", request("GET", "/v2/%2e%2e/%2E%2E/etc/tags/list"), 404,
       "UNKNOWN"},
      {"traversal inside name", request("GET", "/v2/good/%2e%2e/%2e%2e/%2e%2e/x/tags/list"), 404,
       "UNKNOWN"},
      {"double-encoded traversal", request("GET", "/v2/%252e%252e/x/tags/list"), 400,
       "NAME_INVALID"},
      {"backslash traversal", request("GET", "/v2/..%5c..%5cetc/tags/list"), 400, "NAME_INVALID"},
      {"absolute name", request("GET", "/v2//etc/passwd/tags/list"), 404, "UNKNOWN"},
      {"NUL in name", request("GET", "/v2/good%00/app/tags/list"), 404, "UNKNOWN"},
      {"traversal as tag",
       request("PUT", "/v2/good/app/manifests/%2e%2e", manifest,
               {"Content-Type: " + kOciManifestType}),
       404, "UNKNOWN"},
      {"encoded slashes in tag",
       request("PUT", "/v2/good/app/manifests/..%2F..%2F..%2Fescape", manifest,
               {"Content-Type: " + kOciManifestType}),
       404, "UNKNOWN"},
      {"dot tag",
       request("PUT", "/v2/good/app/manifests/.hidden", manifest,
               {"Content-Type: " + kOciManifestType}),
       400, "TAG_INVALID"},
      {"traversal in digest", request("GET", "/v2/good/app/blobs/sha256:..%2F..%2F..%2Fetc"), 404,
       "UNKNOWN"},
      {"dots as digest", request("GET", "/v2/good/app/blobs/sha256%3A%2e%2e"), 400,
       "DIGEST_INVALID"},
      {"traversal in manifest digest", request("GET", "/v2/good/app/manifests/sha256:..%5c..%5cx"),
       400, "DIGEST_INVALID"},
      {"traversal in upload id",
       request("PATCH", "/v2/good/app/blobs/uploads/..%2F..%2F..%2Fx", "data"), 404, "UNKNOWN"},
      {"backslashes in upload id",
       request("PATCH", "/v2/good/app/blobs/uploads/..%5c..%5cx", "data"), 404,
       "BLOB_UPLOAD_UNKNOWN"},
      {"dots as upload id",
       request("PUT", "/v2/good/app/blobs/uploads/....?digest=" + digest, "data"), 404,
       "BLOB_UPLOAD_UNKNOWN"},
      {"traversal in mount source",
       request("POST", "/v2/good/app/blobs/uploads/?mount=" + digest + "&from=..%2F..%2Fetc"), 202,
       ""},
      {"traversal in digest query",
       request("POST", "/v2/good/app/blobs/uploads/?digest=sha256:..%2F..%2Fx", "x"), 400,
       "DIGEST_INVALID"},
      // Invalid names, tags, digests.
      {"upper-case name", request("GET", "/v2/Good/App/tags/list"), 400, "NAME_INVALID"},
      {"name too long", request("GET", "/v2/" + std::string(300, 'a') + "/tags/list"), 400,
       "NAME_INVALID"},
      {"name with double separator", request("GET", "/v2/a..b/tags/list"), 400, "NAME_INVALID"},
      {"name with leading dash", request("GET", "/v2/-a/manifests/latest"), 400, "NAME_INVALID"},
      {"tag too long",
       request("PUT", "/v2/good/app/manifests/" + std::string(129, 't'), manifest,
               {"Content-Type: " + kOciManifestType}),
       400, "TAG_INVALID"},
      {"tag with bad character", request("GET", "/v2/good/app/manifests/a%20b"), 404,
       "MANIFEST_UNKNOWN"},
      {"tag with bad character put",
       request("PUT", "/v2/good/app/manifests/a%20b", manifest,
               {"Content-Type: " + kOciManifestType}),
       400, "TAG_INVALID"},
      {"short digest", request("GET", "/v2/good/app/blobs/sha256:abc"), 400, "DIGEST_INVALID"},
      {"unknown algorithm", request("GET", "/v2/good/app/blobs/md5:" + std::string(32, 'a')), 400,
       "DIGEST_INVALID"},
      {"upper-case hex", request("GET", "/v2/good/app/blobs/sha256:" + std::string(64, 'A')), 400,
       "DIGEST_INVALID"},
      // Manifests.
      {"manifest not JSON",
       request("PUT", "/v2/good/app/manifests/bad", "{\"schemaVersion\":2,",
               {"Content-Type: " + kOciManifestType}),
       400, "MANIFEST_INVALID"},
      {"manifest not an object",
       request("PUT", "/v2/good/app/manifests/bad", "[]", {"Content-Type: " + kOciManifestType}),
       400, "MANIFEST_INVALID"},
      {"manifest nested 200000 deep",
       request("PUT", "/v2/good/app/manifests/bad", deep, {"Content-Type: " + kOciManifestType}),
       400, "MANIFEST_INVALID"},
      {"schema 1 manifest",
       request("PUT", "/v2/good/app/manifests/bad", "{\"schemaVersion\":1}",
               {"Content-Type: application/vnd.docker.distribution.manifest.v1+json"}),
       400, "MANIFEST_INVALID"},
      {"manifest naming missing blobs",
       request("PUT", "/v2/good/app/manifests/bad", ociManifest(config, {"not pushed"}),
               {"Content-Type: " + kOciManifestType}),
       400, "MANIFEST_BLOB_UNKNOWN"},
      {"index naming a missing manifest",
       request("PUT", "/v2/good/app/manifests/bad",
               indexJson({descriptor(kOciManifestType, missing, 10)}),
               {"Content-Type: " + kOciIndexType}),
       400, "MANIFEST_BLOB_UNKNOWN"},
      {"manifest under a wrong digest",
       request("PUT", "/v2/good/app/manifests/" + missing, manifest,
               {"Content-Type: " + kOciManifestType}),
       400, "DIGEST_INVALID"},
      {"oversize manifest",
       request("PUT", "/v2/good/app/manifests/big", bigManifest,
               {"Content-Type: " + kOciManifestType}),
       413, "SIZE_INVALID"},
      {"oversize chunked manifest",
       "PUT /v2/good/app/manifests/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
       "chunked\r\nContent-Type: " +
           kOciManifestType + "\r\n\r\n" +
           [&] {
             std::string s;
             for (size_t i = 0; i < bigManifest.size(); i += 65536) {
               std::string piece = bigManifest.substr(i, 65536);
               char size[32];
               std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
               s += size + piece + "\r\n";
             }
             return s + "0\r\n\r\n";
           }(),
       413, "SIZE_INVALID"},
      {"manifest with Content-Length past the limit",
       "PUT /v2/good/app/manifests/big HTTP/1.1\r\nHost: x\r\n"
       "Content-Length: 99999999999\r\n\r\n{",
       413, "SIZE_INVALID"},
      // Uploads.
      {"wrong digest, monolithic",
       request("POST", "/v2/good/app/blobs/uploads/?digest=" + missing, "content"), 400,
       "DIGEST_INVALID"},
      {"chunk out of order", request("PATCH", upload, "abc", {"Content-Range: 100-102"}), 416,
       "RANGE_INVALID"},
      {"chunk overlapping", request("PATCH", upload, "abc", {"Content-Range: 5-7"}), 416,
       "RANGE_INVALID"},
      {"malformed Content-Range", request("PATCH", upload, "abc", {"Content-Range: bytes=x-y"}),
       416, "RANGE_INVALID"},
      {"reversed Content-Range", request("PATCH", upload, "abc", {"Content-Range: 12-10"}), 416,
       "RANGE_INVALID"},
      {"Content-Range against Content-Length",
       request("PATCH", upload, "abc", {"Content-Range: 10-99"}), 400, "SIZE_INVALID"},
      {"unknown upload id, GET", request("GET", unknownUpload), 404, "BLOB_UPLOAD_UNKNOWN"},
      {"unknown upload id, PATCH", request("PATCH", unknownUpload, "abc"), 404,
       "BLOB_UPLOAD_UNKNOWN"},
      {"unknown upload id, PUT",
       request("PUT", unknownUpload + "?digest=" + digestOf("abc"), "abc"), 404,
       "BLOB_UPLOAD_UNKNOWN"},
      {"unknown upload id, DELETE", request("DELETE", unknownUpload), 404, "BLOB_UPLOAD_UNKNOWN"},
      {"PUT without digest", request("PUT", upload, ""), 400, "DIGEST_INVALID"},
      {"range past the end",
       request("GET", "/v2/good/app/blobs/" + digest, "", {"Range: bytes=50000-"}), 416,
       "RANGE_INVALID"},
      {"range far past the end",
       request("GET", "/v2/good/app/blobs/" + digest, "", {"Range: bytes=9999999999999999999-"}),
       416, "RANGE_INVALID"},
      // HTTP framing.
      {"garbage request line", "GARBAGE\r\n\r\n", 400, "UNKNOWN"},
      {"binary noise", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400,
       "UNKNOWN"},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "UNKNOWN"},
      {"unknown method", request("BREW", "/v2/"), 405, "UNSUPPORTED"},
      {"head over 64 KiB", "GET /v2/ HTTP/1.1\r\nX-Junk: " + std::string(100000, 'j') + "\r\n\r\n",
       431, "UNKNOWN"},
      {"many headers",
       "GET /v2/ HTTP/1.1\r\n" +
           [] {
             std::string s;
             for (int i = 0; i < 8000; ++i) s += "X" + std::to_string(i) + ": y\r\n";
             return s;
           }() +
           "\r\n",
       431, "UNKNOWN"},
      {"Content-Length and chunked",
       "POST /v2/good/app/blobs/uploads/ HTTP/1.1\r\nContent-Length: 3\r\n"
       "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
       400, "UNKNOWN"},
      {"conflicting Content-Length",
       "PATCH " + upload + " HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400,
       "UNKNOWN"},
      {"negative Content-Length", "PATCH " + upload + " HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
       400, "UNKNOWN"},
      {"huge Content-Length",
       "PATCH " + upload + " HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400,
       "UNKNOWN"},
      {"bad chunk size",
       "PATCH " + upload + " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
       400, "UNKNOWN"},
      {"chunk size overflow",
       "PATCH " + upload + " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
           std::string(40, 'f') + "\r\nabc\r\n",
       400, "UNKNOWN"},
      {"unsupported transfer coding",
       "PATCH " + upload + " HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "UNKNOWN"},
      {"header folding", "GET /v2/ HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n", 400, "UNKNOWN"},
      {"space in target", "GET /v2/ x HTTP/1.1\r\n\r\n", 400, "UNKNOWN"},
      {"control byte in target", "GET /v2/\x01 HTTP/1.1\r\n\r\n", 400, "UNKNOWN"},
      {"HTTP/0.9", "GET /v2/\r\n\r\n", 400, "UNKNOWN"},
      {"HTTP/3.0", "GET /v2/ HTTP/3.0\r\n\r\n", 400, "UNKNOWN"},
  };

  int n = 0;
  for (const BadRequest& t : table) {
    SCOPED_TRACE(t.what);
    auto start = Clock::now();
    HttpConnection c(server->port(), std::chrono::seconds(10));
    ASSERT_TRUE(c.connect());
    c.send(t.raw);
    auto r = c.receive();
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    ASSERT_TRUE(r) << t.what << ": no answer (" << took << " ms)";
    EXPECT_EQ(r->status, t.status) << t.what << ": " << r->body;
    EXPECT_LT(r->status, 500) << t.what;
    if (!t.code.empty()) {
      EXPECT_EQ(r->code(), t.code) << t.what << ": " << r->body;
      EXPECT_EQ(r->body.rfind("{\"errors\":[{\"code\":", 0), 0u) << t.what << ": " << r->body;
      EXPECT_EQ(r->header("content-type"), "application/json; charset=utf-8") << t.what;
    }
    EXPECT_EQ(r->header("docker-distribution-api-version"), "registry/2.0") << t.what;
    n++;
  }
  std::cout << "[ hostile  ] " << n << " malformed requests answered\n";

  // The server survived all of it, and the good image and session are intact.
  HttpConnection c(server->port());
  auto r = c.request("GET", "/v2/good/app/manifests/v1", {}, {"Accept: " + kOciManifestType});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, manifest);
  r = c.request("GET", upload);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("range"), "0-9");
  r = c.request("PUT", upload + "?digest=" + digestOf("0123456789"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;

  // Nothing written beside the store, nothing half-written or stray inside it.
  EXPECT_EQ(outsideTheStore(), outsideBefore);
  StoreReport report = checkStore(server->root());
  EXPECT_TRUE(report.clean()) << report.describe();
  EXPECT_EQ(report.tempFiles, 0u);
  EXPECT_EQ(listTree(server->root()).find("escape"), std::string::npos);
  Store store = Store::openLocal(server->root());
  EXPECT_FALSE(store.statBlob(Digest::of("content")));
  EXPECT_FALSE(store.statBlob(Digest::of(bigManifest)));
  EXPECT_EQ(store.catalog(100), std::vector<std::string>{"good/app"});
  EXPECT_EQ(store.repository(RepoName::parse("good/app")).listTags().size(), 1u);
}

// What registry:2 stores, regfs stores too, byte for byte, read as Go's decoder (and so
// distribution and the clients) reads it: repeated and differently cased keys (the last one
// counts), strings that are not UTF-8, lone UTF-16 surrogates, a negative size.
TEST_F(HostileInputTest, ManifestsRegistry2StoresAreStoredByteExact) {
  std::string top = "{\"schemaVersion\":2,";
  ASSERT_EQ(manifest.rfind(top, 0), 0u);
  std::string body = manifest.substr(top.size(), manifest.size() - top.size() - 1);
  std::string configSize = "\"size\":" + std::to_string(config.size());
  std::string negative = manifest;
  negative.replace(negative.find(configSize), configSize.size(), "\"size\":-1");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a repeated key", top + "\"schemaVersion\":2," + body + "}"},
      {"a cased key", top + "\"MediaType\":\"" + kOciManifestType + "\"," + body + "}"},
      {"not UTF-8", top + body + ",\"annotations\":{\"a\":\"\xff\xfe\"}}"},
      {"a lone surrogate", top + body + ",\"annotations\":{\"a\":\"\\ud800\"}}"},
      {"a negative size", negative},
  };
  HttpConnection c(server->port());
  int n = 0;
  for (const auto& [what, bytes] : cases) {
    std::string tag = "lenient" + std::to_string(n++);
    auto r = c.request("PUT", "/v2/good/app/manifests/" + tag, bytes,
                       {"Content-Type: " + kOciManifestType});
    ASSERT_TRUE(r) << what;
    EXPECT_EQ(r->status, 201) << what << ": " << r->body;
    EXPECT_EQ(r->header("docker-content-digest"), digestOf(bytes)) << what;
    r = c.request("GET", "/v2/good/app/manifests/" + tag, {}, {"Accept: " + kOciManifestType});
    ASSERT_TRUE(r) << what;
    EXPECT_EQ(r->status, 200) << what;
    EXPECT_EQ(r->body, bytes) << what;
  }
  // A repeated key whose last value names a blob the repository lacks is refused, as the
  // blob Go's decoder reads is checked.
  std::string missing = digestOf("not pushed");
  std::string layerDigest = digestOf(layer);
  std::string twice = manifest;
  twice.replace(twice.find(layerDigest), layerDigest.size(),
                layerDigest + "\",\"digest\":\"" + missing);
  auto r = c.request("PUT", "/v2/good/app/manifests/twice", twice,
                     {"Content-Type: " + kOciManifestType});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(r->code(), "MANIFEST_BLOB_UNKNOWN") << r->body;
}

// A client that stops sending half-way through a body: the answer it never waits for does
// not matter, but the store keeps no blob for it, the session keeps what arrived, and
// another client can finish it.
TEST_F(HostileInputTest, TruncatedBodiesAndDisconnectsLeaveNoBlobAndResumableSessions) {
  std::string blob = randomBytes(3 << 20, 11);
  {
    // A monolithic push that ends early: Content-Length promises more than is sent.
    HttpConnection c(server->port(), std::chrono::seconds(2));
    ASSERT_TRUE(c.connect());
    std::string head = "POST /v2/good/app/blobs/uploads/?digest=" + digestOf(blob) +
                       " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(blob.size()) +
                       "\r\n\r\n";
    ASSERT_TRUE(c.send(head + blob.substr(0, blob.size() / 3)));
  }
  {
    // A chunked-encoding PATCH cut inside a chunk.
    HttpConnection c(server->port(), std::chrono::seconds(2));
    ASSERT_TRUE(c.connect());
    ASSERT_TRUE(c.send("PATCH " + upload +
                       " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "100000\r\n" +
                       blob.substr(0, 1000)));
  }
  {
    // A PATCH with Content-Length that disconnects after 1 MiB, then the client resumes.
    HttpConnection c(server->port(), std::chrono::seconds(2));
    auto r = c.request("POST", "/v2/good/app/blobs/uploads/");
    ASSERT_EQ(r->status, 202);
    std::string location = r->header("location");
    ASSERT_TRUE(c.send("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                       std::to_string(blob.size()) + "\r\n\r\n" + blob.substr(0, 1 << 20)));
    c.close();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    HttpConnection d(server->port());
    r = d.request("GET", location);
    ASSERT_EQ(r->status, 204);
    std::string range = r->header("range");
    uint64_t have = std::stoull(range.substr(range.find('-') + 1)) + 1;
    ASSERT_LE(have, blob.size());
    r = d.request(
        "PATCH", location, std::string_view(blob).substr(have),
        {"Content-Range: " + std::to_string(have) + "-" + std::to_string(blob.size() - 1)});
    ASSERT_EQ(r->status, 202) << r->body;
    r = d.request("PUT", r->header("location") + "?digest=" + digestOf(blob));
    ASSERT_EQ(r->status, 201) << r->body;
    r = d.request("GET", "/v2/good/app/blobs/" + digestOf(blob));
    EXPECT_TRUE(r->body == blob);
  }
  expectProbeServed("after truncated bodies");
  // The cut monolithic push leaves no session (its client never learnt of it); the cut
  // PATCH leaves its session for the client to resume.
  Store store = Store::openLocal(server->root());
  auto sessions = store.repository(RepoName::parse("good/app")).listUploads();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_NE(upload.find(sessions[0].uuid), std::string::npos);
  StoreReport report = checkStore(server->root());
  EXPECT_TRUE(report.clean()) << report.describe();
  EXPECT_EQ(report.tempFiles, 0u);
  EXPECT_EQ(outsideTheStore(), outsideBefore);
}

TEST_F(HostileInputTest, HalfOpenConnectionsAndSlowlorisDoNotStarveOthers) {
  // Hundreds of connections that never finish a request head (or never send a byte).
  std::vector<std::unique_ptr<HttpConnection>> idle;
  for (int i = 0; i < 400; ++i) {
    auto c = std::make_unique<HttpConnection>(server->port(), std::chrono::seconds(1));
    ASSERT_TRUE(c->connect()) << i;
    if (i % 2) c->send("GET /v2/good/app/tags/list HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    if (i % 4 == 1) c->send("PATCH " + upload + " HTTP/1.1\r\nContent-Length: 100000\r\n\r\nabc");
    idle.push_back(std::move(c));
  }
  expectProbeServed("400 half-open connections");

  // A slowloris client: one byte of its head every 20 ms, while probes come and go.
  std::atomic<bool> done{false};
  std::string slowAnswer;
  std::thread slow([&] {
    HttpConnection c(server->port(), std::chrono::seconds(10));
    c.connect();
    std::string head = "GET /v2/good/app/tags/list HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " +
                       std::string(60, 'p') + "\r\n\r\n";
    for (char ch : head) {
      if (!c.send(std::string_view(&ch, 1))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto r = c.receive();
    slowAnswer = r ? std::to_string(r->status) : "none";
    done = true;
  });
  int probes = 0;
  while (!done.load()) {
    expectProbeServed("a slowloris client");
    probes++;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  slow.join();
  EXPECT_GT(probes, 5);
  // The slow client is served like any other once its request is complete.
  EXPECT_EQ(slowAnswer, "200");
  idle.clear();
  expectProbeServed("after the abuse");
  StoreReport report = checkStore(server->root());
  EXPECT_TRUE(report.clean()) << report.describe();
}

}  // namespace
}  // namespace regfs::testing
