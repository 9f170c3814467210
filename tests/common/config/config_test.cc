#include "common/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "common/error.h"
#include "support/error_kind.h"
#include "support/process.h"

namespace regfs {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using testing::configError;
using testing::TempDir;

std::string parseError(const std::string& yaml, const Environment& env = {}) {
  return configError([&] { parseConfig(yaml, env); });
}

// The classic registry:2 setup: TLS, htpasswd, a volume on /var/lib/registry.
constexpr char kTypical[] = R"(version: 0.1
log:
  level: debug
  formatter: json
  accesslog:
    disabled: true
  fields:
    service: registry
    environment: staging
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /srv/registry
    maxthreads: 50
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: true
      age: 72h
      interval: 12h
      dryrun: false
    readonly:
      enabled: false
http:
  addr: 0.0.0.0:443
  host: https://registry.example.com
  secret: asecretforlocaldevelopment
  relativeurls: true
  draintimeout: 60s
  headers:
    X-Content-Type-Options: [nosniff]
    Strict-Transport-Security: [max-age=31536000, includeSubDomains]
  tls:
    certificate: /certs/domain.crt
    key: /certs/domain.key
    minimumtls: tls1.3
    clientcas:
      - /certs/ca1.pem
      - /certs/ca2.pem
  debug:
    addr: localhost:5001
    prometheus:
      enabled: true
  http2:
    disabled: true
auth:
  htpasswd:
    realm: Registry Realm
    path: /auth/htpasswd
notifications:
  events:
    includereferences: true
  endpoints:
    - name: alistener
      disabled: false
      url: https://my.listener.com/event
      headers:
        Authorization: [Bearer abc]
      timeout: 500ms
      threshold: 5
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
      ignore:
        mediatypes: [application/octet-stream]
        actions: [pull]
catalog:
  maxentries: 500
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
)";

TEST(ParseDuration, AcceptsGoSyntax) {
  EXPECT_EQ(parseDuration("300ms"), 300ms);
  EXPECT_EQ(parseDuration("10s"), 10s);
  EXPECT_EQ(parseDuration("168h"), 168h);
  EXPECT_EQ(parseDuration("1h30m"), 90min);
  EXPECT_EQ(parseDuration("1.5h"), 90min);
  EXPECT_EQ(parseDuration(".5s"), 500ms);
  EXPECT_EQ(parseDuration("1.s"), 1s);
  EXPECT_EQ(parseDuration("-2s"), -2s);
  EXPECT_EQ(parseDuration("+3m"), 3min);
  EXPECT_EQ(parseDuration("0"), 0ns);
  EXPECT_EQ(parseDuration("-0"), 0ns);
  EXPECT_EQ(parseDuration("0s"), 0ns);
  EXPECT_EQ(parseDuration("1h1m1s1ms1us1ns"), 1h + 1min + 1s + 1ms + 1us + 1ns);
  EXPECT_EQ(parseDuration("7\xC2\xB5s"), 7us);  // U+00B5 micro sign
  EXPECT_EQ(parseDuration("7\xCE\xBCs"), 7us);  // U+03BC Greek mu
  EXPECT_EQ(parseDuration("1.000000001s"), 1s + 1ns);
  EXPECT_EQ(parseDuration("9223372036854775807ns"), nanoseconds(INT64_MAX));
  EXPECT_EQ(parseDuration("-9223372036854775808ns"), nanoseconds(INT64_MIN));
  EXPECT_EQ(parseDuration("2562047h47m16.854775807s"), nanoseconds(INT64_MAX));
}

TEST(ParseDuration, RejectsWhatGoRejects) {
  std::vector<std::string> bad = {"",   "1",   "10",  "-",  "+",      "s",   ".s",  "-.s", ".",
                                  "1x", "1 s", "1hh", "h1", "1.2.3s", "1s ", " 1s", "1e3s"};
  for (const char* overflow : {"9223372036854775808ns", "2562048h", "-9223372036854775809ns"}) {
    bad.push_back(overflow);
  }
  for (const std::string& text : bad) {
    try {
      parseDuration(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfigInvalid);
      EXPECT_THAT(e.what(), HasSubstr("invalid duration")) << text;
    }
  }
  EXPECT_THAT(configError([] { parseDuration("5"); }), HasSubstr("missing unit"));
  EXPECT_THAT(configError([] { parseDuration("5d"); }), HasSubstr("unknown unit \"d\""));
}

TEST(Config, DefaultsWithoutAFileAreTheRegistryImage) {
  Config c = loadConfig("", {});
  EXPECT_EQ(c.version, "0.1");
  EXPECT_EQ(c.http.addr, ":5000");
  EXPECT_EQ(c.http.net, "tcp");
  EXPECT_EQ(c.storage.driver, StorageDriverKind::kFilesystem);
  EXPECT_EQ(c.storage.filesystem.rootDirectory, "/var/lib/registry");
  EXPECT_EQ(c.storage.filesystem.maxThreads, 100u);
  EXPECT_FALSE(c.storage.deleteEnabled);
  EXPECT_FALSE(c.storage.redirectDisabled);
  EXPECT_FALSE(c.storage.readOnly);
  EXPECT_TRUE(c.storage.uploadPurging.enabled);
  EXPECT_EQ(c.storage.uploadPurging.age, 168h);
  EXPECT_EQ(c.storage.uploadPurging.interval, 24h);
  EXPECT_FALSE(c.storage.uploadPurging.dryRun);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.formatter, "text");
  EXPECT_EQ(c.log.fields, (std::map<std::string, std::string>{{"service", "registry"}}));
  EXPECT_EQ(c.http.headers, (HeaderMap{{"X-Content-Type-Options", {"nosniff"}}}));
  EXPECT_EQ(c.http.tls.minimumTls, "tls1.2");
  EXPECT_TRUE(c.http.tls.certificate.empty());
  EXPECT_EQ(c.http.prometheusPath, "/metrics");
  EXPECT_EQ(c.auth.kind, AuthKind::kNone);
  EXPECT_EQ(c.catalogMaxEntries, 1000);
  EXPECT_THAT(c.notifications.endpoints, IsEmpty());
  EXPECT_THAT(c.warnings, IsEmpty());
  ASSERT_EQ(c.notes.size(), 1u);  // storage.cache is accepted and ignored
  EXPECT_THAT(c.notes[0], HasSubstr("storage.cache: accepted and ignored"));
}

TEST(Config, OmittedKeysTakeDistributionsDefaults) {
  Config c = parseConfig("version: 0.1\n", {});
  EXPECT_EQ(c.http.addr, ":5000");
  EXPECT_EQ(c.storage.driver, StorageDriverKind::kFilesystem);
  EXPECT_EQ(c.storage.filesystem.rootDirectory, "/var/lib/registry");
  EXPECT_THAT(c.http.headers, IsEmpty());
  EXPECT_THAT(c.log.fields, IsEmpty());
  EXPECT_EQ(c.catalogMaxEntries, 1000);
  EXPECT_THAT(c.warnings, IsEmpty());

  // Null sections and zero limits are the defaults too.
  c = parseConfig("version: 0.1\nstorage:\n  filesystem:\nhttp:\ncatalog:\n  maxentries: 0\n", {});
  EXPECT_EQ(c.storage.filesystem.rootDirectory, "/var/lib/registry");
  EXPECT_EQ(c.catalogMaxEntries, 1000);
}

