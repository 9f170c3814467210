// regfs-server over https with htpasswd and token auth, checked with curl and raw sockets:
// the classic registry:2 setup from environment variables, challenges and error bodies,
// login throttling, mutual TLS, bad TLS configuration, plain HTTP on the https port,
// clients that connect and never finish a handshake, and large blobs, ranges and aborted
// downloads over TLS.

#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/base64.h"
#include "support/http_client.h"
#include "support/poll.h"
#include "support/process.h"
#include "support/server.h"
#include "support/tls.h"

namespace regfs {
namespace {

using namespace regfs::testing;
namespace fs = std::filesystem;

constexpr char kUser[] = "registry";
constexpr char kPassword[] = "LSR1142.registry";

// The seed setup: htpasswd -Bbn and the REGISTRY_* variables of the registry:2 docs.
struct ClassicSetup {
  TempDir dir;
  ServerCertificate cert = makeServerCertificate(dir / "certs");
  fs::path htpasswd = dir / "auth/htpasswd";
  std::unique_ptr<RegfsServer> server;

  explicit ClassicSetup(std::string extraConfig = "", std::map<std::string, std::string> env = {}) {
    fs::create_directories(dir / "auth");
    CommandResult h = run({"htpasswd", "-Bbn", kUser, kPassword});
    if (h.status != 0) throw std::runtime_error("htpasswd failed: " + h.err);
    writeFile(htpasswd, h.out);
    env["REGISTRY_HTTP_TLS_CERTIFICATE"] = cert.cert.string();
    env["REGISTRY_HTTP_TLS_KEY"] = cert.key.string();
    env["REGISTRY_AUTH"] = "htpasswd";
    env["REGISTRY_AUTH_HTPASSWD_REALM"] = "Registry Realm";
    env["REGISTRY_AUTH_HTPASSWD_PATH"] = htpasswd.string();
    RegfsServerOptions o;
    o.env = env;
    o.extraConfig = std::move(extraConfig);
    server = std::make_unique<RegfsServer>(fs::path(), o);
  }
  std::string url(const std::string& path) const { return "https://" + server->host() + path; }
  std::vector<std::string> ca() const { return {"--cacert", cert.cert.string()}; }
  std::vector<std::string> ca(std::vector<std::string> more) const {
    more.insert(more.begin(), {"--cacert", cert.cert.string()});
    return more;
  }
};

TEST(TlsAuth, ClassicSetupWithCurl) {
  ClassicSetup s;
  Reply anon = http("GET", s.url("/v2/_catalog"), s.ca());
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(anon.header("www-authenticate"), "Basic realm=\"Registry Realm\"");
  EXPECT_EQ(anon.code(), "UNAUTHORIZED");
  EXPECT_NE(anon.body.find("authentication required"), std::string::npos) << anon.body;

  Reply ok = http("GET", s.url("/v2/_catalog"), s.ca({"-u", std::string(kUser) + ":" + kPassword}));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, "{\"repositories\":[]}\n");
  EXPECT_EQ(http("GET", s.url("/v2/"), s.ca({"-u", std::string(kUser) + ":" + kPassword})).status,
            200);

  Reply wrong = http("GET", s.url("/v2/_catalog"), s.ca({"-u", std::string(kUser) + ":nope"}));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.code(), "UNAUTHORIZED");
  EXPECT_EQ(http("GET", s.url("/v2/"), s.ca({"-u", std::string("nobody:") + kPassword})).status,
            401);

  // Credentials never reach the log.
  std::string log = s.server->log();
  EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  EXPECT_EQ(log.find(base64Encode(std::string(kUser) + ":" + kPassword)), std::string::npos) << log;
  EXPECT_EQ(log.find("Authorization"), std::string::npos) << log;
  EXPECT_NE(log.find("https"), std::string::npos) << log;
}

