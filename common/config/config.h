#pragma once
// The registry configuration: distribution's config.yml (version 0.1), read the way
// distribution reads it, with its REGISTRY_* environment overrides applied on top.
//
// Overrides follow distribution's configuration/parser.go:
//  - Only names starting with the upper-case prefix "REGISTRY_" count. They are applied
//    in byte order of their names, so REGISTRY_STORAGE comes before
//    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY and the more specific one wins.
//  - The rest of the name is split on '_'; each part names a key one level down. A part
//    matches a key whose upper-case spelling equals it, so parts must be upper case
//    (REGISTRY_HTTP_ADDR works, REGISTRY_HTTP_addr does not). Inside sections that are
//    free maps in distribution (storage, auth, a driver's parameters, http.headers,
//    log.fields) a part that matches no key creates one, lower-cased, and maps are
//    created as needed, so REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY works without a
//    storage section in the file. A numeric part indexes a list
//    (REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL); the next free index appends.
//  - The value is parsed as YAML: "true", "5", "[a, b]" and "{a: b}" have their YAML types.
//  - A scalar for storage or auth names the provider and replaces the whole section:
//    REGISTRY_STORAGE=s3 gives {s3: {}} (dropping the file's delete and maintenance
//    settings too, as distribution does); REGISTRY_AUTH_HTPASSWD_REALM then fills it in.
//  - A variable that names no known key is ignored with the warning
//    "Ignoring unrecognized environment variable REGISTRY_…".
//
// Where regfs differs on purpose: with no storage driver at all it uses filesystem at
// /var/lib/registry instead of refusing to start; a maintenance.uploadpurging section is
// merged with the defaults instead of replacing them; and
// REGISTRY_STORAGE_MAINTENANCE_{UPLOADPURGING,READONLY}_* work (distribution fails to start
// on them, distribution#1736).
//
// Errors throw Error(kConfigInvalid) naming the key path and where the value came from:
//   storage.delete.enabled: expected a boolean, got "maybe" (line 7 of /etc/registry.yml)
// Keys this schema does not know, and sections regfs accepts but does not act on, are
// not errors: they produce lines in Config::warnings, which callers log.
//
// defaults.h holds the default values, for everyone. The room's other headers are the
// loader's parts, for this folder only: value.h (a value
// of the YAML tree and its key path), reader.h (typed reads, and messages that say where a
// value came from), overrides.h (the REGISTRY_* overrides), schema.h (the known keys) and
// sections.h (one reader per section, each in <section>_section.cc). config.cc wires them.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/defaults.h"
#include "common/pattern.h"