TEST(Config, ReadsATypicalFile) {
  TempDir dir;
  Config c = loadConfig(dir.write("config.yml", kTypical), {});
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.formatter, "json");
  EXPECT_TRUE(c.log.accessLogDisabled);
  EXPECT_EQ(c.log.fields.at("environment"), "staging");

  EXPECT_EQ(c.storage.driver, StorageDriverKind::kFilesystem);
  EXPECT_EQ(c.storage.filesystem.rootDirectory, "/srv/registry");
  EXPECT_EQ(c.storage.filesystem.maxThreads, 50u);
  EXPECT_TRUE(c.storage.deleteEnabled);
  EXPECT_EQ(c.storage.uploadPurging.age, 72h);
  EXPECT_EQ(c.storage.uploadPurging.interval, 12h);
  EXPECT_FALSE(c.storage.readOnly);

  EXPECT_EQ(c.http.addr, "0.0.0.0:443");
  EXPECT_EQ(c.http.host, "https://registry.example.com");
  EXPECT_EQ(c.http.secret, "asecretforlocaldevelopment");
  EXPECT_TRUE(c.http.relativeUrls);
  EXPECT_EQ(c.http.drainTimeout, 60s);
  EXPECT_EQ(c.http.headers.at("Strict-Transport-Security"),
            (std::vector<std::string>{"max-age=31536000", "includeSubDomains"}));
  EXPECT_EQ(c.http.tls.certificate, "/certs/domain.crt");
  EXPECT_EQ(c.http.tls.key, "/certs/domain.key");
  EXPECT_EQ(c.http.tls.minimumTls, "tls1.3");
  EXPECT_THAT(c.http.tls.clientCas, ElementsAre("/certs/ca1.pem", "/certs/ca2.pem"));
  EXPECT_EQ(c.http.debugAddr, "localhost:5001");
  EXPECT_TRUE(c.http.prometheusEnabled);
  EXPECT_EQ(c.http.prometheusPath, "/metrics");
  EXPECT_TRUE(c.http.http2Disabled);

  EXPECT_EQ(c.auth.kind, AuthKind::kHtpasswd);
  EXPECT_EQ(c.auth.htpasswd.realm, "Registry Realm");
  EXPECT_EQ(c.auth.htpasswd.path, "/auth/htpasswd");

  EXPECT_TRUE(c.notifications.includeReferences);
  ASSERT_EQ(c.notifications.endpoints.size(), 1u);
  const NotificationEndpoint& e = c.notifications.endpoints[0];
  EXPECT_EQ(e.name, "alistener");
  EXPECT_EQ(e.url, "https://my.listener.com/event");
  EXPECT_FALSE(e.disabled);
  EXPECT_EQ(e.headers.at("Authorization"), std::vector<std::string>{"Bearer abc"});
  EXPECT_EQ(e.timeout, 500ms);
  EXPECT_EQ(e.threshold, 5);
  EXPECT_EQ(e.backoff, 1s);
  EXPECT_THAT(e.ignoredMediaTypes, ElementsAre("application/octet-stream"));
  EXPECT_THAT(e.ignoreMediaTypes, ElementsAre("application/octet-stream"));
  EXPECT_THAT(e.ignoreActions, ElementsAre("pull"));

  EXPECT_EQ(c.catalogMaxEntries, 500);
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(Config, EndpointDefaultsAreDistributions) {
  Config c = parseConfig(R"(version: 0.1
notifications:
  endpoints:
    - name: a
      url: http://a/
      timeout: 0s
      threshold: -1
)",
                         {});
  ASSERT_EQ(c.notifications.endpoints.size(), 1u);
  EXPECT_EQ(c.notifications.endpoints[0].timeout, 1s);
  EXPECT_EQ(c.notifications.endpoints[0].threshold, 10);
  EXPECT_EQ(c.notifications.endpoints[0].backoff, 1s);
}

TEST(Config, ReadsTokenAndS3Sections) {
  Config c = parseConfig(R"(version: 0.1
storage:
  s3:
    region: us-east-1
    regionendpoint: http://ceph.local:7480
    bucket: images
    accesskey: AK
    secretkey: SK
    secure: false
    v4auth: true
    rootdirectory: /prefix
    chunksize: 16777216
    forcepathstyle: true
    multipartcopychunksize: 67108864
    multipartcopymaxconcurrency: 8
    multipartcopythresholdsize: 0
auth:
  token:
    realm: https://auth.example.com/token
    service: registry.example.com
    issuer: auth.example.com
    rootcertbundle: /certs/bundle.pem
    autoredirect: true
)",
                         {});
  EXPECT_EQ(c.storage.driver, StorageDriverKind::kS3);
  EXPECT_EQ(c.storage.s3.region, "us-east-1");
  EXPECT_EQ(c.storage.s3.regionEndpoint, "http://ceph.local:7480");
  EXPECT_EQ(c.storage.s3.bucket, "images");
  EXPECT_EQ(c.storage.s3.accessKey, "AK");
  EXPECT_EQ(c.storage.s3.secretKey, "SK");
  EXPECT_FALSE(c.storage.s3.secure);
  EXPECT_TRUE(c.storage.s3.v4Auth);
  EXPECT_EQ(c.storage.s3.rootDirectory, "/prefix");
  EXPECT_EQ(c.storage.s3.chunkSize, 16u << 20);
  EXPECT_TRUE(c.storage.s3.forcePathStyle);
  EXPECT_EQ(c.storage.s3.multipartCopyChunkSize, 64u << 20);
  EXPECT_EQ(c.storage.s3.multipartCopyMaxConcurrency, 8u);
  EXPECT_EQ(c.storage.s3.multipartCopyThresholdSize, 0u);
  EXPECT_TRUE(c.notes.empty()) << "the multipart copy keys are honoured, not ignored";
  S3StorageConfig defaults;  // distribution's, but the threshold: one CopyObject's limit
  EXPECT_EQ(defaults.multipartCopyChunkSize, 32u << 20);
  EXPECT_EQ(defaults.multipartCopyMaxConcurrency, 100u);
  EXPECT_EQ(defaults.multipartCopyThresholdSize, uint64_t{5} << 30);
  EXPECT_EQ(c.auth.kind, AuthKind::kToken);
  EXPECT_EQ(c.auth.token.realm, "https://auth.example.com/token");
  EXPECT_EQ(c.auth.token.service, "registry.example.com");
  EXPECT_EQ(c.auth.token.issuer, "auth.example.com");
  EXPECT_EQ(c.auth.token.rootCertBundle, "/certs/bundle.pem");
  EXPECT_TRUE(c.auth.token.autoRedirect);

  // s3 defaults, and the scalar form of a provider.
  c = parseConfig(
      "version: 0.1\nstorage:\n  s3:\n    bucket: b\n    region: eu-west-1\n"
      "auth: silly\n",
      {{"REGISTRY_AUTH_SILLY_REALM", "r"}, {"REGISTRY_AUTH_SILLY_SERVICE", "s"}});
  EXPECT_TRUE(c.storage.s3.secure);
  EXPECT_TRUE(c.storage.s3.v4Auth);
  EXPECT_FALSE(c.storage.s3.forcePathStyle);
  EXPECT_EQ(c.storage.s3.chunkSize, 8u << 20);
  EXPECT_EQ(c.auth.kind, AuthKind::kSilly);
  EXPECT_EQ(c.auth.silly.realm, "r");
  EXPECT_EQ(c.auth.silly.service, "s");
}