TEST(TlsAuth, PushAndPullWithCurlOverTls) {
  ClassicSetup s;
  auto auth = s.ca({"-u", std::string(kUser) + ":" + kPassword});
  std::string blob(3 << 20, 'x');
  for (size_t i = 0; i < blob.size(); i += 4096) blob[i] = static_cast<char>('a' + (i / 4096) % 26);
  TempDir d;
  writeFile(d / "blob", blob);
  std::string digest = digestOf(blob);
  auto put = auth;
  put.insert(put.end(), {"--data-binary", "@" + (d / "blob").string(), "-H",
                         "Content-Type: application/octet-stream"});
  Reply pushed = http("POST", s.url("/v2/tls/repo/blobs/uploads/?digest=" + digest), put);
  EXPECT_EQ(pushed.status, 201) << pushed.body;
  auto get = auth;
  get.insert(get.end(), {"-o", (d / "out").string(), "-w", "%{http_code}"});
  CommandResult c = curl({"-s", "-X", "GET", s.url("/v2/tls/repo/blobs/" + digest), "--cacert",
                          s.cert.cert.string(), "-u", std::string(kUser) + ":" + kPassword, "-o",
                          (d / "out").string(), "-w", "%{http_code}"});
  EXPECT_EQ(c.out, "200") << c.err;
  EXPECT_EQ(readFile(d / "out"), blob);
  // A range, and several requests on one kept-alive connection.
  CommandResult r =
      curl({"-s", "--cacert", s.cert.cert.string(), "-u", std::string(kUser) + ":" + kPassword,
            "-r", "4096-4099", s.url("/v2/tls/repo/blobs/" + digest), s.url("/v2/")});
  EXPECT_EQ(r.out.substr(0, 4), blob.substr(4096, 4)) << r.err;
  EXPECT_EQ(r.out.substr(4), "{}");
}

int openDescriptors(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    n++;
  return n;
}

TEST(TlsAuth, LargeBlobsRangesAndAbortedDownloadsOverTls) {
  ClassicSetup s;
  std::string user = std::string(kUser) + ":" + kPassword;
  // Many pieces of the TLS file path, the last one short.
  std::string blob = randomBytes((21 << 20) + 4567, 3);
  TempDir d;
  writeFile(d / "blob", blob);
  std::string digest = digestOf(blob);
  Reply pushed = http("POST", s.url("/v2/tls/big/blobs/uploads/?digest=" + digest),
                      s.ca({"-u", user, "--data-binary", "@" + (d / "blob").string(), "-H",
                            "Content-Type: application/octet-stream"}));
  ASSERT_EQ(pushed.status, 201) << pushed.body;
  std::string url = s.url("/v2/tls/big/blobs/" + digest);

  // Twice on one connection: the second response starts where the first ended.
  CommandResult c = curl({"-sS", "--cacert", s.cert.cert.string(), "-u", user, "-o",
                          (d / "one").string(), url, "-o", (d / "two").string(), url});
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(sha256Hex(readFile(d / "one")), sha256Hex(blob));
  EXPECT_EQ(sha256Hex(readFile(d / "two")), sha256Hex(blob));

  // Ranges at odd places: across piece boundaries, long ones, the last bytes.
  uint64_t size = blob.size();
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {{0, 0},
                                                       {262143, 262145},
                                                       {1000001, 5000003},
                                                       {(4 << 20) - 1, (12 << 20) + 1},
                                                       {size - 777, size - 1}};
  for (auto [first, last] : ranges) {
    std::string range = std::to_string(first) + "-" + std::to_string(last);
    CommandResult r = curl({"-sS", "--cacert", s.cert.cert.string(), "-u", user, "-r", range, "-o",
                            (d / "range").string(), "-w", "%{http_code}", url});
    EXPECT_EQ(r.out, "206") << range << ": " << r.err;
    EXPECT_TRUE(readFile(d / "range") == blob.substr(first, last - first + 1)) << range;
  }

  // Downloads cut short by the client leave no descriptor behind.
  curl({"-sS", "--cacert", s.cert.cert.string(), "-u", user, "-o", "/dev/null", url});
  int before = openDescriptors(s.server->pid());
  std::string aborted = "curl -s --cacert '" + s.cert.cert.string() + "' -u '" + user +
                        "' --limit-rate 2M --max-time 1 -o /dev/null '" + url + "'";
  std::string all;
  for (int i = 0; i < 12; ++i) all += aborted + " & ";
  sh(all + "wait");
  waitUntil([&] { return openDescriptors(s.server->pid()) <= before; }, std::chrono::seconds(5),
            std::chrono::milliseconds(50));
  EXPECT_LE(openDescriptors(s.server->pid()), before) << "aborted TLS downloads leak descriptors";
  c = curl(
      {"-sS", "--cacert", s.cert.cert.string(), "-u", user, "-o", (d / "after").string(), url});
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(sha256Hex(readFile(d / "after")), sha256Hex(blob));
}