namespace regfs {

// Environment entries as (name, value). Tests pass their own; servers pass
// processEnvironment().
using Environment = std::vector<std::pair<std::string, std::string>>;

// HTTP header name -> values, as http.headers and notification endpoints write them.
using HeaderMap = std::map<std::string, std::vector<std::string>>;

struct LogConfig {
  std::string level = "info";                 // error | warn | info | debug (input is lower-cased)
  std::string formatter = "text";             // text | json | logstash
  std::map<std::string, std::string> fields;  // static fields for every log line
  bool accessLogDisabled = false;             // log.accesslog.disabled
  bool reportCaller = false;
};

enum class StorageDriverKind { kFilesystem, kS3 };

struct FilesystemStorageConfig {
  std::filesystem::path rootDirectory{kDefaultRootDirectory};
  uint64_t maxThreads = 100;  // values under 25 become 25, as in distribution
};

// distribution's storage.s3 keys; common/storage/s3_driver.h talks to the bucket.
// The CA certificates trusted for HTTPS to other servers (the S3 endpoint, webhooks, HTTP
// health checks), read from the environment as Go, and so distribution, reads them:
// SSL_CERT_FILE replaces the system bundle and SSL_CERT_DIR the system directory. Empty:
// the system's. Every section that connects out carries a copy, filled by the loader.
struct CaTrust {
  std::string file;  // SSL_CERT_FILE
  std::string dir;   // SSL_CERT_DIR
};
CaTrust caTrustFrom(const Environment& env);

struct S3StorageConfig {
  std::string region;          // required unless regionEndpoint is set
  std::string regionEndpoint;  // e.g. a Ceph RGW URL
  std::string bucket;          // required
  CaTrust trust;
  std::string accessKey;
  std::string secretKey;
  bool secure = true;       // https when regionEndpoint has no scheme (a given scheme wins)
  bool skipVerify = false;  // https without checking the endpoint's certificate
  bool v4Auth = true;
  std::string rootDirectory;  // key prefix inside the bucket
  // 5 MiB .. 5 GiB. distribution's default is 10 MiB; 8 MiB is two whole 4 MiB RADOS
  // objects on radosgw, whose CopyObject (a blob's commit) takes a reference on each.
  uint64_t chunkSize = 8 * 1024 * 1024;
  bool forcePathStyle = false;
  // A move copies objects larger than the threshold (0 .. 5 GiB) in parts of the chunk
  // size (5 MiB .. 5 GiB), up to this many at once; smaller ones in one CopyObject.
  // distribution's threshold is 32 MiB; regfs's is 5 GiB, the most one CopyObject takes:
  // radosgw shares the data of a CopyObject but rewrites every copied part, and every pushed
  // layer is moved once (docs/benchmarks.md, "What limits the S3 push").
  uint64_t multipartCopyChunkSize = 32 * 1024 * 1024;
  uint64_t multipartCopyMaxConcurrency = 100;
  uint64_t multipartCopyThresholdSize = uint64_t{5} << 30;
};

struct UploadPurgingConfig {
  bool enabled = true;
  std::chrono::nanoseconds age = kDefaultUploadPurgingAge;
  std::chrono::nanoseconds interval = kDefaultUploadPurgingInterval;
  bool dryRun = false;
};

struct StorageConfig {
  StorageDriverKind driver = StorageDriverKind::kFilesystem;
  FilesystemStorageConfig filesystem;  // meaningful when driver == kFilesystem
  S3StorageConfig s3;                  // meaningful when driver == kS3
  bool deleteEnabled = false;          // storage.delete.enabled
  bool redirectDisabled = false;       // storage.redirect.disable
  UploadPurgingConfig uploadPurging;   // storage.maintenance.uploadpurging
  bool readOnly = false;               // storage.maintenance.readonly.enabled
};

struct TlsConfig {
  std::string certificate;  // PEM file; TLS is on when this is set
  std::string key;
  std::vector<std::string> clientCas;  // when set, client certificates are required
  std::string minimumTls = "tls1.2";   // tls1.0 | tls1.1 | tls1.2 | tls1.3
  std::vector<std::string> cipherSuites;
};

struct HttpConfig {
  std::string addr = ":5000";
  std::string net = "tcp";  // tcp | unix
  std::string host;         // externally reachable URL, for Location headers
  std::string prefix;
  std::string secret;
  bool relativeUrls = false;
  std::chrono::nanoseconds drainTimeout{0};
  HeaderMap headers;  // added to every response
  std::string debugAddr;
  bool prometheusEnabled = false;
  std::string prometheusPath = "/metrics";
  TlsConfig tls;
  bool http2Disabled = false;
};

enum class AuthKind { kNone, kHtpasswd, kToken, kSilly };

struct HtpasswdAuthConfig {
  std::string realm;
  std::string path;
};

struct TokenAuthConfig {
  std::string realm;
  std::string service;
  std::string issuer;
  std::string rootCertBundle;
  std::string jwks;
  bool autoRedirect = false;
};

struct SillyAuthConfig {
  std::string realm;
  std::string service;
};

struct AuthConfig {
  AuthKind kind = AuthKind::kNone;
  HtpasswdAuthConfig htpasswd;  // meaningful when kind == kHtpasswd, and so on
  TokenAuthConfig token;
  SillyAuthConfig silly;
};

struct NotificationEndpoint {
  std::string name;
  std::string url;
  bool disabled = false;
  HeaderMap headers;
  std::chrono::nanoseconds timeout = std::chrono::seconds(1);  // zero or less -> 1s
  int threshold = 10;                                          // zero or less -> 10
  std::chrono::nanoseconds backoff = std::chrono::seconds(1);  // zero or less -> 1s
  std::vector<std::string> ignoredMediaTypes;
  std::vector<std::string> ignoreMediaTypes;  // ignore.mediatypes
  std::vector<std::string> ignoreActions;     // ignore.actions
};

struct NotificationsConfig {
  bool includeReferences = false;  // notifications.events.includereferences
  CaTrust trust;
  std::vector<NotificationEndpoint> endpoints;
};

// health.storagedriver: a periodic probe of the storage; after `threshold` failures in a
// row (0: at the first) the registry answers 503 until a probe succeeds.
struct StorageDriverHealthConfig {
  bool enabled = false;
  std::chrono::nanoseconds interval = std::chrono::seconds(10);  // zero or less -> 10s
  int threshold = 0;
};

// The checks below run every `interval` (zero or less -> 10s). With `threshold` 0 a check
// fails at its first failure; otherwise after that many failures in a row. Any success
// makes it pass again.

// health.file[]: fails while `file` exists (an operator's maintenance switch).
struct FileHealthConfig {
  std::string file;
  std::chrono::nanoseconds interval = std::chrono::seconds(10);
  int threshold = 0;
};

// health.http[]: a HEAD request to `uri` (redirects followed) must answer `statusCode`.
struct HttpHealthConfig {
  std::string uri;
  HeaderMap headers;
  int statusCode = 200;                 // zero -> 200
  std::chrono::nanoseconds timeout{0};  // zero or less -> the interval
  std::chrono::nanoseconds interval = std::chrono::seconds(10);
  int threshold = 0;
};

// health.tcp[]: a TCP connection to `addr` (host:port) must open within `timeout`.
struct TcpHealthConfig {
  std::string addr;
  std::chrono::nanoseconds timeout{0};  // zero or less -> the interval
  std::chrono::nanoseconds interval = std::chrono::seconds(10);
  int threshold = 0;
};

struct HealthConfig {
  StorageDriverHealthConfig storageDriver;  // health.storagedriver
  std::vector<FileHealthConfig> files;      // health.file
  std::vector<HttpHealthConfig> http;       // health.http
  std::vector<TcpHealthConfig> tcp;         // health.tcp
  CaTrust trust;                            // for health.http
};

// regfs.retention.policies[]: which tags and untagged manifests of the repositories it
// selects a retention run removes. common/lifecycle/retention.h states how the rules combine.
struct RetentionPolicy {
  std::vector<NameGlob> repositories;   // repositories: at least one
  std::vector<TagPattern> protectTags;  // protecttags: always kept
  std::optional<size_t> keepLatest;     // keeplatest: the N most recently pushed tags
  std::vector<TagPattern> keepTags;     // keeptags: tags matching one are kept
  // removeolderthan: tags pushed longer ago than this are removed (younger ones kept)
  std::optional<std::chrono::nanoseconds> removeOlderThan;
  // untaggedolderthan: manifests no kept tag reaches, pushed longer ago than this, go
  std::optional<std::chrono::nanoseconds> untaggedOlderThan;
  bool deleteReferrers = false;  // deletereferrers: referrers of kept manifests may go too
};

// regfs.retention: the policies, and the server's schedule for them.
struct RetentionConfig {
  bool enabled = false;  // enabled: regfs-server runs retention every `interval`
  std::chrono::nanoseconds interval = kDefaultRetentionInterval;
  bool dryRun = false;  // dryrun: the server logs what would go, removes nothing
  std::vector<RetentionPolicy> policies;
};

// regfs.immutable[]: in the repositories it selects, a tag matching one of `tags` cannot be
// moved or deleted once pushed (common/lifecycle/immutable.h).
struct ImmutableRule {
  std::vector<NameGlob> repositories;  // repositories: at least one
  std::vector<TagPattern> tags;        // tags: at least one
};

// proxy: the pull-through cache (api/mirror). regfs is a mirror of `remoteUrl` when it is
// set: pulls fetch from there and keep what they fetched, pushes and deletes are refused.
struct ProxyConfig {
  std::string remoteUrl;  // http:// or https://, with a host; empty: not a mirror
  std::string username;   // for the upstream's Basic auth or its token realm
  std::string password;
  std::chrono::nanoseconds ttl = kDefaultProxyTtl;  // zero: kept until removed by hand
  CaTrust trust;                                    // for https upstreams
  bool enabled() const { return !remoteUrl.empty(); }
};

// regfs.proxy.upstreams[]: more upstreams of the pull-through cache, each for the repository
// names under its prefix. The longest prefix that matches whole name components wins; the
// upstream is asked for the name without the prefix; a name under no prefix goes to `proxy`
// (docs/mirror.md, "Several upstreams").
struct PrefixUpstream {
  std::string prefix;  // one or more name components: "ghcr.io", "mirrors/quay"
  ProxyConfig proxy;   // remoteurl (required), username, password, ttl
};

// regfs: keys of regfs's own, which registry:2 ignores (it does not know them).
// regfs.gc: the server runs garbage collection (common/maintenance/gc.h) every `interval`,
// one server of those sharing the store at a time (api/ops/scheduled_gc.h).
struct GcScheduleConfig {
  std::chrono::nanoseconds interval{0};                       // regfs.gc.interval; zero: off
  bool deleteUntagged = false;                                // regfs.gc.deleteuntagged
  std::chrono::nanoseconds grace = kDefaultMaintenanceGrace;  // regfs.gc.grace
  std::chrono::nanoseconds settle = kDefaultGcSettle;         // regfs.gc.settle
};

struct RegfsConfig {
  // regfs.indexing.enabled: the server indexes the layers of each pushed image in the
  // background, so that browsing it (regfs-mount, the files API) never waits for a scan.
  bool indexingEnabled = true;
  // regfs.ui.enabled: regfs-server serves the web UI at / on the API's listener.
  bool uiEnabled = true;
  // regfs.ui.refresh: how old the web UI's catalog and storage figures may get before the
  // server reads them from the store again (browse::StoreSummaries).
  std::chrono::nanoseconds uiRefresh = kDefaultUiRefresh;
  GcScheduleConfig gc;
  RetentionConfig retention;
  std::vector<ImmutableRule> immutable;
  std::vector<PrefixUpstream> proxyUpstreams;  // regfs.proxy.upstreams
};

struct Config {
  std::string version = "0.1";
  LogConfig log;
  StorageConfig storage;
  HttpConfig http;
  AuthConfig auth;
  NotificationsConfig notifications;
  HealthConfig health;
  int catalogMaxEntries = 1000;  // zero or less -> 1000
  RegfsConfig regfs;
  ProxyConfig proxy;

  std::vector<std::string> warnings;  // log at warning level
  std::vector<std::string> notes;     // log at debug level

  // A pull-through cache: `proxy` or regfs.proxy.upstreams names an upstream.
  bool mirroring() const { return proxy.enabled() || !regfs.proxyUpstreams.empty(); }
};

// Reads `file` and applies `env`. An empty `file` means the configuration the registry:2
// image ships (addr :5000, filesystem at /var/lib/registry, X-Content-Type-Options:
// nosniff), still with `env` applied. A file that cannot be read throws
// Error(kConfigInvalid) naming it.
Config loadConfig(const std::filesystem::path& file, const Environment& env);

// Parses a config.yml document. `version: 0.1` is required, as in distribution.
Config parseConfig(std::string_view yaml, const Environment& env);

// The environment of this process.
Environment processEnvironment();

// Go's time.ParseDuration: "300ms", "1.5h", "1h30m", "-2s", "0"; units ns, us (µs, μs),
// ms, s, m, h. Throws Error(kConfigInvalid) on anything else or on overflow.
std::chrono::nanoseconds parseDuration(std::string_view text);

}  // namespace regfs
