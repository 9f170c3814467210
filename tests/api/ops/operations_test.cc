// What a team running regfs-server in production relies on: metrics in Prometheus's
// format (checked with promtool), the storage health check and its 503s, JSON log lines,
// webhook notifications (delivered, retried, never blocking requests) and the drain on
// SIGTERM. Real server processes; a python3 stdlib webhook receiver.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>

#include "api/ops/health.h"
#include "api/ops/logging.h"
#include "api/ops/metrics.h"
#include "api/ops/notifications.h"
#include "api/ops/operations.h"
#include "api/registry/router.h"
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

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kAcceptOci = "Accept: " + kOciManifestType;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// A regfs-server with a debug listener, configured through REGISTRY_* variables.
struct OpsServer {
  int debugPort = freePort();
  std::unique_ptr<RegfsServer> server;
  OpsServer(const std::filesystem::path& root, std::string extraConfig,
            std::map<std::string, std::string> env = {}) {
    env["REGISTRY_HTTP_DEBUG_ADDR"] = "127.0.0.1:" + std::to_string(debugPort);
    RegfsServerOptions o;
    o.extraConfig = std::move(extraConfig);
    o.env = std::move(env);
    server = std::make_unique<RegfsServer>(root, o);
    EXPECT_TRUE(waitForPort(debugPort)) << server->log();
  }
  std::string debugUrl() const { return "http://127.0.0.1:" + std::to_string(debugPort); }
};

class OpsTest : public ::testing::Test {
 protected:
  TempDir work;
  // Pushes a config blob, a layer and an OCI manifest tagged `tag`; returns the manifest digest.
  std::string pushSmallImage(RegfsServer& s, const std::string& repo, const std::string& tag) {
    ImageBytes image =
        ociImage("{\"architecture\":\"amd64\",\"os\":\"linux\",\"tag\":\"" + tag + "\"}",
                 {"layer bytes of " + tag});
    HttpConnection c(s.port());
    Reply r = pushImage(c, repo, tag, image).value_or(Reply{});
    EXPECT_EQ(r.status, 201) << r.body;
    return image.digest();
  }
};

// ---- unit level ----

TEST(MetricsUnit, HandlersAreTheRouterResourcesAndNeverRawPaths) {
  struct Case {
    std::string path;
    api::Handler handler;
  } cases[] = {
      {"/v2/", api::Handler::kBase},
      {"/v2", api::Handler::kBase},
      {"/v2/_catalog", api::Handler::kCatalog},
      {"/v2/library/alpine/tags/list", api::Handler::kTags},
      {"/v2/library/alpine/manifests/latest", api::Handler::kManifest},
      {"/v2/a/manifests/b/manifests/sha256:00", api::Handler::kManifest},
      {"/v2/a/blobs/sha256:00", api::Handler::kBlob},
      {"/v2/blobs/blobs/uploads/", api::Handler::kBlobUpload},
      {"/v2/a/b/blobs/uploads/0d2a-uuid", api::Handler::kBlobUploadChunk},
      {"/v2/a/referrers/sha256:00", api::Handler::kReferrers},
      {"/v2/a/_regfs/files/latest/etc/os-release", api::Handler::kFiles},
      {"/v2/a/_regfs/files/latest/x/blobs/sha256:00", api::Handler::kFiles},
      {"/v2/a/_regfs/files/latest/x/manifests/y", api::Handler::kFiles},
      {"/v2/_regfs/catalog", api::Handler::kUi},
      {"/v2/a/_regfs/tags", api::Handler::kUi},
      {"/v2/a/_regfs/image/latest", api::Handler::kUi},
      {"/v3/x", api::Handler::kNotFound},
      {"/v2/a/unknown/thing", api::Handler::kNotFound},
  };
  for (const auto& c : cases) EXPECT_EQ(api::classifyHandler(c.path), c.handler) << c.path;
}

TEST(MetricsUnit, ConcurrentObservationsAllCount) {
  api::Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) m.observe(api::Handler::kManifest, "GET", 200, 0, 100, 1ms);
    });
  }
  for (auto& t : threads) t.join();
  std::string text = m.render();
  EXPECT_NE(
      text.find(
          "registry_http_requests_total{code=\"200\",handler=\"manifest\",method=\"GET\"} 80000\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("registry_http_response_bytes_total{handler=\"manifest\"} 8000000\n"),
            std::string::npos);
  EXPECT_NE(
      text.find(
          "registry_http_request_duration_seconds_bucket{handler=\"manifest\",method=\"GET\",le="
          "\"0.001\"} 80000\n"),
      std::string::npos);
}

TEST(LoggingUnit, JsonLinesAreJsonWithTheFieldsAndEscapes) {
  std::string line =
      api::formatLine(api::LogFormat::kJson, "2024-01-01T00:00:00.000Z", "info",
                      "a \"quoted\"\nmessage\x01", {{"service", "registry"}},
                      {api::LogField::str("path", "/v2/x?y=\"z\""),
                       api::LogField::num("status", 200), api::LogField::num("duration", 0.25)});
  rapidjson::Document d;
  d.Parse(line.c_str());
  ASSERT_FALSE(d.HasParseError()) << line;
  EXPECT_STREQ(d["msg"].GetString(), "a \"quoted\"\nmessage\x01");
  EXPECT_STREQ(d["level"].GetString(), "info");
  EXPECT_STREQ(d["time"].GetString(), "2024-01-01T00:00:00.000Z");
  EXPECT_STREQ(d["service"].GetString(), "registry");
  EXPECT_EQ(d["status"].GetInt(), 200);
  EXPECT_DOUBLE_EQ(d["duration"].GetDouble(), 0.25);
  std::string text =
      api::formatLine(api::LogFormat::kText, "T", "info", "hello world", {{"service", "registry"}},
                      {api::LogField::num("status", 404)});
  EXPECT_EQ(text, "time=\"T\" level=info msg=\"hello world\" status=404 service=registry");
}