TEST(Config, S3SkipVerifyIsReadAndOverridable) {
  const std::string s3 = "version: 0.1\nstorage:\n  s3:\n    bucket: b\n    region: r\n";
  Config c = parseConfig(s3, {});
  EXPECT_FALSE(c.storage.s3.skipVerify) << "certificates are verified unless asked otherwise";

  c = parseConfig(s3 + "    skipverify: true\n", {});
  EXPECT_TRUE(c.storage.s3.skipVerify);
  EXPECT_THAT(c.warnings, IsEmpty()) << "honoured: no 'not supported by regfs' warning";
  EXPECT_THAT(c.notes, IsEmpty());

  // REGISTRY_STORAGE_S3_SKIPVERIFY overrides the file either way.
  EXPECT_TRUE(parseConfig(s3, {{"REGISTRY_STORAGE_S3_SKIPVERIFY", "true"}}).storage.s3.skipVerify);
  EXPECT_FALSE(
      parseConfig(s3 + "    skipverify: true\n", {{"REGISTRY_STORAGE_S3_SKIPVERIFY", "false"}})
          .storage.s3.skipVerify);
  c = parseConfig("version: 0.1\n", {{"REGISTRY_STORAGE", "s3"},
                                     {"REGISTRY_STORAGE_S3_BUCKET", "b"},
                                     {"REGISTRY_STORAGE_S3_REGIONENDPOINT", "https://ceph:7443"},
                                     {"REGISTRY_STORAGE_S3_SKIPVERIFY", "true"}});
  EXPECT_TRUE(c.storage.s3.skipVerify);
  EXPECT_TRUE(c.storage.s3.secure);

  EXPECT_THAT(parseError(s3 + "    skipverify: sometimes\n"),
              HasSubstr("storage.s3.skipverify: expected a boolean, got \"sometimes\" (line 6)"));
  EXPECT_THAT(parseError(s3, {{"REGISTRY_STORAGE_S3_SKIPVERIFY", "sometimes"}}),
              HasSubstr("storage.s3.skipverify: expected a boolean, got \"sometimes\" (from "
                        "REGISTRY_STORAGE_S3_SKIPVERIFY)"));
}