TEST(TlsAuth, PlainHttpOnTheTlsPortIsRefusedAtOnce) {
  ClassicSetup s;
  auto start = std::chrono::steady_clock::now();
  std::string out = rawExchange(s.server->port(), "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n", 5000);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(out.starts_with("HTTP/1.0 400 Bad Request\r\n")) << out;
  EXPECT_NE(out.find("Client sent an HTTP request to an HTTPS server."), std::string::npos);
  EXPECT_LT(took, std::chrono::seconds(2));
  // curl speaking http to it gets the same answer.
  Reply r = http("GET", "http://" + s.server->host() + "/v2/");
  EXPECT_EQ(r.status, 400);
}

TEST(TlsAuth, SilentClientsDoNotStallOthers) {
  ClassicSetup s;
  std::vector<int> silent;
  for (int i = 0; i < 32; ++i) {
    int fd = connectLoopback(s.server->port());
    ASSERT_GE(fd, 0);
    silent.push_back(fd);
  }
  // One that sends half a ClientHello record header and stops.
  int half = connectLoopback(s.server->port());
  ASSERT_EQ(::send(half, "\x16\x03\x01", 3, 0), 3);
  silent.push_back(half);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    Reply r = http("GET", s.url("/v2/"),
                   s.ca({"-u", std::string(kUser) + ":" + kPassword, "--max-time", "5"}));
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  for (int fd : silent) ::close(fd);
}

TEST(TlsAuth, GarbageAuthorizationHeaders) {
  ClassicSetup s;
  for (const std::string& header :
       std::vector<std::string>{"Basic", "Basic !!!!", "Basic " + base64Encode("nocolon"),
                                "Basic " + base64Encode(":empty-user"), "Bearer abc.def.ghi",
                                "Digest x=y", "Basic " + std::string(20000, 'A'),
                                std::string("Basic ") + base64Encode(std::string("a\0b:c", 5))}) {
    Reply r = http("GET", s.url("/v2/"), s.ca({"-H", "Authorization: " + header}));
    EXPECT_EQ(r.status, 401) << header.substr(0, 40);
    EXPECT_EQ(r.code(), "UNAUTHORIZED");
  }
  EXPECT_EQ(http("GET", s.url("/v2/"), s.ca({"-u", std::string(kUser) + ":" + kPassword})).status,
            200);
}

TEST(TlsAuth, RepeatedWrongPasswordsAreThrottledPerAddress) {
  ClassicSetup s;
  int throttled = 0;
  Reply last;
  for (int i = 0; i < 10; ++i) {
    last =
        http("GET", s.url("/v2/"), s.ca({"-u", std::string(kUser) + ":wrong" + std::to_string(i)}));
    if (last.status == 429) throttled++;
  }
  EXPECT_GE(throttled, 3);
  EXPECT_EQ(last.status, 429);
  EXPECT_EQ(last.code(), "TOOMANYREQUESTS");
  EXPECT_GT(std::stoi(last.header("retry-after")), 0);
  // The right password from the throttled address waits too; from another address it works.
  EXPECT_EQ(http("GET", s.url("/v2/"), s.ca({"-u", std::string(kUser) + ":" + kPassword})).status,
            429);
  Reply other =
      http("GET", s.url("/v2/"),
           s.ca({"--interface", "127.0.0.2", "-u", std::string(kUser) + ":" + kPassword}));
  EXPECT_EQ(other.status, 200);
}

TEST(TlsAuth, BadHtpasswdLinesAreSkippedWithAWarning) {
  TempDir d;
  CommandResult h = run({"htpasswd", "-Bbn", kUser, kPassword});
  ASSERT_EQ(h.status, 0);
  writeFile(d / "htpasswd", "garbage line\nmd5user:$apr1$abc$def\n" + h.out + "\n:\n");
  RegfsServerOptions o;
  o.env = {{"REGISTRY_AUTH", "htpasswd"},
           {"REGISTRY_AUTH_HTPASSWD_REALM", "r"},
           {"REGISTRY_AUTH_HTPASSWD_PATH", (d / "htpasswd").string()}};
  RegfsServer server({}, o);
  EXPECT_EQ(http("GET", server.url() + "/v2/", {"-u", std::string(kUser) + ":" + kPassword}).status,
            200);
  EXPECT_EQ(http("GET", server.url() + "/v2/", {"-u", "md5user:x"}).status, 401);
  std::string log = server.log();
  EXPECT_NE(log.find("line 1"), std::string::npos) << log;
  EXPECT_EQ(log.find("$apr1$abc$def"), std::string::npos) << log;
}