TEST(NotificationsUnit, EventJsonHasDistributionsFields) {
  api::NotificationEvent e;
  e.action = "push";
  e.mediaType = "application/vnd.oci.image.manifest.v1+json";
  e.size = 42;
  e.digest = "sha256:abc";
  e.repository = "library/app";
  e.url = "http://reg/v2/library/app/manifests/sha256:abc";
  e.tag = "latest";
  e.requestId = "rid";
  e.addr = "10.0.0.1";
  e.host = "reg";
  e.method = "PUT";
  e.userAgent = "docker/24";
  e.actor = "alice";
  std::string json =
      api::eventJson(e, {"host:5000", "iid"}, std::chrono::system_clock::time_point{});
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError()) << json;
  EXPECT_EQ(std::string(d["id"].GetString()).size(), 36u);
  EXPECT_STREQ(d["timestamp"].GetString(), "1970-01-01T00:00:00.000000000Z");
  EXPECT_STREQ(d["action"].GetString(), "push");
  const auto& t = d["target"];
  EXPECT_STREQ(t["mediaType"].GetString(), "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(t["size"].GetInt(), 42);
  EXPECT_EQ(t["length"].GetInt(), 42);
  EXPECT_STREQ(t["digest"].GetString(), "sha256:abc");
  EXPECT_STREQ(t["repository"].GetString(), "library/app");
  EXPECT_STREQ(t["url"].GetString(), "http://reg/v2/library/app/manifests/sha256:abc");
  EXPECT_STREQ(t["tag"].GetString(), "latest");
  EXPECT_STREQ(d["request"]["id"].GetString(), "rid");
  EXPECT_STREQ(d["request"]["addr"].GetString(), "10.0.0.1");
  EXPECT_STREQ(d["request"]["host"].GetString(), "reg");
  EXPECT_STREQ(d["request"]["method"].GetString(), "PUT");
  EXPECT_STREQ(d["request"]["useragent"].GetString(), "docker/24");
  EXPECT_STREQ(d["actor"]["name"].GetString(), "alice");
  EXPECT_STREQ(d["source"]["addr"].GetString(), "host:5000");
  EXPECT_STREQ(d["source"]["instanceID"].GetString(), "iid");
}

TEST(NotificationsUnit, AFullQueueDropsAndCountsInsteadOfBlocking) {
  // An endpoint that accepts connections but never answers: the sender sits on its first
  // event while publish() keeps returning at once.
  LoopbackListener silent(0, false);
  NotificationsConfig config;
  NotificationEndpoint ep;
  ep.name = "silent";
  ep.url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/events";
  ep.timeout = 2s;
  config.endpoints.push_back(ep);
  {
    api::Notifier notifier(config, {"h:1", "i"}, 4);
    api::NotificationEvent e;
    e.action = "pull";
    auto started = Clock::now();
    for (int i = 0; i < 100; ++i) notifier.publish(e);
    EXPECT_LT(Clock::now() - started, 1s);
    std::string text;
    notifier.collect(text);
    // One in flight (maybe not yet taken off the queue) and four queued; the rest dropped.
    bool dropped = text.find("type=\"dropped\"} 95\n") != std::string::npos ||
                   text.find("type=\"dropped\"} 96\n") != std::string::npos;
    EXPECT_TRUE(dropped) << text;
    EXPECT_NE(text.find("registry_notifications_pending{endpoint=\"silent\"} 4\n"),
              std::string::npos)
        << text;
    notifier.stop(0ms);
  }
}

// ---- against a real server ----