TEST(ConfigEnv, OverridesTheDocumentedVariables) {
  TempDir dir;
  Config c = loadConfig(dir.write("config.yml", "version: 0.1\n"),
                        {{"REGISTRY_HTTP_ADDR", "127.0.0.1:6000"},
                         {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/data"},
                         {"REGISTRY_STORAGE_DELETE_ENABLED", "true"},
                         {"REGISTRY_HTTP_TLS_CERTIFICATE", "/certs/c.pem"},
                         {"REGISTRY_HTTP_TLS_KEY", "/certs/k.pem"},
                         {"REGISTRY_AUTH", "htpasswd"},
                         {"REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm"},
                         {"REGISTRY_AUTH_HTPASSWD_PATH", "/auth/htpasswd"},
                         {"REGISTRY_LOG_LEVEL", "DEBUG"},
                         {"HOME", "/root"}});
  EXPECT_EQ(c.http.addr, "127.0.0.1:6000");
  EXPECT_EQ(c.storage.driver, StorageDriverKind::kFilesystem);
  EXPECT_EQ(c.storage.filesystem.rootDirectory, "/data");  // no storage section in the file
  EXPECT_TRUE(c.storage.deleteEnabled);
  EXPECT_EQ(c.http.tls.certificate, "/certs/c.pem");
  EXPECT_EQ(c.http.tls.key, "/certs/k.pem");
  EXPECT_EQ(c.auth.kind, AuthKind::kHtpasswd);
  EXPECT_EQ(c.auth.htpasswd.realm, "Registry Realm");
  EXPECT_EQ(c.auth.htpasswd.path, "/auth/htpasswd");
  EXPECT_EQ(c.log.level, "debug");  // distribution lower-cases the level
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(ConfigEnv, OverridesTheBuiltInDefaults) {
  Config c = loadConfig("", {{"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/data"},
                             {"REGISTRY_HTTP_ADDR", ":8080"}});
  EXPECT_EQ(c.storage.filesystem.rootDirectory, "/data");
  EXPECT_EQ(c.http.addr, ":8080");
  EXPECT_EQ(c.http.headers.at("X-Content-Type-Options"), std::vector<std::string>{"nosniff"});
}

TEST(ConfigEnv, PrefixMustBeUpperCaseAndPartsMatchUpperCasedKeys) {
  Config c = parseConfig("version: 0.1\nhttp:\n  addr: :5000\n", {{"registry_http_addr", ":1"},
                                                                  {"Registry_HTTP_ADDR", ":2"},
                                                                  {"REGISTRYHTTP_ADDR", ":3"},
                                                                  {"REGISTRY_http_addr", ":4"},
                                                                  {"REGISTRY_HTTP_Addr", ":5"}});
  EXPECT_EQ(c.http.addr, ":5000");
  // Names without the REGISTRY_ prefix are not looked at; the rest name no field, because
  // distribution compares each part with the upper-cased field name.
  EXPECT_THAT(c.warnings,
              ElementsAre("Ignoring unrecognized environment variable REGISTRY_HTTP_Addr",
                          "Ignoring unrecognized environment variable REGISTRY_http_addr"));

  // Inside free maps (storage, a driver's parameters) a part that matches no key creates
  // it lower-cased, so this one works in distribution too.
  c = parseConfig("version: 0.1\n", {{"REGISTRY_STORAGE_FILESYSTEM_rootdirectory", "/lower"}});
  EXPECT_EQ(c.storage.filesystem.rootDirectory, "/lower");
  EXPECT_THAT(c.warnings, IsEmpty());

  // A map part that matches no existing key upper-cased recreates the entry under its lower-cased
  // name. "FIlESYSTEM" sorts after "FILESYSTEM", so it replaces what that variable set, in
  // distribution as here.
  c = parseConfig("version: 0.1\n", {{"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/upper"},
                                     {"REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS", "50"},
                                     {"REGISTRY_STORAGE_FIlESYSTEM_ROOTDIRECTORY", "/mixed"}});
  EXPECT_EQ(c.storage.filesystem.rootDirectory, "/mixed");
  EXPECT_EQ(c.storage.filesystem.maxThreads, 100);
}

TEST(ConfigEnv, ValuesAreYaml) {
  Config c = parseConfig(R"(version: 0.1
http:
  headers:
    X-Content-Type-Options: [nosniff]
)",
                         {{"REGISTRY_HTTP_HEADERS", "{X-Frame-Options: [DENY]}"},
                          {"REGISTRY_HTTP_TLS_CLIENTCAS", "[/a.pem, /b.pem]"},
                          {"REGISTRY_HTTP_RELATIVEURLS", "true"},
                          {"REGISTRY_HTTP_SECRET", "123"},
                          {"REGISTRY_HTTP_DRAINTIMEOUT", "1h30m"},
                          {"REGISTRY_CATALOG_MAXENTRIES", "5"},
                          {"REGISTRY_LOG_FIELDS", "{env: prod, team: infra}"},
                          {"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING", "{enabled: false}"},
                          {"REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED", "yes"},
                          {"REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS", "0x40"}});
  EXPECT_EQ(c.http.headers, (HeaderMap{{"X-Frame-Options", {"DENY"}}}));  // replaced whole
  EXPECT_THAT(c.http.tls.clientCas, ElementsAre("/a.pem", "/b.pem"));
  EXPECT_TRUE(c.http.relativeUrls);
  EXPECT_EQ(c.http.secret, "123");
  EXPECT_EQ(c.http.drainTimeout, 90min);
  EXPECT_EQ(c.catalogMaxEntries, 5);
  EXPECT_EQ(c.log.fields, (std::map<std::string, std::string>{{"env", "prod"}, {"team", "infra"}}));
  EXPECT_FALSE(c.storage.uploadPurging.enabled);
  EXPECT_TRUE(c.storage.readOnly);
  EXPECT_EQ(c.storage.filesystem.maxThreads, 64u);
  EXPECT_THAT(c.warnings, IsEmpty());

  // A header added to a map one key at a time.
  c = parseConfig("version: 0.1\n", {{"REGISTRY_HTTP_HEADERS_X-FRAME-OPTIONS", "[DENY]"}});
  EXPECT_EQ(c.http.headers, (HeaderMap{{"x-frame-options", {"DENY"}}}));
}

TEST(ConfigEnv, ProviderScalarReplacesTheSection) {
  TempDir dir;
  std::filesystem::path file = dir.write("config.yml", R"(version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
auth:
  token:
    realm: r
    service: s
    issuer: i
    rootcertbundle: /b.pem
)");
  // Given in reverse order: they are applied sorted by name, the section first.
  Config c = loadConfig(file, {{"REGISTRY_STORAGE_S3_SECURE", "false"},
                               {"REGISTRY_STORAGE_S3_REGION", "us-east-1"},
                               {"REGISTRY_STORAGE_S3_BUCKET", "images"},
                               {"REGISTRY_STORAGE", "s3"},
                               {"REGISTRY_AUTH_HTPASSWD_PATH", "/auth/htpasswd"},
                               {"REGISTRY_AUTH_HTPASSWD_REALM", "Realm"},
                               {"REGISTRY_AUTH", "htpasswd"}});
  EXPECT_EQ(c.storage.driver, StorageDriverKind::kS3);
  EXPECT_EQ(c.storage.s3.bucket, "images");
  EXPECT_EQ(c.storage.s3.region, "us-east-1");
  EXPECT_FALSE(c.storage.s3.secure);
  // As in distribution, REGISTRY_STORAGE replaced the whole section, delete included.
  EXPECT_FALSE(c.storage.deleteEnabled);
  EXPECT_EQ(c.auth.kind, AuthKind::kHtpasswd);
  EXPECT_EQ(c.auth.htpasswd.realm, "Realm");
  EXPECT_EQ(c.auth.htpasswd.path, "/auth/htpasswd");

  c = loadConfig(file, {{"REGISTRY_STORAGE", "s3"},
                        {"REGISTRY_STORAGE_S3_BUCKET", "images"},
                        {"REGISTRY_STORAGE_S3_REGIONENDPOINT", "http://ceph:7480"},
                        {"REGISTRY_STORAGE_DELETE_ENABLED", "true"}});
  EXPECT_EQ(c.storage.s3.regionEndpoint, "http://ceph:7480");
  EXPECT_TRUE(c.storage.deleteEnabled);

  // A second driver next to the file's one is an error, as in distribution.
  std::string message = configError([&] {
    loadConfig(file, {{"REGISTRY_STORAGE_S3_BUCKET", "images"}});
  });
  EXPECT_THAT(message,
              HasSubstr("storage: more than one storage driver configured (filesystem, s3)"));

  // A provider given as a map.
  c = loadConfig(file, {{"REGISTRY_AUTH", "{htpasswd: {realm: R, path: /p}}"}});
  EXPECT_EQ(c.auth.kind, AuthKind::kHtpasswd);
  EXPECT_EQ(c.auth.htpasswd.path, "/p");
}

TEST(ConfigEnv, ListsAreIndexed) {
  Config c = parseConfig("version: 0.1\n",
                         {{"REGISTRY_NOTIFICATIONS_ENDPOINTS_0_NAME", "hook"},
                          {"REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL", "http://hook/"},
                          {"REGISTRY_NOTIFICATIONS_ENDPOINTS_0_TIMEOUT", "250ms"},
                          {"REGISTRY_NOTIFICATIONS_ENDPOINTS_0_IGNORE_ACTIONS", "[pull]"},
                          {"REGISTRY_NOTIFICATIONS_ENDPOINTS_1_URL", "http://other/"}});
  ASSERT_EQ(c.notifications.endpoints.size(), 2u);
  EXPECT_EQ(c.notifications.endpoints[0].name, "hook");
  EXPECT_EQ(c.notifications.endpoints[0].url, "http://hook/");
  EXPECT_EQ(c.notifications.endpoints[0].timeout, 250ms);
  EXPECT_THAT(c.notifications.endpoints[0].ignoreActions, ElementsAre("pull"));
  EXPECT_EQ(c.notifications.endpoints[1].url, "http://other/");

  EXPECT_THAT(parseError("version: 0.1\n", {{"REGISTRY_NOTIFICATIONS_ENDPOINTS_2_URL", "u"}}),
              HasSubstr("notifications.endpoints: index 2 is past the end of the list, which "
                        "has 0 entries (from REGISTRY_NOTIFICATIONS_ENDPOINTS_2_URL)"));
  EXPECT_THAT(parseError("version: 0.1\n", {{"REGISTRY_NOTIFICATIONS_ENDPOINTS_X_URL", "u"}}),
              HasSubstr("notifications.endpoints: expected a list index, got \"X\""));
}

TEST(Config, ReadsHealthChecks) {
  Config c = parseConfig(R"(version: 0.1
health:
  storagedriver:
    enabled: true
    interval: 5s
    threshold: 2
  file:
    - file: /srv/maintenance
      interval: 3s
    - file: /srv/other
  http:
    - uri: https://auth.example.com/health
      headers:
        Authorization: [Basic abc]
      statuscode: 204
      timeout: 2s
      interval: 20s
      threshold: 4
    - uri: http://db.example.com/
  tcp:
    - addr: redis.example.com:6379
      timeout: 500ms
      interval: 1s
      threshold: 3
)",
                         {});
  EXPECT_TRUE(c.health.storageDriver.enabled);
  EXPECT_EQ(c.health.storageDriver.interval, 5s);
  EXPECT_EQ(c.health.storageDriver.threshold, 2);
  ASSERT_EQ(c.health.files.size(), 2u);
  EXPECT_EQ(c.health.files[0].file, "/srv/maintenance");
  EXPECT_EQ(c.health.files[0].interval, 3s);
  EXPECT_EQ(c.health.files[0].threshold, 0);
  EXPECT_EQ(c.health.files[1].file, "/srv/other");
  EXPECT_EQ(c.health.files[1].interval, 10s);
  ASSERT_EQ(c.health.http.size(), 2u);
  const HttpHealthConfig& h = c.health.http[0];
  EXPECT_EQ(h.uri, "https://auth.example.com/health");
  EXPECT_EQ(h.headers.at("Authorization"), std::vector<std::string>{"Basic abc"});
  EXPECT_EQ(h.statusCode, 204);
  EXPECT_EQ(h.timeout, 2s);
  EXPECT_EQ(h.interval, 20s);
  EXPECT_EQ(h.threshold, 4);
  EXPECT_EQ(c.health.http[1].statusCode, 200);
  EXPECT_EQ(c.health.http[1].timeout, 0s);
  EXPECT_EQ(c.health.http[1].interval, 10s);
  ASSERT_EQ(c.health.tcp.size(), 1u);
  EXPECT_EQ(c.health.tcp[0].addr, "redis.example.com:6379");
  EXPECT_EQ(c.health.tcp[0].timeout, 500ms);
  EXPECT_EQ(c.health.tcp[0].interval, 1s);
  EXPECT_EQ(c.health.tcp[0].threshold, 3);
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(ConfigEnv, HealthCheckListsUseDistributionsFieldNames) {
  // The Go fields are FileCheckers, HTTPCheckers and TCPCheckers (yaml file, http, tcp).
  Config c = parseConfig("version: 0.1\n",
                         {{"REGISTRY_HEALTH_FILECHECKERS", "[{file: /srv/down}]"},
                          {"REGISTRY_HEALTH_HTTPCHECKERS_0_URI", "http://a/"},
                          {"REGISTRY_HEALTH_HTTPCHECKERS_0_STATUSCODE", "204"},
                          {"REGISTRY_HEALTH_TCPCHECKERS", "[{addr: 'db:5432', timeout: 1s}]"},
                          {"REGISTRY_HEALTH_TCPCHECKERS_0_THRESHOLD", "2"}});
  ASSERT_EQ(c.health.files.size(), 1u);
  EXPECT_EQ(c.health.files[0].file, "/srv/down");
  ASSERT_EQ(c.health.http.size(), 1u);
  EXPECT_EQ(c.health.http[0].uri, "http://a/");
  EXPECT_EQ(c.health.http[0].statusCode, 204);
  ASSERT_EQ(c.health.tcp.size(), 1u);
  EXPECT_EQ(c.health.tcp[0].addr, "db:5432");
  EXPECT_EQ(c.health.tcp[0].timeout, 1s);
  EXPECT_EQ(c.health.tcp[0].threshold, 2);
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(Config, InvalidHealthChecksNameTheKey) {
  EXPECT_THAT(parseError("version: 0.1\nhealth:\n  file:\n    - interval: 1s\n"),
              HasSubstr("health.file[0].file: must name the file to check"));
  EXPECT_THAT(
      parseError("version: 0.1\nhealth:\n  http:\n    - uri: http://a/\n      statuscode: 42\n"),
      HasSubstr("health.http[0].statuscode: expected an HTTP status code"));
  EXPECT_THAT(parseError("version: 0.1\nhealth:\n  tcp:\n    addr: db:1\n"),
              HasSubstr("health.tcp: expected a list of TCP checks"));
  EXPECT_THAT(parseError("version: 0.1\nhealth:\n  tcp:\n    - addr: db:1\n      threshold: -1\n"),
              HasSubstr("health.tcp[0].threshold: out of range"));
}

TEST(ConfigEnv, UnrecognizedVariablesWarnOnce) {
  Config c =
      parseConfig("version: 0.1\n", {{"REGISTRY_FOO", "1"},
                                     {"REGISTRY_HTTP_ADDR_PORT", "1"},
                                     {"REGISTRY_STORAGE_FILESYSTEM_FOO", "1"},
                                     {"REGISTRY_", "1"},
                                     {"REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES", "true"},
                                     {"REGISTRY_HTTP_HOST", "https://r.example"}});
  EXPECT_EQ(c.http.host, "https://r.example");
  EXPECT_EQ(c.warnings,
            (std::vector<std::string>{
                "Ignoring unrecognized environment variable REGISTRY_",
                "Ignoring unrecognized environment variable REGISTRY_FOO",
                "Ignoring unrecognized environment variable REGISTRY_HTTP_ADDR_PORT",
                // distribution's Go field is EventConfig, so this is the name that works:
                "Ignoring unrecognized environment variable "
                "REGISTRY_NOTIFICATIONS_EVENTS_INCLUDEREFERENCES",
                "Ignoring unrecognized environment variable REGISTRY_STORAGE_FILESYSTEM_FOO"}));
  EXPECT_FALSE(c.notifications.includeReferences);
  c = parseConfig("version: 0.1\n",
                  {{"REGISTRY_NOTIFICATIONS_EVENTCONFIG_INCLUDEREFERENCES", "true"}});
  EXPECT_TRUE(c.notifications.includeReferences);
}

TEST(Config, UnknownAndUnsupportedKeysWarn) {
  Config c = parseConfig(R"(version: 0.1
http:
  adress: :6000
  Addr: :7000
  tls:
    letsencrypt:
      cachefile: /le.cache
redis:
  addr: localhost:6379
storage:
  s3aws:
    bucket: b
    region: us-east-1
    encrypt: true
frobnicate: 1
)",
                         {});
  EXPECT_EQ(c.storage.driver, StorageDriverKind::kS3);  // s3aws is distribution's other name
  EXPECT_EQ(c.http.addr, ":5000");
  EXPECT_THAT(c.warnings, Contains("http.adress: unknown key, ignored (line 3)"));
  EXPECT_THAT(c.warnings,
              Contains("http.Addr: unknown key, ignored (keys are lower case: addr) (line 4)"));
  EXPECT_THAT(c.warnings,
              Contains("http.tls.letsencrypt: not supported by regfs, ignored (line 6)"));
  EXPECT_THAT(c.warnings, Contains("redis: not supported by regfs, ignored (line 8)"));
  EXPECT_THAT(c.warnings,
              Contains("storage.s3aws.encrypt: not supported by regfs, ignored (line 14)"));
  EXPECT_THAT(c.warnings, Contains("frobnicate: unknown key, ignored (line 15)"));
  EXPECT_EQ(c.warnings.size(), 6u);

  c = parseConfig("version: 0.1\nstorage:\n  filesystem:\n    rootdir: /x\n", {});
  EXPECT_THAT(c.warnings, ElementsAre("storage.filesystem.rootdir: unknown key, ignored (line 4)"));
}

TEST(ConfigProxy, ReadsDistributionsKeysAndDefaults) {
  Config c = parseConfig("version: 0.1\n", {});
  EXPECT_FALSE(c.proxy.enabled());
  EXPECT_EQ(c.proxy.ttl, std::chrono::hours(168));

  c = parseConfig(R"(version: 0.1
proxy:
  remoteurl: https://registry-1.docker.io/
  username: user
  password: secret
  ttl: 2h
)",
                  {{"SSL_CERT_FILE", "/ca.pem"}});
  EXPECT_TRUE(c.proxy.enabled());
  EXPECT_EQ(c.proxy.remoteUrl, "https://registry-1.docker.io");  // no doubled slashes
  EXPECT_EQ(c.proxy.username, "user");
  EXPECT_EQ(c.proxy.password, "secret");
  EXPECT_EQ(c.proxy.ttl, 2h);
  EXPECT_EQ(c.proxy.trust.file, "/ca.pem");
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();

  c = parseConfig("version: 0.1\n", {{"REGISTRY_PROXY_REMOTEURL", "http://127.0.0.1:5001"},
                                     {"REGISTRY_PROXY_USERNAME", "u"},
                                     {"REGISTRY_PROXY_PASSWORD", "p"},
                                     {"REGISTRY_PROXY_TTL", "0s"}});
  EXPECT_EQ(c.proxy.remoteUrl, "http://127.0.0.1:5001");
  EXPECT_EQ(c.proxy.username, "u");
  EXPECT_EQ(c.proxy.password, "p");
  EXPECT_EQ(c.proxy.ttl, 0s);
}