TEST(TlsAuth, MissingHtpasswdFileIsCreatedAndItsPasswordShownOnce) {
  TempDir d;
  fs::path file = d / "auth/htpasswd";
  RegfsServerOptions o;
  o.env = {{"REGISTRY_AUTH", "htpasswd"},
           {"REGISTRY_AUTH_HTPASSWD_REALM", "r"},
           {"REGISTRY_AUTH_HTPASSWD_PATH", file.string()}};
  std::string password;
  {
    RegfsServer server(d / "store", o);
    std::string log = server.log();
    std::string marker = "with the user \"docker\" and the password ";
    size_t at = log.find(marker);
    ASSERT_NE(at, std::string::npos) << log;
    password = log.substr(at + marker.size(), log.find('\n', at) - at - marker.size());
    EXPECT_GE(password.size(), 16u);
    EXPECT_EQ(log.find(password), log.rfind(password)) << "shown once";
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(http("GET", server.url() + "/v2/", {"-u", "docker:" + password}).status, 200);
    EXPECT_EQ(server.stop(), 0);
  }
  RegfsServer again(d / "store", o);
  EXPECT_EQ(again.log().find(password), std::string::npos);
  EXPECT_EQ(http("GET", again.url() + "/v2/", {"-u", "docker:" + password}).status, 200);
}

TEST(TlsAuth, MutualTls) {
  TempDir d;
  ServerCertificate cert = makeServerCertificate(d / "server");
  ClientCertificates client = makeClientCertificates(d / "client");
  RegfsServerOptions o;
  o.extraConfig = "  tls:\n    certificate: " + cert.cert.string() +
                  "\n    key: " + cert.key.string() + "\n    clientcas:\n      - " +
                  client.caCert.string() + "\n";
  RegfsServer server({}, o);
  std::string url = "https://" + server.host() + "/v2/";
  CommandResult without = curl({"-s", "--max-time", "5", "--cacert", cert.cert.string(), url});
  EXPECT_NE(without.status, 0) << without.out;
  // A certificate from another CA is refused as well.
  CommandResult wrong = curl({"-s", "--max-time", "5", "--cacert", cert.cert.string(), "--cert",
                              cert.cert.string(), "--key", cert.key.string(), url});
  EXPECT_NE(wrong.status, 0) << wrong.out;
  Reply with = http("GET", url,
                    {"--cacert", cert.cert.string(), "--cert", client.cert.string(), "--key",
                     client.key.string()});
  EXPECT_EQ(with.status, 200);
  EXPECT_NE(server.log().find("TLS handshake error"), std::string::npos) << server.log();
}

TEST(TlsAuth, MinimumTlsVersion) {
  TempDir d;
  ServerCertificate cert = makeServerCertificate(d / "server");
  RegfsServerOptions o;
  o.env = {{"REGISTRY_HTTP_TLS_CERTIFICATE", cert.cert.string()},
           {"REGISTRY_HTTP_TLS_KEY", cert.key.string()},
           {"REGISTRY_HTTP_TLS_MINIMUMTLS", "tls1.3"}};
  RegfsServer server({}, o);
  std::string url = "https://" + server.host() + "/v2/";
  EXPECT_NE(curl({"-s", "--max-time", "5", "--cacert", cert.cert.string(), "--tls-max", "1.2", url})
                .status,
            0);
  EXPECT_EQ(http("GET", url, {"--cacert", cert.cert.string(), "--tlsv1.3"}).status, 200);
}

// regfs-server with `env` on a config that names nothing else; its exit status and stderr.
CommandResult startFails(const std::map<std::string, std::string>& env) {
  TempDir d;
  writeFile(d / "config.yml",
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + (d / "store").string() +
                "\nhttp:\n  addr: 127.0.0.1:" + std::to_string(freePort()) + "\n");
  std::map<std::string, std::string> all = env;
  return run({"timeout", "20", (binDir() / "regfs-server").string(), (d / "config.yml").string()},
             all);
}