TEST_F(OpsTest, MetricsPassPromtoolAndCountRequestsBlobsAndRepositories) {
  ASSERT_TRUE(haveProgram("promtool")) << "promtool (Debian package prometheus) is required";
  OpsServer o(work / "store", "",
              {{"REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED", "true"},
               {"REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH", "/prom"}});
  RegfsServer& s = *o.server;
  std::string digest = pushSmallImage(s, "team/app", "v1");
  EXPECT_EQ(http("GET", s.url() + "/v2/team/app/manifests/v1", {"-H", kAcceptOci}).status, 200);
  EXPECT_EQ(http("GET", s.url() + "/v2/team/app/manifests/nope").status, 404);
  EXPECT_EQ(http("GET", s.url() + "/some/raw/path/42").status, 404);

  Reply m = http("GET", o.debugUrl() + "/prom");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& t = m.body;
  EXPECT_NE(
      t.find("registry_http_requests_total{code=\"200\",handler=\"manifest\",method=\"GET\"} 1\n"),
      std::string::npos)
      << t;
  EXPECT_NE(
      t.find("registry_http_requests_total{code=\"404\",handler=\"manifest\",method=\"GET\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      t.find("registry_http_requests_total{code=\"201\",handler=\"manifest\",method=\"PUT\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      t.find(
          "registry_http_requests_total{code=\"201\",handler=\"blob_upload\",method=\"POST\"} 2\n"),
      std::string::npos);
  EXPECT_NE(
      t.find("registry_http_requests_total{code=\"404\",handler=\"not_found\",method=\"GET\"} 1\n"),
      std::string::npos);
  EXPECT_EQ(t.find("/some/raw/path"), std::string::npos);
  EXPECT_NE(
      t.find(
          "registry_http_request_duration_seconds_count{handler=\"manifest\",method=\"GET\"} 2\n"),
      std::string::npos);
  EXPECT_NE(t.find("registry_http_request_bytes_total{handler=\"manifest\"}"), std::string::npos);
  EXPECT_NE(t.find("registry_http_response_bytes_total{handler=\"manifest\"}"), std::string::npos);
  EXPECT_NE(t.find("registry_http_in_flight_requests 0\n"), std::string::npos);
  EXPECT_NE(t.find("regfs_build_info{version="), std::string::npos);

  // The store is counted at start; a second server on the same store sees the image.
  OpsServer second(s.root(), "");
  ASSERT_TRUE(waitUntil([&] {
    return http("GET", second.debugUrl() + "/metrics").body.find("regfs_store_blobs 3\n") !=
           std::string::npos;
  }));
  std::string t2 = http("GET", second.debugUrl() + "/metrics").body;
  EXPECT_NE(t2.find("regfs_store_repositories 1\n"), std::string::npos) << t2;
  EXPECT_NE(t2.find("regfs_store_uploads_in_progress 0\n"), std::string::npos) << t2;

  for (const std::string& url :
       {o.debugUrl() + "/prom", o.debugUrl() + "/metrics", second.debugUrl() + "/metrics"}) {
    CommandResult c = sh("curl -sf " + url + " | promtool check metrics");
    EXPECT_EQ(c.status, 0) << url << "\n" << c.out << c.err;
  }
  (void)digest;
}

TEST_F(OpsTest, StorageHealthFailsThenRecoversAndGatesTheApi) {
  auto root = work / "store";
  OpsServer o(
      root,
      "health:\n  storagedriver:\n    enabled: true\n    interval: 100ms\n    threshold: 2\n");
  RegfsServer& s = *o.server;
  Reply h = http("GET", o.debugUrl() + "/debug/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "{}\n");
  EXPECT_EQ(http("GET", o.debugUrl() + "/readyz").status, 200);
  EXPECT_EQ(http("GET", s.url() + "/v2/").status, 200);

  // The rootdirectory turns into a plain file: stat still works, writing does not.
  std::filesystem::rename(root, work / "moved");
  writeFile(root, "not a directory");
  ASSERT_TRUE(waitUntil([&] { return http("GET", o.debugUrl() + "/debug/health").status == 503; }));
  h = http("GET", o.debugUrl() + "/debug/health");
  rapidjson::Document d;
  d.Parse(h.body.c_str());
  ASSERT_FALSE(d.HasParseError()) << h.body;
  ASSERT_TRUE(d.HasMember("storagedriver_filesystem")) << h.body;
  Reply api = http("GET", s.url() + "/v2/");
  EXPECT_EQ(api.status, 503);
  EXPECT_EQ(api.code(), "UNAVAILABLE");
  EXPECT_EQ(http("GET", o.debugUrl() + "/readyz").status, 503);
  EXPECT_EQ(http("GET", o.debugUrl() + "/healthz").status, 200);
  EXPECT_NE(http("GET", o.debugUrl() + "/metrics").body.find("regfs_storage_healthy 0\n"),
            std::string::npos);

  std::filesystem::remove(root);
  std::filesystem::rename(work / "moved", root);
  ASSERT_TRUE(waitUntil([&] { return http("GET", o.debugUrl() + "/debug/health").status == 200; }));
  EXPECT_EQ(http("GET", s.url() + "/v2/").status, 200);
  EXPECT_EQ(http("GET", o.debugUrl() + "/readyz").status, 200);
}

// ---- health checks beyond the storage probe ----

// python3's http.server over an empty directory on a free port: HEAD / answers 200, any
// other path 404.
struct StaticHttpServer {
  TempDir dir;
  int port = freePort();
  std::unique_ptr<Process> process = std::make_unique<Process>(
      std::vector<std::string>{"python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                               dir.path().string(), std::to_string(port)},
      std::map<std::string, std::string>{}, dir / "log");
  StaticHttpServer() { EXPECT_TRUE(waitForPort(port)) << process->log(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
};

TEST(HealthUnit, FileProbeFailsWhileTheFileExists) {
  TempDir dir;
  auto file = dir / "maintenance";
  EXPECT_EQ(api::probeFile(file.string()), "");
  writeFile(file, "");
  EXPECT_EQ(api::probeFile(file.string()), "file exists");
  std::filesystem::remove(file);
  EXPECT_EQ(api::probeFile(file.string()), "");
}

TEST(HealthUnit, TcpProbeNeedsSomethingListening) {
  std::atomic<bool> cancel{false};
  int port;
  {
    LoopbackListener l;
    port = l.port();
    EXPECT_EQ(api::probeTcp("127.0.0.1:" + std::to_string(port), 1s, cancel), "");
  }
  std::string addr = "127.0.0.1:" + std::to_string(port);
  EXPECT_THAT(api::probeTcp(addr, 1s, cancel),
              ::testing::StartsWith("connection to " + addr + " failed"));
  EXPECT_THAT(api::probeTcp("127.0.0.1", 1s, cancel), ::testing::HasSubstr("no port"));
  LoopbackListener again(port);
  EXPECT_EQ(api::probeTcp(addr, 1s, cancel), "");
}

TEST(HealthUnit, ACheckFailsAfterThresholdFailuresInARowAndASuccessResetsIt) {
  std::vector<std::string> script = {"e1", "e2", "", "e3", "e4", "e5", "", "e6"};
  size_t next = 0;
  api::HealthCheck check(
      "c", [&](const std::atomic<bool>&) { return script.at(next++); }, 1h, 3);
  std::vector<bool> failing;
  for (size_t i = 0; i < script.size(); ++i) {
    check.probeOnce();
    failing.push_back(check.failing());
  }
  EXPECT_EQ(failing, (std::vector<bool>{false, false, false, false, false, true, false, false}));
  EXPECT_EQ(check.probes(), 8u);
  EXPECT_EQ(check.probeFailures(), 6u);

  next = 0;
  api::HealthCheck noThreshold(
      "d", [&](const std::atomic<bool>&) { return script.at(next++); }, 1h, 0);
  noThreshold.probeOnce();
  EXPECT_TRUE(noThreshold.failing());
  EXPECT_EQ(noThreshold.failure(), std::optional<std::string>("e1"));
  noThreshold.probeOnce();
  EXPECT_EQ(noThreshold.failure(), std::optional<std::string>("e2"));
  noThreshold.probeOnce();
  EXPECT_FALSE(noThreshold.failing());
  EXPECT_EQ(noThreshold.failure(), std::nullopt);
}

TEST(HealthUnit, HttpCheckWantsItsStatusCode) {
  StaticHttpServer web;
  TempDir store;
  HealthConfig config;
  config.http.push_back({.uri = web.url("/"), .interval = 50ms});
  config.http.push_back({.uri = web.url("/missing"), .statusCode = 404, .interval = 50ms});
  config.http.push_back({.uri = web.url("/"), .statusCode = 204, .interval = 50ms});
  auto storeObject = Store::openLocal(store.path());
  api::HealthChecks checks(config, storeObject.driver(), "filesystem", false);
  checks.start();
  std::map<std::string, std::string> expected = {
      {web.url("/"), "downstream service returned unexpected status: 200"}};
  ASSERT_TRUE(waitUntil([&] { return checks.failures() == expected; }))
      << api::healthJson(checks.failures());
  EXPECT_FALSE(checks.healthy());
  EXPECT_EQ(checks.storage(), nullptr);
}

TEST_F(OpsTest, FileTcpAndHttpChecksGateTheApiAndNameTheFailingCheck) {
  auto maintenance = work / "maintenance";
  std::optional<LoopbackListener> tcp;
  tcp.emplace();
  int tcpPort = tcp->port();
  StaticHttpServer web;
  std::string tcpAddr = "127.0.0.1:" + std::to_string(tcpPort);
  OpsServer o(work / "store", "health:\n  file:\n    - file: " + maintenance.string() +
                                  "\n      interval: 100ms\n  tcp:\n    - addr: " + tcpAddr +
                                  "\n      timeout: 1s\n      interval: 100ms\n      threshold: 2\n"
                                  "  http:\n    - uri: " +
                                  web.url("/") + "\n      interval: 100ms\n");
  RegfsServer& s = *o.server;
  auto failing = [&] {
    Reply h = http("GET", o.debugUrl() + "/debug/health");
    rapidjson::Document d;
    d.Parse(h.body.c_str());
    EXPECT_FALSE(d.HasParseError()) << h.body;
    std::map<std::string, std::string> out;
    if (d.HasParseError() || !d.IsObject()) return out;
    const rapidjson::Value& checks = d;  // const: clang finds a mutable iterator's != ambiguous
    for (const auto& m : checks.GetObject()) out[m.name.GetString()] = m.value.GetString();
    EXPECT_EQ(h.status, out.empty() ? 200 : 503) << h.body;
    return out;
  };
  auto gated = [&] {
    Reply r = http("GET", s.url() + "/v2/");
    return r.status == 503 && r.code() == "UNAVAILABLE";
  };
  ASSERT_TRUE(waitUntil([&] { return failing().empty(); })) << s.log();
  EXPECT_EQ(http("GET", s.url() + "/v2/").status, 200);

  // A maintenance file takes the registry out of service while it exists.
  writeFile(maintenance, "");
  ASSERT_TRUE(waitUntil([&] { return failing().count(maintenance.string()) == 1; })) << s.log();
  EXPECT_EQ(failing()[maintenance.string()], "file exists");
  EXPECT_TRUE(gated());
  EXPECT_EQ(http("GET", o.debugUrl() + "/readyz").status, 503);
  EXPECT_EQ(http("GET", o.debugUrl() + "/healthz").status, 200);
  std::filesystem::remove(maintenance);
  ASSERT_TRUE(waitUntil([&] { return failing().empty(); })) << s.log();
  EXPECT_EQ(http("GET", s.url() + "/v2/").status, 200);

  // A dependency that stops listening, and comes back.
  tcp.reset();
  ASSERT_TRUE(waitUntil([&] { return failing().count(tcpAddr) == 1; })) << s.log();
  EXPECT_THAT(failing()[tcpAddr], ::testing::StartsWith("connection to " + tcpAddr + " failed"));
  EXPECT_TRUE(gated());
  tcp.emplace(tcpPort);
  ASSERT_TRUE(waitUntil([&] { return failing().empty(); })) << s.log();
  EXPECT_EQ(http("GET", s.url() + "/v2/").status, 200);

  // An HTTP dependency that goes away.
  web.process->stop();
  ASSERT_TRUE(waitUntil([&] { return failing().count(web.url("/")) == 1; })) << s.log();
  EXPECT_THAT(failing()[web.url("/")],
              ::testing::StartsWith("error while checking " + web.url("/")));
  std::string metrics = http("GET", o.debugUrl() + "/metrics").body;
  EXPECT_EQ(sampleValue(metrics, "regfs_health_checks_failing"), 1) << metrics;
  EXPECT_TRUE(gated());
  EXPECT_EQ(s.stop(), 0);
}

TEST_F(OpsTest, JsonLogLinesParseAndCarryAccessFieldsAndLogFields) {
  OpsServer o(work / "store", "",
              {{"REGISTRY_LOG_FORMATTER", "json"}, {"REGISTRY_LOG_FIELDS_ENVIRONMENT", "test"}});
  RegfsServer& s = *o.server;
  pushSmallImage(s, "team/app", "v1");
  http("GET", s.url() + "/v2/team/app/manifests/v1", {"-H", "User-Agent: t", "-H", kAcceptOci});
  EXPECT_EQ(s.stop(), 0);
  int access = 0;
  std::vector<std::string> all = lines(s.log());
  ASSERT_GT(all.size(), 5u);
  for (const auto& line : all) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << line;
    ASSERT_TRUE(d.IsObject()) << line;
    EXPECT_TRUE(d.HasMember("time") && d.HasMember("level") && d.HasMember("msg")) << line;
    ASSERT_TRUE(d.HasMember("environment")) << line;
    EXPECT_STREQ(d["environment"].GetString(), "test");
    if (d.HasMember("status")) {
      ++access;
      for (const char* k : {"method", "path", "remote"}) EXPECT_TRUE(d[k].IsString()) << line;
      for (const char* k : {"status", "bytes", "duration"}) EXPECT_TRUE(d[k].IsNumber()) << line;
    }
  }
  EXPECT_EQ(access, 4);
}

TEST_F(OpsTest, AccessLogCanBeDisabled) {
  OpsServer o(work / "store", "", {{"REGISTRY_LOG_ACCESSLOG_DISABLED", "true"}});
  http("GET", o.server->url() + "/v2/");
  EXPECT_EQ(o.server->stop(), 0);
  EXPECT_EQ(o.server->log().find("GET /v2/"), std::string::npos) << o.server->log();
}

TEST_F(OpsTest, TheServerPurgesStaleUploadsOnItsInterval) {
  // storage.maintenance.uploadpurging with a short age and interval: a session older than
  // the age disappears by itself (the same purge as `regfsctl purge-uploads`), and the
  // purge is counted in the metrics.
  OpsServer o(work / "store", "",
              {{"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED", "true"},
               {"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE", "1s"},
               {"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL", "1s"},
               {"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_DRYRUN", "false"}});
  Reply r = http("POST", o.server->url() + "/v2/stale/blobs/uploads/");
  ASSERT_EQ(r.status, 202) << r.body;
  std::string location = r.header("location");
  EXPECT_EQ(http("GET", o.server->url() + location).status, 204);
  std::filesystem::path uploads =
      o.server->root().string() + layout::uploadsDir(RepoName::parse("stale"));
  ASSERT_FALSE(std::filesystem::is_empty(uploads));
  EXPECT_TRUE(waitUntil([&] { return std::filesystem::is_empty(uploads); }, 15s))
      << o.server->log();
  r = http("GET", o.server->url() + location);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "BLOB_UPLOAD_UNKNOWN");
  Reply m = http("GET", o.debugUrl() + "/metrics");
  EXPECT_NE(m.body.find("regfs_upload_purge_sessions_total 1"), std::string::npos) << m.body;
}

// A webhook receiver process; events() reads what it recorded.
struct Receiver {
  TempDir dir;
  std::unique_ptr<Process> process;
  int port = 0;
  // `scheme` https needs tlsFlags() among the flags.
  explicit Receiver(std::vector<std::string> flags = {}, std::string scheme = "http")
      : scheme(std::move(scheme)) {
    std::vector<std::string> argv = {
        "python3", std::string(REGFS_SOURCE_DIR) + "/tests/support/webhook_receiver.py",
        (dir / "port").string(), (dir / "events.jsonl").string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process = std::make_unique<Process>(argv, std::map<std::string, std::string>{}, dir / "log");
    EXPECT_TRUE(waitUntil([&] { return std::filesystem::exists(dir / "port"); })) << process->log();
    port = std::stoi(readFile(dir / "port"));
  }
  std::string scheme;
  std::string url() const { return scheme + "://127.0.0.1:" + std::to_string(port) + "/events"; }
  std::vector<std::string> posts() const {
    auto file = dir / "events.jsonl";
    return std::filesystem::exists(file) ? lines(readFile(file)) : std::vector<std::string>{};
  }
};

// Receiver flags to serve https with `tls` (the receiver's certificate and key).
template <typename Certificate>
std::vector<std::string> tlsFlags(const Certificate& tls) {
  return {"--cert", tls.cert.string(), "--key", tls.key.string()};
}

// One entry of notifications.endpoints.
std::string endpointEntry(const std::string& name, const std::string& url,
                          const std::string& extra = "") {
  return "    - name: " + name + "\n      url: " + url +
         "\n      timeout: 1s\n      threshold: 3\n      backoff: 200ms\n      headers:\n        "
         "Authorization: "
         "[Bearer secret]\n" +
         extra;
}

std::string endpointConfig(const std::string& url, const std::string& extra = "") {
  return "notifications:\n  endpoints:\n" + endpointEntry("hook", url, extra);
}

TEST_F(OpsTest, NotificationsDeliverPushPullAndDeleteEventsInDistributionsEnvelope) {
  Receiver receiver;
  OpsServer o(work / "store",
              endpointConfig(receiver.url(), "      ignore:\n        actions: [mount]\n"));
  RegfsServer& s = *o.server;
  std::string digest = pushSmallImage(s, "team/app", "v1");
  ASSERT_EQ(http("GET", s.url() + "/v2/team/app/manifests/v1",
                 {"-H", "User-Agent: ops-test/1", "-H", kAcceptOci})
                .status,
            200);
  std::string layer = "layer bytes of v1";
  ASSERT_EQ(http("GET", s.url() + "/v2/team/app/blobs/" + digestOf(layer)).status, 200);
  ASSERT_EQ(http("DELETE", s.url() + "/v2/team/app/manifests/" + digest).status, 202);

  // push config, push layer, push manifest, pull manifest, pull blob, delete manifest
  ASSERT_TRUE(waitUntil([&] { return receiver.posts().size() >= 6; })) << s.log();
  std::vector<std::string> posts = receiver.posts();
  ASSERT_EQ(posts.size(), 6u);
  std::vector<std::string> actions;
  for (const auto& p : posts) {
    rapidjson::Document post;
    post.Parse(p.c_str());
    ASSERT_FALSE(post.HasParseError());
    EXPECT_STREQ(post["path"].GetString(), "/events");
    EXPECT_STREQ(post["headers"]["Content-Type"].GetString(),
                 "application/vnd.docker.distribution.events.v1+json");
    EXPECT_STREQ(post["headers"]["Authorization"].GetString(), "Bearer secret");
    rapidjson::Document env;
    env.Parse(post["body"].GetString());
    ASSERT_FALSE(env.HasParseError()) << post["body"].GetString();
    ASSERT_TRUE(env["events"].IsArray());
    ASSERT_EQ(env["events"].Size(), 1u);
    const auto& e = env["events"][0];
    actions.push_back(e["action"].GetString());
    EXPECT_STREQ(e["target"]["repository"].GetString(), "team/app");
    EXPECT_TRUE(e["source"]["instanceID"].IsString());
    EXPECT_TRUE(e["request"]["id"].IsString());
    std::string action = e["action"].GetString();
    if (action == "push" && e["target"].HasMember("tag")) {
      EXPECT_STREQ(e["target"]["tag"].GetString(), "v1");
      EXPECT_STREQ(e["target"]["digest"].GetString(), digest.c_str());
      EXPECT_STREQ(e["target"]["mediaType"].GetString(),
                   "application/vnd.oci.image.manifest.v1+json");
      EXPECT_GT(e["target"]["size"].GetInt(), 0);
      EXPECT_EQ(e["target"]["length"].GetInt(), e["target"]["size"].GetInt());
      EXPECT_EQ(std::string(e["target"]["url"].GetString()),
                s.url() + "/v2/team/app/manifests/" + digest);
      EXPECT_STREQ(e["request"]["method"].GetString(), "PUT");
    }
    if (action == "pull" && std::string(e["request"]["useragent"].GetString()) == "ops-test/1") {
      EXPECT_STREQ(e["target"]["tag"].GetString(), "v1");
      EXPECT_STREQ(e["request"]["addr"].GetString(), "127.0.0.1");
      EXPECT_STREQ(e["request"]["host"].GetString(), s.host().c_str());
    }
    if (action == "pull" && e["target"]["mediaType"] == "application/octet-stream") {
      EXPECT_STREQ(e["target"]["digest"].GetString(), digestOf(layer).c_str());
      EXPECT_EQ(e["target"]["size"].GetUint64(), layer.size());
    }
    if (action == "delete") {
      EXPECT_STREQ(e["target"]["digest"].GetString(), digest.c_str());
    }
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"push", "push", "push", "pull", "pull", "delete"}));
}

TEST_F(OpsTest, TheServerRunsRetentionOnItsIntervalNotifyingAndCountingEachRemoval) {
  // regfs.retention from config.yml: the server's own runs remove what the policy says (an
  // old tag, then its manifest, now untagged and old), send each removal to the endpoints
  // as a delete event, as an API DELETE is, and count it in the metrics; what the policy
  // keeps, and repositories it does not select, stay.
  std::filesystem::path root = work / "store";
  Digest oldManifest = Digest::of("");
  {
    Store store = Store::openLocal(root);
    Repository app = store.repository(RepoName::parse("team/app"));
    Repository other = store.repository(RepoName::parse("other/app"));
    oldManifest = pushImage(store, app, {"old"}).manifest;
    app.putTag(Tag::parse("old"), oldManifest);
    app.putTag(Tag::parse("main"), pushImage(store, app, {"main"}).manifest);
    app.putTag(Tag::parse("recent"), pushImage(store, app, {"recent"}).manifest);
    other.putTag(Tag::parse("old"), pushImage(store, other, {"other"}).manifest);
    ageTree(root, 48h);
    std::string recent = root.string() + layout::tagCurrentLink(app.name(), Tag::parse("recent"));
    ASSERT_EQ(::utimensat(AT_FDCWD, recent.c_str(), nullptr, 0), 0);
  }
  Receiver receiver;
  OpsServer o(root, endpointConfig(receiver.url()) + R"(regfs:
  retention:
    enabled: true
    interval: 1s
    policies:
      - repositories: ["team/*"]
        protecttags: ["main"]
        removeolderthan: 24h
        untaggedolderthan: 24h
)");
  RegfsServer& s = *o.server;
  auto runs = [&] {
    return sampleValue(http("GET", o.debugUrl() + "/metrics").body, "regfs_retention_runs_total");
  };
  // Two runs after the removals: the second finds nothing more to remove.
  ASSERT_TRUE(waitUntil([&] { return runs() >= 3; }, 15s)) << s.log();
  // What each delete event names: the tag, or the manifest's digest.
  auto targets = [&] {
    std::vector<std::string> out;
    for (const auto& p : receiver.posts()) {
      rapidjson::Document post;
      post.Parse(p.c_str());
      EXPECT_FALSE(post.HasParseError()) << p;
      rapidjson::Document env;
      env.Parse(post["body"].GetString());
      EXPECT_FALSE(env.HasParseError()) << post["body"].GetString();
      for (const auto& e : env["events"].GetArray()) {
        EXPECT_STREQ(e["action"].GetString(), "delete");
        EXPECT_STREQ(e["target"]["repository"].GetString(), "team/app");
        out.push_back(e["target"].HasMember("tag") ? e["target"]["tag"].GetString()
                                                   : e["target"]["digest"].GetString());
      }
    }
    return out;
  };
  ASSERT_TRUE(waitUntil([&] { return targets().size() >= 2; })) << s.log();
  EXPECT_EQ(targets(), (std::vector<std::string>{"old", oldManifest.str()}));
  std::string metrics = http("GET", o.debugUrl() + "/metrics").body;
  EXPECT_EQ(sampleValue(metrics, "regfs_retention_removed_total{kind=\"tag\"}"), 1) << metrics;
  EXPECT_EQ(sampleValue(metrics, "regfs_retention_removed_total{kind=\"manifest\"}"), 1);
  EXPECT_EQ(sampleValue(metrics, "regfs_retention_failures_total"), 0);
  EXPECT_EQ(
      sampleValue(metrics,
                  "registry_notifications_events_total{endpoint=\"hook\",type=\"successes\"}"),
      2);
  EXPECT_NE(s.log().find("retention: removed 1 tags and 1 untagged manifests"), std::string::npos)
      << s.log();

  EXPECT_EQ(http("GET", s.url() + "/v2/team/app/manifests/old", {"-H", kAcceptOci}).status, 404);
  EXPECT_EQ(http("GET", s.url() + "/v2/team/app/manifests/" + oldManifest.str(), {"-H", kAcceptOci})
                .status,
            404);
  for (const char* kept : {"/v2/team/app/manifests/main", "/v2/team/app/manifests/recent",
                           "/v2/other/app/manifests/old"}) {
    EXPECT_EQ(http("GET", s.url() + kept, {"-H", kAcceptOci}).status, 200) << kept;
  }
}

TEST_F(OpsTest, NotificationsAreRetriedUntilTheEndpointAccepts) {
  Receiver receiver({"--fail", "4"});
  OpsServer o(work / "store", endpointConfig(receiver.url()));
  ASSERT_EQ(http("GET", o.server->url() + "/v2/").status, 200);
  pushSmallImage(*o.server, "team/app", "v1");
  // Three events; the first is refused four times (three quick retries, then backoff).
  ASSERT_TRUE(waitUntil([&] { return receiver.posts().size() >= 7; })) << o.server->log();
  std::string metrics = http("GET", o.debugUrl() + "/metrics").body;
  EXPECT_NE(
      metrics.find("registry_notifications_events_total{endpoint=\"hook\",type=\"failures\"} 4\n"),
      std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find("registry_notifications_events_total{endpoint=\"hook\",type=\"successes\"} 3\n"),
      std::string::npos)
      << metrics;
  EXPECT_NE(o.server->log().find("failed 3 times in a row"), std::string::npos);
}

TEST_F(OpsTest, HttpsEndpointsGetEventsOnlyWhenTheirCertificateIsTrusted) {
  // Receivers with certificates from three private CAs. The server trusts the first and
  // the third, through a bundle in SSL_CERT_FILE as a Go program (distribution) does; the
  // third CA's certificate names another host than the endpoint's.
  IssuedCertificate trusted = makeCaSignedServerCertificate(work / "trusted");
  IssuedCertificate untrusted = makeCaSignedServerCertificate(work / "untrusted");
  IssuedCertificate otherName =
      makeCaSignedServerCertificate(work / "other-name", "DNS:hooks.example");
  writeFile(work / "bundle.pem", readFile(trusted.caCert) + readFile(otherName.caCert));
  Receiver good(tlsFlags(trusted), "https");
  Receiver bad(tlsFlags(untrusted), "https");
  Receiver misnamed(tlsFlags(otherName), "https");
  OpsServer o(work / "store",
              "notifications:\n  endpoints:\n" + endpointEntry("good", good.url()) +
                  endpointEntry("bad", bad.url()) + endpointEntry("misnamed", misnamed.url()),
              {{"SSL_CERT_FILE", (work / "bundle.pem").string()}});
  RegfsServer& s = *o.server;
  std::string digest = pushSmallImage(s, "team/app", "v1");

  ASSERT_TRUE(waitUntil([&] { return good.posts().size() >= 3; })) << s.log();
  std::vector<std::string> actions;
  for (const auto& p : good.posts()) {
    rapidjson::Document post;
    post.Parse(p.c_str());
    ASSERT_FALSE(post.HasParseError()) << p;
    EXPECT_STREQ(post["headers"]["Content-Type"].GetString(),
                 "application/vnd.docker.distribution.events.v1+json");
    EXPECT_STREQ(post["headers"]["Authorization"].GetString(), "Bearer secret");
    rapidjson::Document env;
    env.Parse(post["body"].GetString());
    ASSERT_FALSE(env.HasParseError()) << post["body"].GetString();
    ASSERT_EQ(env["events"].Size(), 1u);
    actions.push_back(env["events"][0]["action"].GetString());
    EXPECT_STREQ(env["events"][0]["target"]["repository"].GetString(), "team/app");
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"push", "push", "push"}));

  // The untrusted receiver never gets a request: the handshake is refused, and the first
  // event is retried (past the threshold, every backoff) instead of being delivered.
  auto metric = [&](const std::string& endpoint, const std::string& type) {
    return sampleValue(
        http("GET", o.debugUrl() + "/metrics").body,
        "registry_notifications_events_total{endpoint=\"" + endpoint + "\",type=\"" + type + "\"}");
  };
  for (std::string refused : {"bad", "misnamed"}) {
    ASSERT_TRUE(waitUntil([&] { return metric(refused, "failures") >= 5; })) << refused << "\n"
                                                                             << s.log();
    EXPECT_EQ(metric(refused, "successes"), 0) << refused;
    EXPECT_EQ(metric(refused, "events"), 3) << refused;
  }
  EXPECT_EQ(metric("good", "successes"), 3);
  EXPECT_EQ(metric("good", "failures"), 0);
  EXPECT_TRUE(bad.posts().empty());
  EXPECT_TRUE(misnamed.posts().empty());
  EXPECT_NE(s.log().find("endpoint bad failed 3 times in a row (SSL certificate problem"),
            std::string::npos)
      << s.log();
  EXPECT_NE(s.log().find("endpoint misnamed failed 3 times in a row (SSL: no alternative "
                         "certificate subject name"),
            std::string::npos)
      << s.log();
  EXPECT_EQ(s.stop(), 0);
}