TEST(ConfigProxy, RejectsWhatCannotBeAnUpstream) {
  EXPECT_THAT(parseError("version: 0.1\nproxy:\n  remoteurl: ftp://x\n"),
              HasSubstr("proxy.remoteurl: expected an http:// or https:// URL with a host"));
  EXPECT_THAT(parseError("version: 0.1\nproxy:\n  remoteurl: https:///x\n"),
              HasSubstr("proxy.remoteurl"));
  EXPECT_THAT(parseError("version: 0.1\nproxy:\n  remoteurl: http://x\n  ttl: -1h\n"),
              HasSubstr("proxy.ttl: must not be negative"));
  EXPECT_THAT(parseError("version: 0.1\nproxy:\n  remoteurl: http://x\n  ttl: soon\n"),
              HasSubstr("proxy.ttl"));
  EXPECT_THAT(parseError("version: 0.1\n", {{"REGISTRY_PROXY_REMOTEURL", "registry-1"}}),
              HasSubstr("proxy.remoteurl"));
  EXPECT_THAT(parseConfig("version: 0.1\nproxy:\n  remotetypo: http://x\n", {}).warnings,
              Contains("proxy.remotetypo: unknown key, ignored (line 3)"));
}

TEST(ConfigProxy, UpstreamsByPrefixUnderRegfs) {
  Config c = parseConfig(R"(version: 0.1
regfs:
  proxy:
    upstreams:
      - prefix: docker.io
        remoteurl: https://registry-1.docker.io/
        username: hub
        password: hub-secret
      - prefix: ghcr.io
        remoteurl: https://ghcr.io
        ttl: 24h
)",
                         {{"SSL_CERT_DIR", "/certs"}});
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  EXPECT_FALSE(c.proxy.enabled());
  EXPECT_TRUE(c.mirroring());
  ASSERT_EQ(c.regfs.proxyUpstreams.size(), 2u);
  const PrefixUpstream& hub = c.regfs.proxyUpstreams[0];
  EXPECT_EQ(hub.prefix, "docker.io");
  EXPECT_EQ(hub.proxy.remoteUrl, "https://registry-1.docker.io");
  EXPECT_EQ(hub.proxy.username, "hub");
  EXPECT_EQ(hub.proxy.password, "hub-secret");
  EXPECT_EQ(hub.proxy.ttl, 168h);  // distribution's default, as for proxy.ttl
  EXPECT_EQ(hub.proxy.trust.dir, "/certs");
  const PrefixUpstream& ghcr = c.regfs.proxyUpstreams[1];
  EXPECT_EQ(ghcr.prefix, "ghcr.io");
  EXPECT_EQ(ghcr.proxy.ttl, 24h);
  EXPECT_TRUE(ghcr.proxy.username.empty());

  // As registry:2's variables set lists: by index.
  c = parseConfig("version: 0.1\n",
                  {{"REGISTRY_REGFS_PROXY_UPSTREAMS_0_PREFIX", "quay.io"},
                   {"REGISTRY_REGFS_PROXY_UPSTREAMS_0_REMOTEURL", "https://quay.io"},
                   {"REGISTRY_REGFS_PROXY_UPSTREAMS_0_TTL", "0"}});
  ASSERT_EQ(c.regfs.proxyUpstreams.size(), 1u);
  EXPECT_EQ(c.regfs.proxyUpstreams[0].prefix, "quay.io");
  EXPECT_EQ(c.regfs.proxyUpstreams[0].proxy.remoteUrl, "https://quay.io");
  EXPECT_EQ(c.regfs.proxyUpstreams[0].proxy.ttl, 0s);
  EXPECT_FALSE(parseConfig("version: 0.1\n", {}).mirroring());
}