TEST(TlsAuth, BadTlsConfigurationFailsAtStartNamingTheFile) {
  TempDir d;
  ServerCertificate cert = makeServerCertificate(d / "a");
  ServerCertificate other = makeServerCertificate(d / "b");
  writeFile(d / "garbage.pem", "not a certificate\n");
  struct Case {
    std::string cert, key, expect;
  } cases[] = {
      {(d / "missing.crt").string(), cert.key.string(), "missing.crt: No such file or directory"},
      {cert.cert.string(), (d / "missing.key").string(), "missing.key: No such file or directory"},
      {(d / "garbage.pem").string(), cert.key.string(),
       "garbage.pem holds no usable PEM certificate"},
      {cert.cert.string(), (d / "garbage.pem").string(),
       "garbage.pem holds no usable PEM private key"},
      {cert.cert.string(), other.key.string(), "does not match the certificate"},
  };
  for (const auto& c : cases) {
    CommandResult r =
        startFails({{"REGISTRY_HTTP_TLS_CERTIFICATE", c.cert}, {"REGISTRY_HTTP_TLS_KEY", c.key}});
    EXPECT_EQ(r.status, EX_CONFIG) << c.expect;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  CommandResult version = startFails({{"REGISTRY_HTTP_TLS_CERTIFICATE", cert.cert.string()},
                                      {"REGISTRY_HTTP_TLS_KEY", cert.key.string()},
                                      {"REGISTRY_HTTP_TLS_MINIMUMTLS", "tls9"}});
  EXPECT_EQ(version.status, EX_CONFIG);
  EXPECT_NE(version.err.find("http.tls.minimumtls"), std::string::npos) << version.err;
  CommandResult ca =
      startFails({{"REGISTRY_HTTP_TLS_CERTIFICATE", cert.cert.string()},
                  {"REGISTRY_HTTP_TLS_KEY", cert.key.string()},
                  {"REGISTRY_HTTP_TLS_CLIENTCAS", "[" + (d / "garbage.pem").string() + "]"}});
  EXPECT_EQ(ca.status, EX_CONFIG);
  EXPECT_NE(ca.err.find("http.tls.clientcas"), std::string::npos) << ca.err;
  CommandResult token =
      startFails({{"REGISTRY_AUTH", "token"},
                  {"REGISTRY_AUTH_TOKEN_REALM", "http://x/token"},
                  {"REGISTRY_AUTH_TOKEN_SERVICE", "s"},
                  {"REGISTRY_AUTH_TOKEN_ISSUER", "i"},
                  {"REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE", (d / "missing.pem").string()}});
  EXPECT_EQ(token.status, EX_CONFIG);
  EXPECT_NE(token.err.find("missing.pem"), std::string::npos) << token.err;
}

// Token auth at the HTTP level: the challenge, and tokens from the test token server.
TEST(TokenAuth, ChallengeAndTokens) {
  TokenServer tokens("regfs-test-issuer", "regfs-test");
  RegfsServerOptions o;
  o.extraConfig = tokens.registryConfig();
  RegfsServer server({}, o);
  Reply anon = http("GET", server.url() + "/v2/some/repo/tags/list");
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(anon.header("www-authenticate"),
            "Bearer realm=\"" + tokens.realm() +
                "\",service=\"regfs-test\",scope=\"repository:some/repo:pull\"");
  auto token = [&](const std::string& user, const std::string& scope) {
    return tokens.token(user, scope);
  };
  std::string pull = token("puller:pull-secret", "repository:some/repo:pull,push");
  Reply listed = http("GET", server.url() + "/v2/some/repo/tags/list",
                      {"-H", "Authorization: Bearer " + pull});
  EXPECT_EQ(listed.status, 404) << listed.body;  // allowed; the repository does not exist
  EXPECT_EQ(listed.code(), "NAME_UNKNOWN");
  Reply push = http("POST", server.url() + "/v2/some/repo/blobs/uploads/",
                    {"-H", "Authorization: Bearer " + pull});
  EXPECT_EQ(push.status, 401);
  EXPECT_NE(push.header("www-authenticate").find("error=\"insufficient_scope\""),
            std::string::npos);
  std::string both = token("pusher:push-secret", "repository:some/repo:pull,push");
  EXPECT_EQ(http("POST", server.url() + "/v2/some/repo/blobs/uploads/",
                 {"-H", "Authorization: Bearer " + both})
                .status,
            202);
  std::string late = token("late:late-secret", "repository:some/repo:pull,push");
  Reply expired = http("GET", server.url() + "/v2/some/repo/tags/list",
                       {"-H", "Authorization: Bearer " + late});
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.header("www-authenticate").find("error=\"invalid_token\""), std::string::npos);
  EXPECT_EQ(server.log().find(both), std::string::npos);
}

}  // namespace
}  // namespace regfs