TEST_F(OpsTest, AnHttpsEndpointIsNotTrustedWithoutItsCa) {
  // No SSL_CERT_FILE: only the system CAs count, and a private certificate is refused.
  ServerCertificate cert = makeServerCertificate(work / "cert");
  Receiver receiver(tlsFlags(cert), "https");
  OpsServer o(work / "store", endpointConfig(receiver.url()));
  ASSERT_EQ(http("GET", o.server->url() + "/v2/").status, 200);
  pushSmallImage(*o.server, "team/app", "v1");
  ASSERT_TRUE(waitUntil([&] {
    return sampleValue(
               http("GET", o.debugUrl() + "/metrics").body,
               "registry_notifications_events_total{endpoint=\"hook\",type=\"failures\"}") >= 3;
  })) << o.server->log();
  EXPECT_TRUE(receiver.posts().empty());
  EXPECT_NE(o.server->log().find("failed 3 times in a row"), std::string::npos) << o.server->log();
}

TEST_F(OpsTest, AHangingEndpointNeverSlowsRequests) {
  Receiver receiver({"--hang"});
  OpsServer o(work / "store", endpointConfig(receiver.url()));
  RegfsServer& s = *o.server;
  pushSmallImage(s, "team/app", "v1");
  auto started = Clock::now();
  for (int i = 0; i < 40; ++i)
    ASSERT_EQ(http("GET", s.url() + "/v2/team/app/manifests/v1", {"-H", kAcceptOci}).status, 200);
  // 40 pulls, each queuing an event behind a 1 s timeout that keeps failing: were the
  // requests waiting on delivery this would take 40 s or more.
  EXPECT_LT(Clock::now() - started, 10s);
  std::string metrics = http("GET", o.debugUrl() + "/metrics").body;
  EXPECT_NE(metrics.find("registry_notifications_pending{endpoint=\"hook\"}"), std::string::npos);
  auto stopStarted = Clock::now();
  EXPECT_EQ(s.stop(), 0);
  EXPECT_LT(Clock::now() - stopStarted, 8s);
}