TEST(ConfigProxy, RejectsUpstreamsByPrefixThatCannotServe) {
  auto upstreams = [](const std::string& items) {
    return "version: 0.1\nregfs:\n  proxy:\n    upstreams:\n" + items;
  };
  EXPECT_THAT(parseError(upstreams("      - remoteurl: https://ghcr.io\n")),
              HasSubstr("regfs.proxy.upstreams[0].prefix"));
  EXPECT_THAT(parseError(upstreams("      - prefix: ghcr.io\n")),
              HasSubstr("regfs.proxy.upstreams[0].remoteurl"));
  for (const char* bad : {"/ghcr.io", "ghcr.io/", "GHCR.io", "a//b", "localhost:5000"}) {
    EXPECT_THAT(parseError(upstreams("      - prefix: \"" + std::string(bad) +
                                     "\"\n        remoteurl: https://x\n")),
                HasSubstr("regfs.proxy.upstreams[0].prefix: expected repository name components"))
        << bad;
  }
  EXPECT_THAT(parseError(upstreams("      - prefix: ghcr.io\n        remoteurl: https://a\n"
                                   "      - prefix: ghcr.io\n        remoteurl: https://b\n")),
              HasSubstr("regfs.proxy.upstreams[1].prefix: \"ghcr.io\" is given twice"));
  EXPECT_THAT(parseError(upstreams("      - prefix: ghcr.io\n        remoteurl: ghcr.io\n")),
              HasSubstr("regfs.proxy.upstreams[0].remoteurl: expected an http:// or https:// URL"));
  EXPECT_THAT(parseError(upstreams("      - prefix: ghcr.io\n        remoteurl: https://a\n"
                                   "        ttl: -1s\n")),
              HasSubstr("regfs.proxy.upstreams[0].ttl: must not be negative"));
  EXPECT_THAT(parseError("version: 0.1\nregfs:\n  proxy:\n    upstreams: ghcr.io\n"),
              HasSubstr("regfs.proxy.upstreams: expected a list of upstreams"));
  EXPECT_THAT(parseConfig(upstreams("      - prefix: ghcr.io\n        remoteurl: https://a\n"
                                    "        remoteur1: https://b\n"),
                          {})
                  .warnings,
              Contains(HasSubstr("regfs.proxy.upstreams[0].remoteur1: unknown key, ignored")));
}

TEST(Config, InvalidValuesNameTheKey) {
  EXPECT_THAT(parseError("version: 0.1\nstorage:\n  delete:\n    enabled: maybe\n"),
              HasSubstr("storage.delete.enabled: expected a boolean, got \"maybe\" (line 4)"));
  EXPECT_THAT(parseError("version: 0.1\n", {{"REGISTRY_STORAGE_DELETE_ENABLED", "maybe"}}),
              HasSubstr("storage.delete.enabled: expected a boolean, got \"maybe\" (from "
                        "REGISTRY_STORAGE_DELETE_ENABLED)"));
  EXPECT_THAT(parseError("version: 0.1\nlog:\n  level: verbose\n"),
              HasSubstr("log.level: expected one of error, warn, info, debug, got \"verbose\""));
  EXPECT_THAT(parseError("version: 0.1\nlog:\n  formatter: xml\n"),
              HasSubstr("log.formatter: expected one of text, json, logstash"));
  EXPECT_THAT(parseError("version: 0.1\nhttp:\n  draintimeout: 5x\n"),
              HasSubstr("http.draintimeout: invalid duration \"5x\": unknown unit \"x\""));
  EXPECT_THAT(parseError("version: 0.1\nstorage:\n  maintenance:\n    uploadpurging:\n"
                         "      age: 168\n"),
              HasSubstr("storage.maintenance.uploadpurging.age: invalid duration \"168\": "
                        "missing unit"));
  EXPECT_THAT(parseError("version: 0.1\ncatalog:\n  maxentries: lots\n"),
              HasSubstr("catalog.maxentries: expected an integer, got \"lots\""));
  EXPECT_THAT(parseError("version: 0.1\nstorage:\n  filesystem:\n    maxthreads: [1]\n"),
              HasSubstr("storage.filesystem.maxthreads: expected an integer, got a list"));
  EXPECT_THAT(parseError("version: 0.1\nhttp:\n  addr: {a: b}\n"),
              HasSubstr("http.addr: expected a string, got a mapping"));
  EXPECT_THAT(parseError("version: 0.1\nhttp: 5000\n"),
              HasSubstr("http: expected a mapping, got \"5000\""));
  EXPECT_THAT(parseError("version: 0.1\nhttp:\n  headers:\n    X-A: nosniff\n"),
              HasSubstr("http.headers.X-A: expected a list of strings, got \"nosniff\""));
  EXPECT_THAT(parseError("version: 0.1\nhttp:\n  tls:\n    minimumtls: tls1.4\n"),
              HasSubstr("http.tls.minimumtls: expected one of tls1.0, tls1.1, tls1.2, tls1.3"));
  EXPECT_THAT(parseError("version: 0.1\nhttp:\n  tls:\n    certificate: /c.pem\n"),
              HasSubstr("http.tls.key: must be set together with http.tls.certificate"));
  EXPECT_THAT(parseError("version: 0.1\nhttp:\n  net: udp\n"),
              HasSubstr("http.net: expected one of tcp, unix, got \"udp\""));
  EXPECT_THAT(parseError("version: 0.1\nstorage:\n  s3:\n    bucket: b\n    region: r\n"
                         "    chunksize: 1024\n"),
              HasSubstr("storage.s3.chunksize: expected a size from 5242880 to 5368709120 bytes"));
  EXPECT_THAT(
      parseError("version: 0.1\nstorage:\n  s3:\n    bucket: b\n    region: r\n"
                 "    multipartcopymaxconcurrency: 0\n"),
      HasSubstr("storage.s3.multipartcopymaxconcurrency: expected a number from 1 up, got 0"));
  EXPECT_THAT(
      parseError("version: 0.1\nstorage:\n  s3:\n    bucket: b\n    region: r\n"
                 "    multipartcopythresholdsize: 6000000000\n"),
      HasSubstr(
          "storage.s3.multipartcopythresholdsize: expected a size from 0 to 5368709120 bytes"));
  EXPECT_THAT(parseError("version: 0.1\nstorage:\n  s3:\n    region: r\n"),
              HasSubstr("storage.s3.bucket: must be set for the s3 driver"));
  EXPECT_THAT(parseError("version: 0.1\nstorage:\n  s3:\n    bucket: b\n"),
              HasSubstr("storage.s3.region: must be set for the s3 driver unless regionendpoint"));
  EXPECT_THAT(parseError("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: \"\"\n"),
              HasSubstr("storage.filesystem.rootdirectory: must not be empty"));
  EXPECT_THAT(parseError("version: 0.1\nstorage:\n  gcs:\n    bucket: b\n"),
              HasSubstr("storage.gcs: storage driver \"gcs\" is not supported by regfs"));
  EXPECT_THAT(parseError("version: 0.1\nauth:\n  htpasswd:\n    realm: r\n"),
              HasSubstr("auth.htpasswd.path: must be set for htpasswd auth"));
  EXPECT_THAT(parseError("version: 0.1\n", {{"REGISTRY_AUTH", "htpasswd"}}),
              HasSubstr("auth.htpasswd.realm: must be set for htpasswd auth (from REGISTRY_AUTH)"));
  EXPECT_THAT(parseError("version: 0.1\nauth:\n  token:\n    realm: r\n    service: s\n"
                         "    issuer: i\n"),
              HasSubstr("auth.token.rootcertbundle: must be set for token auth (or jwks)"));
  EXPECT_THAT(parseError("version: 0.1\nauth:\n  htpasswd: {realm: r, path: p}\n  silly: {}\n"),
              HasSubstr("auth: more than one auth provider configured (htpasswd, silly)"));
  EXPECT_THAT(parseError("version: 0.1\nauth:\n  ldap: {}\n"),
              HasSubstr("auth.ldap: auth provider \"ldap\" is not supported by regfs"));
  EXPECT_THAT(parseError("version: 0.1\n", {{"REGISTRY_HTTP_HEADERS", "{a: [b"}}),
              HasSubstr("REGISTRY_HTTP_HEADERS: the value is not valid YAML"));
}

