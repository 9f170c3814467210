// The schema: every key of a config.yml, its shape and whether regfs acts on it; providers
// expanded and unknown keys reported against it.

#include "common/config/schema.h"

#include <cstddef>
#include <utility>

#include "common/config/reader.h"

namespace regfs::config {
namespace {

Schema structOf(std::vector<Field> fields) {
  return Schema{.shape = Shape::kStruct, .fields = std::move(fields)};
}

// A driver's or provider's parameters: a free map in distribution, but regfs knows the
// keys it reads and warns about the rest.
Schema paramsOf(std::vector<Field> fields) {
  return Schema{.shape = Shape::kMap, .fields = std::move(fields), .closed = true};
}

const Schema kScalar{.shape = Shape::kScalar};
const Schema kAny{.shape = Shape::kAny};
const Schema kStringList{.shape = Shape::kList, .element = &kScalar};
const Schema kHeaders{.shape = Shape::kMap, .element = &kStringList};
const Schema kAnyMap{.shape = Shape::kMap, .element = &kAny};

const Schema kAccessLog = structOf({{"disabled", &kScalar}});
const Schema kLog = structOf({{"accesslog", &kAccessLog},
                              {"level", &kScalar},
                              {"formatter", &kScalar},
                              {"fields", &kAnyMap},
                              {"hooks", &kAny, Support::kIgnored},
                              {"reportcaller", &kScalar}});

const Schema kFilesystem = paramsOf({{"rootdirectory", &kScalar}, {"maxthreads", &kScalar}});
const Schema kS3 = paramsOf({
    {"region", &kScalar},
    {"regionendpoint", &kScalar},
    {"bucket", &kScalar},
    {"accesskey", &kScalar},
    {"secretkey", &kScalar},
    {"secure", &kScalar},
    {"skipverify", &kScalar},
    {"v4auth", &kScalar},
    {"rootdirectory", &kScalar},
    {"chunksize", &kScalar},
    {"forcepathstyle", &kScalar},
    {"encrypt", &kAny, Support::kIgnored},
    {"keyid", &kAny, Support::kIgnored},
    {"storageclass", &kAny, Support::kIgnored},
    {"objectacl", &kAny, Support::kIgnored},
    {"useragent", &kAny, Support::kIgnored},
    {"usedualstack", &kAny, Support::kIgnored},
    {"accelerate", &kAny, Support::kIgnored},
    {"usefipsendpoint", &kAny, Support::kIgnored},
    {"multipartcopychunksize", &kScalar},
    {"multipartcopymaxconcurrency", &kScalar},
    {"multipartcopythresholdsize", &kScalar},
    {"loglevel", &kAny, Support::kIgnored},
});
const Schema kDelete = paramsOf({{"enabled", &kScalar}});
const Schema kRedirect = paramsOf({{"disable", &kScalar}});
const Schema kUploadPurging = paramsOf(
    {{"enabled", &kScalar}, {"age", &kScalar}, {"interval", &kScalar}, {"dryrun", &kScalar}});
const Schema kReadOnly = paramsOf({{"enabled", &kScalar}});
const Schema kMaintenance =
    paramsOf({{"uploadpurging", &kUploadPurging}, {"readonly", &kReadOnly}});
// Keys other than these sections name the driver; the conversion checks them.
const Schema kStorage{.shape = Shape::kMap,
                      .fields = {{"filesystem", &kFilesystem},
                                 {"s3", &kS3},
                                 {"s3aws", &kS3},
                                 {"delete", &kDelete},
                                 {"redirect", &kRedirect},
                                 {"cache", &kAny, Support::kNoted},
                                 {"maintenance", &kMaintenance}},
                      .provider = true};

const Schema kHtpasswd = paramsOf({{"realm", &kScalar}, {"path", &kScalar}});
const Schema kToken = paramsOf({{"realm", &kScalar},
                                {"service", &kScalar},
                                {"issuer", &kScalar},
                                {"rootcertbundle", &kScalar},
                                {"jwks", &kScalar},
                                {"autoredirect", &kScalar},
                                {"autoredirectpath", &kAny, Support::kIgnored},
                                {"signingalgorithms", &kAny, Support::kIgnored}});
const Schema kSilly = paramsOf({{"realm", &kScalar}, {"service", &kScalar}});
const Schema kAuth{.shape = Shape::kMap,
                   .fields = {{"htpasswd", &kHtpasswd}, {"token", &kToken}, {"silly", &kSilly}},
                   .provider = true};

const Schema kTls = structOf({{"certificate", &kScalar},
                              {"key", &kScalar},
                              {"clientcas", &kStringList},
                              {"minimumtls", &kScalar},
                              {"ciphersuites", &kStringList},
                              {"letsencrypt", &kAny, Support::kIgnored}});
const Schema kPrometheus = structOf({{"enabled", &kScalar}, {"path", &kScalar}});
const Schema kDebug = structOf({{"addr", &kScalar}, {"prometheus", &kPrometheus}});
const Schema kHttp2 = structOf({{"disabled", &kScalar}});
const Schema kHttp = structOf({{"addr", &kScalar},
                               {"net", &kScalar},
                               {"host", &kScalar},
                               {"prefix", &kScalar},
                               {"secret", &kScalar},
                               {"relativeurls", &kScalar},
                               {"draintimeout", &kScalar},
                               {"tls", &kTls},
                               {"headers", &kHeaders},
                               {"debug", &kDebug},
                               {"http2", &kHttp2}});

const Schema kIgnore = structOf({{"mediatypes", &kStringList}, {"actions", &kStringList}});
const Schema kEndpoint = structOf({{"name", &kScalar},
                                   {"disabled", &kScalar},
                                   {"url", &kScalar},
                                   {"headers", &kHeaders},
                                   {"timeout", &kScalar},
                                   {"threshold", &kScalar},
                                   {"backoff", &kScalar},
                                   {"ignoredmediatypes", &kStringList},
                                   {"ignore", &kIgnore}});
const Schema kEndpoints{.shape = Shape::kList, .element = &kEndpoint};
const Schema kEvents = structOf({{"includereferences", &kScalar}});
const Schema kNotifications =
    structOf({{"events", &kEvents, Support::kUsed, "EVENTCONFIG"}, {"endpoints", &kEndpoints}});

const Schema kCatalog = structOf({{"maxentries", &kScalar}});

// regfs's own keys: registry:2 ignores a section it does not know.
const Schema kIndexing = structOf({{"enabled", &kScalar}});
const Schema kRegfsGc = structOf({{"interval", &kScalar},
                                  {"deleteuntagged", &kScalar},
                                  {"grace", &kScalar},
                                  {"settle", &kScalar}});
const Schema kUi = structOf({{"enabled", &kScalar}, {"refresh", &kScalar}});
const Schema kRetentionPolicy = structOf({{"repositories", &kStringList},
                                          {"protecttags", &kStringList},
                                          {"keeplatest", &kScalar},
                                          {"keeptags", &kStringList},
                                          {"removeolderthan", &kScalar},
                                          {"untaggedolderthan", &kScalar},
                                          {"deletereferrers", &kScalar}});
const Schema kRetentionPolicies{.shape = Shape::kList, .element = &kRetentionPolicy};
const Schema kRetention = structOf({{"enabled", &kScalar},
                                    {"interval", &kScalar},
                                    {"dryrun", &kScalar},
                                    {"policies", &kRetentionPolicies}});
const Schema kImmutableRule = structOf({{"repositories", &kStringList}, {"tags", &kStringList}});
const Schema kImmutableRules{.shape = Shape::kList, .element = &kImmutableRule};
const Schema kProxy = structOf(
    {{"remoteurl", &kScalar}, {"username", &kScalar}, {"password", &kScalar}, {"ttl", &kScalar}});
const Schema kPrefixUpstream = structOf({{"prefix", &kScalar},
                                         {"remoteurl", &kScalar},
                                         {"username", &kScalar},
                                         {"password", &kScalar},
                                         {"ttl", &kScalar}});
const Schema kPrefixUpstreams{.shape = Shape::kList, .element = &kPrefixUpstream};
const Schema kRegfsProxy = structOf({{"upstreams", &kPrefixUpstreams}});
const Schema kRegfs = structOf({{"indexing", &kIndexing},
                                {"ui", &kUi},
                                {"gc", &kRegfsGc},
                                {"retention", &kRetention},
                                {"immutable", &kImmutableRules},
                                {"proxy", &kRegfsProxy}});

const Schema kStorageDriverHealth =
    structOf({{"enabled", &kScalar}, {"interval", &kScalar}, {"threshold", &kScalar}});
const Schema kFileHealth =
    structOf({{"file", &kScalar}, {"interval", &kScalar}, {"threshold", &kScalar}});
const Schema kHttpHealth = structOf({{"timeout", &kScalar},
                                     {"statuscode", &kScalar},
                                     {"interval", &kScalar},
                                     {"uri", &kScalar},
                                     {"headers", &kHeaders},
                                     {"threshold", &kScalar}});
const Schema kTcpHealth = structOf(
    {{"timeout", &kScalar}, {"interval", &kScalar}, {"addr", &kScalar}, {"threshold", &kScalar}});
const Schema kFileHealthList{.shape = Shape::kList, .element = &kFileHealth};
const Schema kHttpHealthList{.shape = Shape::kList, .element = &kHttpHealth};
const Schema kTcpHealthList{.shape = Shape::kList, .element = &kTcpHealth};
const Schema kHealth = structOf({{"storagedriver", &kStorageDriverHealth},
                                 {"file", &kFileHealthList, Support::kUsed, "FILECHECKERS"},
                                 {"http", &kHttpHealthList, Support::kUsed, "HTTPCHECKERS"},
                                 {"tcp", &kTcpHealthList, Support::kUsed, "TCPCHECKERS"}});

const Schema kRoot = structOf({{"version", &kScalar},
                               {"log", &kLog},
                               {"loglevel", &kScalar},
                               {"storage", &kStorage},
                               {"auth", &kAuth},
                               {"middleware", &kAny, Support::kIgnored},
                               {"reporting", &kAny, Support::kIgnored},
                               {"http", &kHttp},
                               {"notifications", &kNotifications},
                               {"redis", &kAny, Support::kIgnored},
                               {"health", &kHealth},
                               {"catalog", &kCatalog},
                               {"regfs", &kRegfs},
                               {"proxy", &kProxy},
                               {"compatibility", &kAny, Support::kIgnored},
                               {"validation", &kAny, Support::kIgnored},
                               {"policy", &kAny, Support::kIgnored}});

}  // namespace

const Schema& rootSchema() { return kRoot; }

const Schema& anySchema() { return kAny; }

const Field* findField(const Schema& schema, std::string_view key) {
  for (const Field& f : schema.fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

const Field* findEnvField(const Schema& schema, std::string_view part) {
  for (const Field& f : schema.fields) {
    if (upper(f.envName.empty() ? f.key : f.envName) == part) return &f;
  }
  return nullptr;
}

void normalizeProvider(YAML::Node parent, const std::string& key, const Schema& schema) {
  if (!schema.provider) return;
  YAML::Node slot = parent[key];
  if (!slot.IsScalar()) return;
  YAML::Node section(YAML::NodeType::Map);
  section[slot.Scalar()] = YAML::Node(YAML::NodeType::Map);
  parent[key] = section;
}

void normalizeProviders(YAML::Node root) {
  for (const Field& f : kRoot.fields) {
    if (hasKey(root, f.key)) normalizeProvider(root, f.key, *f.schema);
  }
}

namespace {

// A key `schema` does not list: unknown where the schema is closed, else checked against
// the schema of the map's free keys.
void checkUnlistedKey(Reader& reader, const Value& child, const Schema& schema) {
  if (schema.shape == Shape::kStruct || schema.closed) {
    const std::string& key = child.key.Scalar();
    std::string hint;
    if (lower(key) != key && findField(schema, lower(key))) {
      hint = " (keys are lower case: " + lower(key) + ")";
    }
    reader.warn(child.path + ": unknown key, ignored" + hint + reader.locateKey(child));
  } else if (schema.element) {
    checkKeys(reader, child, *schema.element);
  }
}

void checkListedKey(Reader& reader, const Value& child, const Field& f) {
  switch (f.support) {
    case Support::kUsed:
      checkKeys(reader, child, *f.schema);
      break;
    case Support::kIgnored:
      if (!child.absent()) {
        reader.warn(child.path + ": not supported by regfs, ignored" + reader.locateKey(child));
      }
      break;
    case Support::kNoted:
      reader.note(child.path + ": accepted and ignored" + reader.locateKey(child));
      break;
  }
}

}  // namespace

void checkKeys(Reader& reader, const Value& v, const Schema& schema) {
  if (schema.shape == Shape::kList) {
    if (!v.node.IsSequence() || !schema.element) return;
    for (size_t i = 0; i < v.node.size(); ++i) checkKeys(reader, itemOf(v, i), *schema.element);
    return;
  }
  if ((schema.shape != Shape::kStruct && schema.shape != Shape::kMap) || !v.node.IsMap()) return;
  for (const auto& kv : v.node) {
    if (!kv.first.IsScalar()) {
      reader.warn(v.path + ": ignoring a key that is not a string" +
                  reader.where(v.path, kv.first));
      continue;
    }
    Value child{kv.second, kv.first, keyPath(v.path, kv.first.Scalar())};
    const Field* f = findField(schema, kv.first.Scalar());
    if (f) {
      checkListedKey(reader, child, *f);
    } else {
      checkUnlistedKey(reader, child, schema);
    }
  }
}

}  // namespace regfs::config