// ---- drain ----

std::string readAll(int fd, std::chrono::milliseconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST_F(OpsTest, DrainStopsAcceptingAndFinishesTheRequestInFlight) {
  OpsServer o(work / "store", "", {{"REGISTRY_HTTP_DRAINTIMEOUT", "10s"}});
  RegfsServer& s = *o.server;
  std::string blob = "0123456789";
  int fd = connectLoopback(s.port());
  ASSERT_GE(fd, 0);
  std::string head = "POST /v2/team/app/blobs/uploads/?digest=" + digestOf(blob) +
                     " HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(::kill(s.pid(), SIGTERM), 0);
  // New connections are refused from now on.
  ASSERT_TRUE(waitUntil(
      [&] {
        int c = connectLoopback(s.port());
        if (c >= 0) ::close(c);
        return c < 0;
      },
      3s));
  std::string rest = "56789";
  ASSERT_EQ(::send(fd, rest.data(), rest.size(), 0), 5);
  std::string reply = readAll(fd, 5000ms);
  ::close(fd);
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 201") << reply;
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  auto started = Clock::now();
  EXPECT_EQ(s.stop(), 0);
  EXPECT_LT(Clock::now() - started, 5s);
}

TEST_F(OpsTest, DrainFinishesABlobDownloadInFlightAndLogsItWhenItEnds) {
  OpsServer o(
      work / "store", "",
      {{"REGISTRY_HTTP_DRAINTIMEOUT", "20s"}, {"REGISTRY_LOG_ACCESSLOG_DISABLED", "false"}});
  RegfsServer& s = *o.server;
  std::string blob(32 << 20, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7 / 4096);
  std::string digest = digestOf(blob);
  HttpConnection c(s.port());
  Reply put = pushBlobMonolithic(c, "team/app", blob).value_or(Reply{});
  ASSERT_EQ(put.status, 201) << put.body;

  // A client with a small receive window: most of the blob is still to be sent when the
  // server is told to stop.
  int fd = connectLoopback(s.port(), 64 << 10);
  ASSERT_GE(fd, 0);
  std::string get = "GET /v2/team/app/blobs/" + digest + " HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, get.data(), get.size(), 0), static_cast<ssize_t>(get.size()));
  std::string reply(1 << 20, '\0');
  size_t got = 0;
  while (got < reply.size()) {
    ssize_t n = ::recv(fd, reply.data() + got, reply.size() - got, 0);
    ASSERT_GT(n, 0);
    got += static_cast<size_t>(n);
  }
  // The download is not over, so it is not in the access log yet.
  std::string line = "GET /v2/team/app/blobs/" + digest + " 200";
  EXPECT_EQ(s.log().find(line), std::string::npos) << s.log();

  ASSERT_EQ(::kill(s.pid(), SIGTERM), 0);
  std::this_thread::sleep_for(300ms);
  reply = reply.substr(0, got) + readAll(fd, 10000ms);
  ::close(fd);
  size_t bodyAt = reply.find("\r\n\r\n");
  ASSERT_NE(bodyAt, std::string::npos);
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 200");
  EXPECT_EQ(reply.size() - bodyAt - 4, blob.size()) << "the download was cut short by the drain";
  EXPECT_TRUE(reply.compare(bodyAt + 4, std::string::npos, blob) == 0);
  EXPECT_EQ(s.stop(), 0) << s.log();
  std::string log = s.log();
  size_t at = log.find(line);
  ASSERT_NE(at, std::string::npos) << log;
  std::string logged = log.substr(at, log.find('\n', at) - at);
  EXPECT_NE(logged.find("bytes=" + std::to_string(blob.size())), std::string::npos) << logged;
  // Logged when the last byte went out: after the 300 ms the client waited.
  size_t d = logged.find("duration=");
  ASSERT_NE(d, std::string::npos) << logged;
  EXPECT_GE(std::stod(logged.substr(d + 9)), 0.3) << logged;
}

TEST_F(OpsTest, DrainGivesUpAfterTheDrainTimeoutAndExitsZero) {
  OpsServer o(work / "store", "", {{"REGISTRY_HTTP_DRAINTIMEOUT", "1500ms"}});
  RegfsServer& s = *o.server;
  int fd = connectLoopback(s.port());
  ASSERT_GE(fd, 0);
  std::string head = "POST /v2/team/app/blobs/uploads/?digest=sha256:" + std::string(64, 'a') +
                     " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\npartial";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  std::this_thread::sleep_for(200ms);
  auto started = Clock::now();
  ASSERT_EQ(::kill(s.pid(), SIGTERM), 0);
  int status = s.stop();  // waits for the exit
  auto took = Clock::now() - started;
  ::close(fd);
  EXPECT_EQ(status, 0) << s.log();
  EXPECT_GE(took, 1400ms);
  EXPECT_LT(took, 6s);
  EXPECT_NE(s.log().find("drain timeout reached"), std::string::npos) << s.log();
}

}  // namespace
}  // namespace regfs::testing