TEST(Config, InmemoryIsRefusedClearly) {
  std::string message = parseError("version: 0.1\nstorage:\n  inmemory:\n");
  EXPECT_THAT(message, HasSubstr("storage.inmemory: the inmemory storage driver is not supported"));
  EXPECT_THAT(message, HasSubstr("(line 3)"));
  EXPECT_THAT(
      parseError("version: 0.1\n", {{"REGISTRY_STORAGE", "inmemory"}}),
      HasSubstr("storage.inmemory: the inmemory storage driver is not supported by regfs "
                "(it loses every image on restart); use filesystem (from REGISTRY_STORAGE)"));
}

TEST(Config, VersionIsRequired) {
  EXPECT_THAT(parseError(""), HasSubstr("version: missing"));
  EXPECT_THAT(parseError("http:\n  addr: :5000\n"), HasSubstr("version: missing"));
  EXPECT_THAT(parseError("version: 0.2\n"), HasSubstr("version: unsupported version \"0.2\""));
  EXPECT_THAT(parseError("- a\n- b\n"), HasSubstr("expected a mapping of sections, got a list"));
  EXPECT_THAT(parseError("version: 0.1\nhttp: [\n"), HasSubstr("invalid YAML at line"));
}

TEST(Config, DurationsInTheFile) {
  Config c = parseConfig(R"(version: 0.1
http:
  draintimeout: 1h30m
storage:
  maintenance:
    uploadpurging:
      age: 1.5h
      interval: 90s
      dryrun: true
)",
                         {});
  EXPECT_EQ(c.http.drainTimeout, 90min);
  EXPECT_EQ(c.storage.uploadPurging.age, 90min);
  EXPECT_EQ(c.storage.uploadPurging.interval, 90s);
  EXPECT_TRUE(c.storage.uploadPurging.enabled);  // merged with the defaults
  EXPECT_TRUE(c.storage.uploadPurging.dryRun);

  // A Go time.Duration field reads a bare integer as nanoseconds; say so.
  c = parseConfig("version: 0.1\nhttp:\n  draintimeout: 10\n", {});
  EXPECT_EQ(c.http.drainTimeout, 10ns);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_THAT(c.warnings[0], HasSubstr("http.draintimeout: 10 has no unit and means nanoseconds"));
}

TEST(Config, SmallValuesFollowDistribution) {
  Config c = parseConfig(R"(version: 0.1
loglevel: warn
storage:
  filesystem:
    maxthreads: 3
  redirect:
    disable: true
)",
                         {});
  EXPECT_EQ(c.log.level, "warn");  // the deprecated top-level key still counts
  EXPECT_EQ(c.storage.filesystem.maxThreads, 25u);
  EXPECT_TRUE(c.storage.redirectDisabled);
  EXPECT_THAT(c.notes,
              Contains(HasSubstr("storage.filesystem.maxthreads: 3 raised to the minimum")));
}

TEST(Config, UnreadableFileIsNamed) {
  TempDir dir;
  std::filesystem::path missing = dir.path() / "nope.yml";
  std::string message = configError([&] { loadConfig(missing, {}); });
  EXPECT_THAT(message, HasSubstr(missing.string()));
  EXPECT_THAT(message, HasSubstr("No such file or directory"));
  EXPECT_THAT(configError([&] { loadConfig(dir.path(), {}); }), HasSubstr(dir.path().string()));

  // Errors in a file name the file, with the line when there is one.
  std::filesystem::path empty = dir.write("empty.yml", "");
  EXPECT_THAT(configError([&] { loadConfig(empty, {}); }),
              HasSubstr("version: missing; a distribution config.yml starts with \"version: "
                        "0.1\" (in " +
                        empty.string() + ")"));
  std::filesystem::path file = dir.write("bad.yml", "version: 0.1\nhttp:\n  relativeurls: 2\n");
  EXPECT_THAT(configError([&] { loadConfig(file, {}); }),
              HasSubstr("http.relativeurls: expected a boolean, got \"2\" (line 3 of " +
                        file.string() + ")"));
}

TEST(ProcessEnvironment, ReadsThisProcess) {
  const char* path = getenv("PATH");
  ASSERT_NE(path, nullptr) << "ctest runs tests with PATH set";
  Environment env = processEnvironment();
  EXPECT_THAT(env, Contains(std::make_pair(std::string("PATH"), std::string(path))));
}

}  // namespace

TEST(Config, RegfsIndexingIsOnUnlessTurnedOff) {
  EXPECT_TRUE(parseConfig("version: 0.1\n", {}).regfs.indexingEnabled);
  EXPECT_TRUE(parseConfig("version: 0.1\nregfs:\n  indexing:\n", {}).regfs.indexingEnabled);
  Config c = parseConfig("version: 0.1\nregfs:\n  indexing:\n    enabled: false\n", {});
  EXPECT_FALSE(c.regfs.indexingEnabled);
  EXPECT_THAT(c.warnings, IsEmpty());
  c = parseConfig("version: 0.1\n", {{"REGISTRY_REGFS_INDEXING_ENABLED", "false"}});
  EXPECT_FALSE(c.regfs.indexingEnabled);
  EXPECT_THAT(c.warnings, IsEmpty());
  EXPECT_THAT(parseError("version: 0.1\nregfs:\n  indexing:\n    enabled: sometimes\n"),
              HasSubstr("regfs.indexing.enabled: expected a boolean"));
  c = parseConfig("version: 0.1\nregfs:\n  indexing:\n    enable: false\n", {});
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_THAT(c.warnings[0], HasSubstr("regfs.indexing.enable: unknown key"));
}

TEST(Config, RegfsUiIsOnUnlessTurnedOff) {
  EXPECT_TRUE(parseConfig("version: 0.1\n", {}).regfs.uiEnabled);
  Config c = parseConfig("version: 0.1\nregfs:\n  ui:\n    enabled: false\n", {});
  EXPECT_FALSE(c.regfs.uiEnabled);
  EXPECT_THAT(c.warnings, IsEmpty());
  c = parseConfig("version: 0.1\n", {{"REGISTRY_REGFS_UI_ENABLED", "false"}});
  EXPECT_FALSE(c.regfs.uiEnabled);
  EXPECT_THAT(parseError("version: 0.1\nregfs:\n  ui:\n    enabled: maybe\n"),
              HasSubstr("regfs.ui.enabled: expected a boolean"));
}

TEST(Config, RegfsGcIsOffUnlessAnIntervalIsSet) {
  using namespace std::chrono_literals;
  Config c = parseConfig("version: 0.1\n", {});
  EXPECT_EQ(c.regfs.gc.interval, 0ns);
  EXPECT_FALSE(c.regfs.gc.deleteUntagged);
  EXPECT_EQ(c.regfs.gc.grace, std::chrono::nanoseconds(kDefaultMaintenanceGrace));
  EXPECT_EQ(c.regfs.gc.settle, std::chrono::nanoseconds(kDefaultGcSettle));
  c = parseConfig(
      "version: 0.1\nregfs:\n  gc:\n    interval: 24h\n    deleteuntagged: true\n"
      "    grace: 30m\n    settle: 2s\n",
      {});
  EXPECT_EQ(c.regfs.gc.interval, 24h);
  EXPECT_TRUE(c.regfs.gc.deleteUntagged);
  EXPECT_EQ(c.regfs.gc.grace, 30min);
  EXPECT_EQ(c.regfs.gc.settle, 2s);
  EXPECT_THAT(c.warnings, IsEmpty());
  c = parseConfig("version: 0.1\n", {{"REGISTRY_REGFS_GC_INTERVAL", "1h"}});
  EXPECT_EQ(c.regfs.gc.interval, 1h);
  EXPECT_THAT(parseError("version: 0.1\nregfs:\n  gc:\n    interval: often\n"),
              HasSubstr("regfs.gc.interval"));
  EXPECT_THAT(parseError("version: 0.1\nregfs:\n  gc:\n    interval: -1h\n"),
              HasSubstr("negative"));
}

TEST(Config, RegfsRetentionAndImmutableRules) {
  Config c = parseConfig(R"(version: 0.1
regfs:
  retention:
    enabled: true
    interval: 6h
    dryrun: true
    policies:
      - repositories: ["team/*", "ci/**"]
        protecttags: ["release-.*"]
        keeplatest: 10
        keeptags: ["v[0-9]+"]
        removeolderthan: 720h
        untaggedolderthan: 168h
        deletereferrers: true
      - repositories: ["**"]
  immutable:
    - repositories: ["prod/**"]
      tags: ["v.*", "stable"]
)",
                         {});
  EXPECT_THAT(c.warnings, IsEmpty());
  const RetentionConfig& r = c.regfs.retention;
  EXPECT_TRUE(r.enabled);
  EXPECT_TRUE(r.dryRun);
  EXPECT_EQ(r.interval, std::chrono::hours(6));
  ASSERT_EQ(r.policies.size(), 2u);
  const RetentionPolicy& p = r.policies[0];
  ASSERT_EQ(p.repositories.size(), 2u);
  EXPECT_EQ(p.repositories[1].str(), "ci/**");
  EXPECT_EQ(p.keepLatest, 10u);
  EXPECT_TRUE(p.keepTags.at(0).matches("v12"));
  EXPECT_TRUE(p.protectTags.at(0).matches("release-1"));
  EXPECT_EQ(p.removeOlderThan, std::chrono::hours(720));
  EXPECT_EQ(p.untaggedOlderThan, std::chrono::hours(168));
  EXPECT_TRUE(p.deleteReferrers);
  EXPECT_FALSE(r.policies[1].keepLatest);
  EXPECT_FALSE(r.policies[1].deleteReferrers);
  ASSERT_EQ(c.regfs.immutable.size(), 1u);
  EXPECT_EQ(c.regfs.immutable[0].tags.size(), 2u);
  // Off unless configured.
  Config plain = parseConfig("version: 0.1\n", {});
  EXPECT_FALSE(plain.regfs.retention.enabled);
  EXPECT_EQ(plain.regfs.retention.interval, kDefaultRetentionInterval);
  EXPECT_THAT(plain.regfs.immutable, IsEmpty());
}

TEST(Config, RegfsRetentionRefusesBadPatternsAndDurations) {
  const std::string head = "version: 0.1\nregfs:\n  retention:\n    policies:\n      - ";
  auto policyError = [&](const std::string& policy) {
    return configError([&] { parseConfig(head + policy, {}); });
  };
  EXPECT_THAT(policyError("repositories: [\"Team/[a]\"]\n"),
              HasSubstr("regfs.retention.policies[0].repositories[0]: repository pattern"));
  EXPECT_THAT(policyError("repositories: [\"**\"]\n        keeptags: [\"v([\"]\n"),
              HasSubstr("regfs.retention.policies[0].keeptags[0]: tag pattern \"v([\": not a "
                        "regular expression"));
  EXPECT_THAT(policyError("repositories: [\"**\"]\n        protecttags: [\"(\"]\n"),
              HasSubstr("regfs.retention.policies[0].protecttags[0]"));
  EXPECT_THAT(policyError("repositories: [\"**\"]\n        removeolderthan: 30d\n"),
              HasSubstr("regfs.retention.policies[0].removeolderthan: invalid duration"));
  EXPECT_THAT(policyError("repositories: [\"**\"]\n        untaggedolderthan: 0s\n"),
              HasSubstr("must be a duration above zero"));
  EXPECT_THAT(policyError("repositories: [\"**\"]\n        keeplatest: 0\n"),
              HasSubstr("regfs.retention.policies[0].keeplatest: must be a number of tags"));
  EXPECT_THAT(policyError("keeplatest: 3\n"), HasSubstr("repositories"));
  EXPECT_THAT(parseError("version: 0.1\nregfs:\n  retention:\n    interval: soon\n"),
              HasSubstr("regfs.retention.interval: invalid duration"));
  EXPECT_THAT(parseError("version: 0.1\nregfs:\n  immutable:\n    - repositories: [\"**\"]\n"),
              HasSubstr("regfs.immutable[0]"));
  EXPECT_THAT(parseError("version: 0.1\nregfs:\n  immutable:\n    - repositories: [\"**\"]\n      "
                         "tags: [\"[\"]\n"),
              HasSubstr("regfs.immutable[0].tags[0]: tag pattern"));
}

}  // namespace regfs
