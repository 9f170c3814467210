#include "common/config/config.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>

#include "common/error.h"

extern char** environ;

namespace regfs {
namespace {

using std::chrono::nanoseconds;

// What the registry:2 image ships as /etc/docker/registry/config.yml.
constexpr std::string_view kDefaultConfig = R"(version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
)";
constexpr std::string_view kDefaultConfigName = "the built-in default configuration";
constexpr std::string_view kEnvPrefix = "REGISTRY_";

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// ---- The schema: which keys exist, and how an environment override walks into them. ----
//
// Shapes mirror distribution's Go types, because they decide what an override does: a
// struct knows its fields (an unknown part is an unrecognized variable), a map takes any
// key (an unknown part creates it), a list is indexed by number.

enum class Shape { kScalar, kList, kStruct, kMap, kAny };

enum class Support {
  kUsed,     // regfs reads it
  kIgnored,  // distribution knows it, regfs does not act on it: a warning
  kNoted,    // accepted and harmlessly ignored: a debug note
};

struct Schema;

struct Field {
  std::string key;
  const Schema* schema;
  Support support = Support::kUsed;
  std::string envName = {};  // distribution's Go field name, when it is not the key
};

struct Schema {
  Shape shape = Shape::kAny;
  std::vector<Field> fields;        // kStruct: every key; kMap: keys regfs knows
  const Schema* element = nullptr;  // kList: each item; kMap: keys not in `fields`
  bool closed = false;              // kMap: keys outside `fields` are unknown
  bool provider = false;            // a scalar names one provider: "s3" -> {s3: {}}
};

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
                               {"proxy", &kAny, Support::kIgnored},
                               {"compatibility", &kAny, Support::kIgnored},
                               {"validation", &kAny, Support::kIgnored},
                               {"policy", &kAny, Support::kIgnored}});

const Field* findField(const Schema& schema, std::string_view key) {
  for (const Field& f : schema.fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

// Distribution compares an upper-case name part with the upper-cased Go field name.
const Field* findEnvField(const Schema& schema, std::string_view part) {
  for (const Field& f : schema.fields) {
    if (upper(f.envName.empty() ? f.key : f.envName) == part) return &f;
  }
  return nullptr;
}

// ---- A value in the tree, with the key path that names it in messages. ----

struct Value {
  YAML::Node node;  // a Null node when absent
  YAML::Node key;   // the key in the parent mapping, for locating null values
  std::string path;

  bool absent() const { return !node.IsDefined() || node.IsNull(); }
};

Value childOf(const Value& parent, const std::string& key) {
  std::string path = join(parent.path, key);
  if (parent.node.IsDefined() && parent.node.IsMap()) {
    for (const auto& kv : parent.node) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return Value{kv.second, kv.first, path};
    }
  }
  return Value{YAML::Node(), YAML::Node(), path};
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return quote(node.Scalar());
  if (node.IsMap()) return "a mapping";
  return "a list";
}

std::optional<bool> yamlBool(const std::string& s) {
  // YAML 1.1 spellings, as distribution's YAML library resolves them.
  static const char* const kTrue[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                      "True", "TRUE", "on",  "On",  "ON"};
  static const char* const kFalse[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                       "False", "FALSE", "off", "Off", "OFF"};
  for (const char* t : kTrue) {
    if (s == t) return true;
  }
  for (const char* f : kFalse) {
    if (s == f) return false;
  }
  return std::nullopt;
}

// Decimal, or 0x / 0o / 0b prefixed, with an optional sign.
std::optional<int64_t> parseInteger(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' || s[1] == 'b')) {
    base = s[1] == 'o' ? 8 : s[1] == 'b' ? 2 : 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (isDigit(c)) {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (v > (limit - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (!negative) return static_cast<int64_t>(v);
  return v == (uint64_t{1} << 63) ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
}

bool isPlainInteger(const YAML::Node& node) {
  if (node.Tag() != "?") return false;  // quoted
  std::string_view s = node.Scalar();
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), isDigit);
}

std::string flowText(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

bool hasKey(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return false;
  for (const auto& kv : map) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return true;
  }
  return false;
}

// ---- The parser: a YAML tree, overrides applied to it, then read into a Config. ----

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Config parse(std::string_view text, const Environment& env) {
    load(text);
    checkVersion();
    for (const Field& f : kRoot.fields) {
      if (hasKey(root_, f.key)) normalizeProvider(root_, f.key, *f.schema);
    }
    applyEnvironment(env);
    checkVersion();
    checkKeys(Value{root_, YAML::Node(), ""}, kRoot);
    Config config = build();
    CaTrust trust = caTrustFrom(env);
    config.storage.s3.trust = config.notifications.trust = config.health.trust = trust;
    return config;
  }

 private:
  struct Origin {
    std::string path;      // the key path the variable set
    std::string variable;  // REGISTRY_…
  };

  void load(std::string_view text) {
    try {
      root_ = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      std::string where = source_.empty() ? "" : source_ + ": ";
      throw Error(ErrorKind::kConfigInvalid, where + "invalid YAML at line " +
                                                 std::to_string(e.mark.line + 1) + ", column " +
                                                 std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    if (root_.IsNull()) root_ = YAML::Node(YAML::NodeType::Map);
    if (!root_.IsMap()) {
      fail(Value{root_, YAML::Node(), "(top level)"},
           "expected a mapping of sections, got " + describe(root_));
    }
  }

  // Distribution parses only version 0.1 and refuses a file without a version.
  void checkVersion() {
    Value v = childOf(Value{root_, YAML::Node(), ""}, "version");
    if (v.absent()) {
      fail(v, "missing; a distribution config.yml starts with \"version: 0.1\"");
    }
    if (!v.node.IsScalar() || v.node.Scalar() != "0.1") {
      fail(v, "unsupported version " + describe(v.node) + " (regfs reads version 0.1)");
    }
  }

  // ---- environment overrides ----

  void applyEnvironment(const Environment& env) {
    Environment vars;
    for (const auto& entry : env) {
      if (entry.first.starts_with(kEnvPrefix)) vars.push_back(entry);
    }
    // More general names sort first, so the more specific ones win.
    std::stable_sort(vars.begin(), vars.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [name, text] : vars) applyVariable(name, text);
  }

  void applyVariable(const std::string& name, const std::string& text) {
    std::vector<std::string> parts;
    std::string_view rest = std::string_view(name).substr(kEnvPrefix.size());
    for (;;) {
      size_t underscore = rest.find('_');
      parts.emplace_back(rest.substr(0, underscore));
      if (underscore == std::string_view::npos) break;
      rest.remove_prefix(underscore + 1);
    }
    YAML::Node value;
    try {
      value = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw Error(ErrorKind::kConfigInvalid, name + ": the value is not valid YAML: " + e.msg);
    }
    if (!overwrite(root_, kRoot, parts, 0, value, "", name)) {
      warnings_.push_back("Ignoring unrecognized environment variable " + name);
    }
  }

  // `node` is a mapping or a sequence of shape `schema`, and parts[i] names a child of it.
  // Sets the value at the end of the path; returns false if the path names no known key.
  bool overwrite(YAML::Node node, const Schema& schema, const std::vector<std::string>& parts,
                 size_t i, const YAML::Node& value, const std::string& path,
                 const std::string& variable) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();

    if (node.IsSequence()) {
      const Schema& element =
          schema.shape == Shape::kList && schema.element ? *schema.element : kAny;
      std::optional<int64_t> index;
      if (!part.empty() && std::all_of(part.begin(), part.end(), isDigit)) {
        index = parseInteger(part);
      }
      if (!index) {
        throw Error(ErrorKind::kConfigInvalid, path + ": expected a list index, got " +
                                                   quote(part) + " (from " + variable + ")");
      }
      const size_t size = node.size();
      if (static_cast<uint64_t>(*index) > size) {
        throw Error(ErrorKind::kConfigInvalid,
                    path + ": index " + part + " is past the end of the list, which has " +
                        std::to_string(size) + " entries (from " + variable + ")");
      }
      const size_t at = static_cast<size_t>(*index);
      if (at == size) node.push_back(YAML::Node());
      std::string childPath = path + "[" + std::to_string(at) + "]";
      if (last) {
        node[at] = value;
        origins_.push_back({childPath, variable});
        return true;
      }
      if (!prepare(node[at], element)) return false;
      return overwrite(node[at], element, parts, i + 1, value, childPath, variable);
    }

    std::string key;
    const Schema* child = &kAny;
    bool exists = false;
    if (schema.shape == Shape::kStruct) {
      const Field* f = findEnvField(schema, part);
      if (!f) return false;
      key = f->key;
      child = f->schema;
      exists = true;  // a struct field is walked into, never recreated
    } else {
      if (!last) {
        for (const auto& kv : node) {
          if (kv.first.IsScalar() && upper(kv.first.Scalar()) == part && !kv.second.IsNull()) {
            key = kv.first.Scalar();
            exists = true;
            break;
          }
        }
      }
      if (!exists) key = lower(part);
      if (const Field* f = findField(schema, key)) {
        child = f->schema;
      } else if (schema.closed) {
        return false;
      } else if (schema.element) {
        child = schema.element;
      }
    }

    std::string childPath = join(path, key);
    if (last) {
      node[key] = value;
      normalizeProvider(node, key, *child);
      origins_.push_back({childPath, variable});
      return true;
    }
    if (child->shape == Shape::kScalar) return false;
    if (!exists) node[key] = YAML::Node();  // distribution recreates a map entry it walks into
    if (!prepare(node[key], *child)) return false;
    return overwrite(node[key], *child, parts, i + 1, value, childPath, variable);
  }

  // Makes `slot` able to hold children of shape `schema`, creating a map or list as
  // distribution does for nil ones. False if it holds a scalar that cannot.
  static bool prepare(YAML::Node slot, const Schema& schema) {
    switch (schema.shape) {
      case Shape::kScalar:
        return false;
      case Shape::kList:
        if (!slot.IsSequence()) slot = YAML::Node(YAML::NodeType::Sequence);
        return true;
      case Shape::kStruct:
      case Shape::kMap:
        if (!slot.IsMap()) slot = YAML::Node(YAML::NodeType::Map);
        return true;
      case Shape::kAny:
        if (slot.IsScalar()) return false;
        if (!slot.IsMap() && !slot.IsSequence()) slot = YAML::Node(YAML::NodeType::Map);
        return true;
    }
    return false;
  }

  // `storage: s3` means `storage: {s3: {}}`, likewise for auth.
  static void normalizeProvider(YAML::Node parent, const std::string& key, const Schema& schema) {
    if (!schema.provider) return;
    YAML::Node slot = parent[key];
    if (!slot.IsScalar()) return;
    YAML::Node section(YAML::NodeType::Map);
    section[slot.Scalar()] = YAML::Node(YAML::NodeType::Map);
    parent[key] = section;
  }

  // ---- unknown and unsupported keys ----

  void checkKeys(const Value& v, const Schema& schema) {
    if (schema.shape == Shape::kList) {
      if (!v.node.IsSequence() || !schema.element) return;
      for (size_t i = 0; i < v.node.size(); ++i) {
        checkKeys(Value{v.node[i], YAML::Node(), v.path + "[" + std::to_string(i) + "]"},
                  *schema.element);
      }
      return;
    }
    if ((schema.shape != Shape::kStruct && schema.shape != Shape::kMap) || !v.node.IsMap()) return;
    for (const auto& kv : v.node) {
      if (!kv.first.IsScalar()) {
        warnings_.push_back(v.path + ": ignoring a key that is not a string" +
                            where(v.path, kv.first));
        continue;
      }
      const std::string& key = kv.first.Scalar();
      Value child{kv.second, kv.first, join(v.path, key)};
      const Field* f = findField(schema, key);
      if (!f) {
        if (schema.shape == Shape::kStruct || schema.closed) {
          std::string hint;
          if (lower(key) != key && findField(schema, lower(key))) {
            hint = " (keys are lower case: " + lower(key) + ")";
          }
          warnings_.push_back(child.path + ": unknown key, ignored" + hint + locateKey(child));
        } else if (schema.element) {
          checkKeys(child, *schema.element);
        }
        continue;
      }
      switch (f->support) {
        case Support::kUsed:
          checkKeys(child, *f->schema);
          break;
        case Support::kIgnored:
          if (!child.absent()) {
            warnings_.push_back(child.path + ": not supported by regfs, ignored" +
                                locateKey(child));
          }
          break;
        case Support::kNoted:
          notes_.push_back(child.path + ": accepted and ignored" + locateKey(child));
          break;
      }
    }
  }

  // ---- messages ----

  // " (from REGISTRY_X)" or " (line N of FILE)": where the value at `path` came from.
  std::string where(const std::string& path, const YAML::Node& node,
                    const YAML::Node& key = YAML::Node()) const {
    for (auto it = origins_.rbegin(); it != origins_.rend(); ++it) {
      const std::string& set = it->path;
      if (path == set || (path.size() > set.size() && path.starts_with(set) &&
                          (path[set.size()] == '.' || path[set.size()] == '['))) {
        return " (from " + it->variable + ")";
      }
    }
    // A null value has no text of its own; its key says where it is.
    YAML::Mark mark = YAML::Mark::null_mark();
    if (node.IsDefined() && !node.IsNull()) mark = node.Mark();
    if (mark.is_null() && key.IsDefined()) mark = key.Mark();
    if (mark.is_null() || mark.line < 0) return source_.empty() ? "" : " (in " + source_ + ")";
    return " (line " + std::to_string(mark.line + 1) + (source_.empty() ? "" : " of " + source_) +
           ")";
  }

  std::string locate(const Value& v) const { return where(v.path, v.node, v.key); }
  // For messages about the key itself rather than its value.
  std::string locateKey(const Value& v) const { return where(v.path, YAML::Node(), v.key); }

  [[noreturn]] void fail(const Value& v, const std::string& problem) const {
    throw Error(ErrorKind::kConfigInvalid, v.path + ": " + problem + locate(v));
  }

  // `key` of `section` is required but missing or empty.
  [[noreturn]] void failMissing(const Value& section, const std::string& key,
                                const std::string& problem) const {
    Value v = childOf(section, key);
    if (v.absent()) v = Value{section.node, section.key, v.path};
    fail(v, problem);
  }

  // ---- typed reads: nullopt when absent, an error naming the key when malformed ----

  void requireMap(const Value& v) const {
    if (!v.absent() && !v.node.IsMap()) fail(v, "expected a mapping, got " + describe(v.node));
  }

  std::optional<std::string> text(const Value& v) const {
    if (v.absent()) return std::nullopt;
    if (!v.node.IsScalar()) fail(v, "expected a string, got " + describe(v.node));
    return v.node.Scalar();
  }

  std::optional<bool> boolean(const Value& v) const {
    if (v.absent()) return std::nullopt;
    std::optional<bool> b;
    if (v.node.IsScalar()) b = yamlBool(v.node.Scalar());
    if (!b) fail(v, "expected a boolean, got " + describe(v.node));
    return b;
  }

  std::optional<int64_t> integer(const Value& v) const {
    if (v.absent()) return std::nullopt;
    std::optional<int64_t> i;
    if (v.node.IsScalar()) i = parseInteger(v.node.Scalar());
    if (!i) fail(v, "expected an integer, got " + describe(v.node));
    return i;
  }

  // Go's time.Duration fields take a plain integer as nanoseconds; distribution's
  // parameter maps (upload purging) take only duration strings.
  std::optional<nanoseconds> duration(const Value& v, bool integerIsNanoseconds) {
    if (v.absent()) return std::nullopt;
    if (!v.node.IsScalar()) fail(v, "expected a duration such as \"10s\", got " + describe(v.node));
    if (integerIsNanoseconds && isPlainInteger(v.node)) {
      std::optional<int64_t> ns = parseInteger(v.node.Scalar());
      if (!ns) fail(v, "duration out of range: " + describe(v.node));
      if (*ns != 0) {
        warnings_.push_back(v.path + ": " + v.node.Scalar() +
                            " has no unit and means nanoseconds, as in distribution; write "
                            "e.g. \"10s\"" +
                            locate(v));
      }
      return nanoseconds(*ns);
    }
    try {
      return parseDuration(v.node.Scalar());
    } catch (const Error& e) {
      fail(v, e.what());
    }
  }

  std::optional<std::vector<std::string>> stringList(const Value& v) const {
    if (v.absent()) return std::nullopt;
    if (!v.node.IsSequence()) fail(v, "expected a list of strings, got " + describe(v.node));
    std::vector<std::string> out;
    for (size_t i = 0; i < v.node.size(); ++i) {
      Value item{v.node[i], YAML::Node(), v.path + "[" + std::to_string(i) + "]"};
      if (!item.node.IsScalar()) fail(item, "expected a string, got " + describe(item.node));
      out.push_back(item.node.Scalar());
    }
    return out;
  }

  HeaderMap headers(const Value& v) const {
    requireMap(v);
    HeaderMap out;
    if (v.absent()) return out;
    for (const auto& kv : v.node) {
      if (!kv.first.IsScalar()) continue;  // already warned about
      Value values{kv.second, kv.first, join(v.path, kv.first.Scalar())};
      out[kv.first.Scalar()] = stringList(values).value_or(std::vector<std::string>{});
    }
    return out;
  }

  std::string oneOf(const Value& v, std::string value,
                    std::initializer_list<std::string_view> allowed) const {
    for (std::string_view a : allowed) {
      if (value == a) return value;
    }
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    fail(v, "expected one of " + list + ", got " + quote(value));
  }

  // ---- sections ----

  Config build() {
    Config c;
    Value root{root_, YAML::Node(), ""};
    readLog(childOf(root, "log"), childOf(root, "loglevel"), c.log);
    readStorage(childOf(root, "storage"), c.storage);
    readHttp(childOf(root, "http"), c.http);
    readAuth(childOf(root, "auth"), c.auth);
    readNotifications(childOf(root, "notifications"), c.notifications);
    readHealth(childOf(root, "health"), c.health);

    Value catalog = childOf(root, "catalog");
    requireMap(catalog);
    Value maxEntries = childOf(catalog, "maxentries");
    if (auto n = integer(maxEntries)) {
      if (*n > std::numeric_limits<int>::max()) fail(maxEntries, "too large");
      c.catalogMaxEntries = *n <= 0 ? 1000 : static_cast<int>(*n);
    }

    c.warnings = std::move(warnings_);
    c.notes = std::move(notes_);
    return c;
  }

  void readHealth(const Value& v, HealthConfig& health) {
    requireMap(v);
    Value driver = childOf(v, "storagedriver");
    requireMap(driver);
    health.storageDriver.enabled = boolean(childOf(driver, "enabled")).value_or(false);
    readCheckTiming(driver, health.storageDriver.interval, health.storageDriver.threshold);
    forEachItem(childOf(v, "file"), "file checks", [&](const Value& item) {
      FileHealthConfig& c = health.files.emplace_back();
      c.file = text(childOf(item, "file")).value_or("");
      if (c.file.empty()) failMissing(item, "file", "must name the file to check");
      readCheckTiming(item, c.interval, c.threshold);
    });
    forEachItem(childOf(v, "http"), "HTTP checks", [&](const Value& item) {
      HttpHealthConfig& c = health.http.emplace_back();
      c.uri = text(childOf(item, "uri")).value_or("");
      if (c.uri.empty()) failMissing(item, "uri", "must name the URI to check");
      c.headers = headers(childOf(item, "headers"));
      Value status = childOf(item, "statuscode");
      if (auto n = integer(status); n && *n != 0) {
        if (*n < 100 || *n > 599)
          fail(status, "expected an HTTP status code, got " + describe(status.node));
        c.statusCode = static_cast<int>(*n);
      }
      c.timeout = duration(childOf(item, "timeout"), true).value_or(nanoseconds(0));
      readCheckTiming(item, c.interval, c.threshold);
    });
    forEachItem(childOf(v, "tcp"), "TCP checks", [&](const Value& item) {
      TcpHealthConfig& c = health.tcp.emplace_back();
      c.addr = text(childOf(item, "addr")).value_or("");
      if (c.addr.empty()) failMissing(item, "addr", "must name the host:port to check");
      c.timeout = duration(childOf(item, "timeout"), true).value_or(nanoseconds(0));
      readCheckTiming(item, c.interval, c.threshold);
    });
  }

  // `interval` and `threshold` of a health check; an interval of zero or less keeps the default.
  void readCheckTiming(const Value& check, nanoseconds& interval, int& threshold) {
    auto i = duration(childOf(check, "interval"), true).value_or(nanoseconds(0));
    if (i > nanoseconds(0)) interval = i;
    Value t = childOf(check, "threshold");
    if (auto n = integer(t)) {
      if (*n < 0 || *n > 1000000) fail(t, "out of range");
      threshold = static_cast<int>(*n);
    }
  }

  // Calls `read` with each item, a mapping, of the list at `v` (none when absent).
  template <typename Read>
  void forEachItem(const Value& v, const std::string& what, Read read) {
    if (v.absent()) return;
    if (!v.node.IsSequence()) fail(v, "expected a list of " + what + ", got " + describe(v.node));
    for (size_t i = 0; i < v.node.size(); ++i) {
      Value item{v.node[i], YAML::Node(), v.path + "[" + std::to_string(i) + "]"};
      requireMap(item);
      read(item);
    }
  }

  void readLog(const Value& v, const Value& deprecatedLevel, LogConfig& log) {
    requireMap(v);
    Value level = childOf(v, "level");
    std::string levelText = text(level).value_or("");
    if (levelText.empty()) {
      level = deprecatedLevel;
      levelText = text(level).value_or("");
    }
    if (!levelText.empty()) {
      log.level = oneOf(level, lower(levelText), {"error", "warn", "info", "debug"});
    }
    Value formatter = childOf(v, "formatter");
    std::string formatterText = text(formatter).value_or("");
    if (!formatterText.empty()) {
      log.formatter = oneOf(formatter, formatterText, {"text", "json", "logstash"});
    }
    Value fields = childOf(v, "fields");
    requireMap(fields);
    if (!fields.absent()) {
      for (const auto& kv : fields.node) {
        if (!kv.first.IsScalar()) continue;
        const YAML::Node& value = kv.second;
        log.fields[kv.first.Scalar()] = value.IsNull()     ? ""
                                        : value.IsScalar() ? value.Scalar()
                                                           : flowText(value);
      }
    }
    Value accessLog = childOf(v, "accesslog");
    requireMap(accessLog);
    log.accessLogDisabled = boolean(childOf(accessLog, "disabled")).value_or(false);
    log.reportCaller = boolean(childOf(v, "reportcaller")).value_or(false);
  }

  void readStorage(const Value& v, StorageConfig& storage) {
    requireMap(v);
    std::vector<std::string> drivers;
    if (!v.absent()) {
      for (const auto& kv : v.node) {
        if (!kv.first.IsScalar()) continue;
        const std::string& key = kv.first.Scalar();
        if (key != "maintenance" && key != "cache" && key != "delete" && key != "redirect") {
          drivers.push_back(key);
        }
      }
    }
    if (drivers.size() > 1) {
      std::string names;
      for (const auto& d : drivers) names += (names.empty() ? "" : ", ") + d;
      fail(v, "more than one storage driver configured (" + names + "); choose one");
    }
    if (drivers.size() == 1) {
      const std::string& name = drivers[0];
      Value driver = childOf(v, name);
      if (name == "filesystem") {
        storage.driver = StorageDriverKind::kFilesystem;
        readFilesystem(driver, storage.filesystem);
      } else if (name == "s3" || name == "s3aws") {
        storage.driver = StorageDriverKind::kS3;
        readS3(driver, storage.s3);
      } else if (name == "inmemory") {
        fail(driver,
             "the inmemory storage driver is not supported by regfs (it loses every image on "
             "restart); use filesystem");
      } else {
        fail(driver,
             "storage driver " + quote(name) + " is not supported by regfs (use filesystem or s3)");
      }
    }
    // No driver at all: filesystem with its defaults, as the registry:2 image configures.

    Value del = childOf(v, "delete");
    requireMap(del);
    storage.deleteEnabled = boolean(childOf(del, "enabled")).value_or(false);

    Value redirect = childOf(v, "redirect");
    requireMap(redirect);
    storage.redirectDisabled = boolean(childOf(redirect, "disable")).value_or(false);

    Value maintenance = childOf(v, "maintenance");
    requireMap(maintenance);
    Value purging = childOf(maintenance, "uploadpurging");
    requireMap(purging);
    UploadPurgingConfig& p = storage.uploadPurging;
    p.enabled = boolean(childOf(purging, "enabled")).value_or(p.enabled);
    p.age = duration(childOf(purging, "age"), false).value_or(p.age);
    p.interval = duration(childOf(purging, "interval"), false).value_or(p.interval);
    p.dryRun = boolean(childOf(purging, "dryrun")).value_or(p.dryRun);
    Value readOnly = childOf(maintenance, "readonly");
    requireMap(readOnly);
    storage.readOnly = boolean(childOf(readOnly, "enabled")).value_or(false);
  }

  void readFilesystem(const Value& v, FilesystemStorageConfig& fs) {
    requireMap(v);
    Value root = childOf(v, "rootdirectory");
    if (auto dir = text(root)) {
      if (dir->empty()) fail(root, "must not be empty");
      fs.rootDirectory = *dir;
    }
    Value threads = childOf(v, "maxthreads");
    if (auto n = integer(threads)) {
      constexpr int64_t kMinThreads = 25;  // distribution raises smaller limits to this
      if (*n < kMinThreads) {
        notes_.push_back(threads.path + ": " + std::to_string(*n) + " raised to the minimum, 25");
      }
      fs.maxThreads = static_cast<uint64_t>(std::max(*n, kMinThreads));
    }
  }

  void readS3(const Value& v, S3StorageConfig& s3) {
    requireMap(v);
    s3.region = text(childOf(v, "region")).value_or("");
    s3.regionEndpoint = text(childOf(v, "regionendpoint")).value_or("");
    s3.bucket = text(childOf(v, "bucket")).value_or("");
    s3.accessKey = text(childOf(v, "accesskey")).value_or("");
    s3.secretKey = text(childOf(v, "secretkey")).value_or("");
    s3.secure = boolean(childOf(v, "secure")).value_or(s3.secure);
    s3.skipVerify = boolean(childOf(v, "skipverify")).value_or(s3.skipVerify);
    s3.v4Auth = boolean(childOf(v, "v4auth")).value_or(s3.v4Auth);
    s3.rootDirectory = text(childOf(v, "rootdirectory")).value_or("");
    s3.forcePathStyle = boolean(childOf(v, "forcepathstyle")).value_or(s3.forcePathStyle);
    // An integer in [min, max], as distribution bounds it.
    auto bounded = [&](const char* key, int64_t min, int64_t max, uint64_t& out) {
      Value value = childOf(v, key);
      auto n = integer(value);
      if (!n) return;
      if (*n < min || *n > max) {
        fail(value, "expected a " + std::string(max == INT64_MAX ? "number" : "size") + " from " +
                        std::to_string(min) +
                        (max == INT64_MAX ? " up" : " to " + std::to_string(max) + " bytes") +
                        ", got " + std::to_string(*n));
      }
      out = static_cast<uint64_t>(*n);
    };
    constexpr int64_t kMinPart = int64_t{5} << 20, kMaxPart = int64_t{5} << 30;  // S3's part limits
    bounded("chunksize", kMinPart, kMaxPart, s3.chunkSize);
    bounded("multipartcopychunksize", kMinPart, kMaxPart, s3.multipartCopyChunkSize);
    bounded("multipartcopymaxconcurrency", 1, INT64_MAX, s3.multipartCopyMaxConcurrency);
    bounded("multipartcopythresholdsize", 0, kMaxPart, s3.multipartCopyThresholdSize);
    if (s3.bucket.empty()) failMissing(v, "bucket", "must be set for the s3 driver");
    if (s3.region.empty() && s3.regionEndpoint.empty()) {
      failMissing(v, "region", "must be set for the s3 driver unless regionendpoint is");
    }
  }

  void readHttp(const Value& v, HttpConfig& http) {
    requireMap(v);
    http.addr = text(childOf(v, "addr")).value_or(http.addr);
    Value net = childOf(v, "net");
    if (auto n = text(net); n && !n->empty()) http.net = oneOf(net, *n, {"tcp", "unix"});
    http.host = text(childOf(v, "host")).value_or("");
    http.prefix = text(childOf(v, "prefix")).value_or("");
    http.secret = text(childOf(v, "secret")).value_or("");
    http.relativeUrls = boolean(childOf(v, "relativeurls")).value_or(false);
    http.drainTimeout = duration(childOf(v, "draintimeout"), true).value_or(nanoseconds(0));
    http.headers = headers(childOf(v, "headers"));

    Value debug = childOf(v, "debug");
    requireMap(debug);
    http.debugAddr = text(childOf(debug, "addr")).value_or("");
    Value prometheus = childOf(debug, "prometheus");
    requireMap(prometheus);
    http.prometheusEnabled = boolean(childOf(prometheus, "enabled")).value_or(false);
    std::string metricsPath = text(childOf(prometheus, "path")).value_or("");
    if (!metricsPath.empty()) http.prometheusPath = metricsPath;

    Value tls = childOf(v, "tls");
    requireMap(tls);
    http.tls.certificate = text(childOf(tls, "certificate")).value_or("");
    http.tls.key = text(childOf(tls, "key")).value_or("");
    http.tls.clientCas = stringList(childOf(tls, "clientcas")).value_or(std::vector<std::string>{});
    Value minimum = childOf(tls, "minimumtls");
    if (auto m = text(minimum); m && !m->empty()) {
      http.tls.minimumTls = oneOf(minimum, *m, {"tls1.0", "tls1.1", "tls1.2", "tls1.3"});
    }
    http.tls.cipherSuites =
        stringList(childOf(tls, "ciphersuites")).value_or(std::vector<std::string>{});
    if (!http.tls.certificate.empty() && http.tls.key.empty()) {
      failMissing(tls, "key", "must be set together with http.tls.certificate");
    }
    if (http.tls.certificate.empty() && !http.tls.key.empty()) {
      warnings_.push_back("http.tls.key: set without http.tls.certificate, so TLS stays off" +
                          locate(childOf(tls, "key")));
    }

    Value http2 = childOf(v, "http2");
    requireMap(http2);
    http.http2Disabled = boolean(childOf(http2, "disabled")).value_or(false);
  }

  // A required parameter of an auth provider.
  std::string required(const Value& provider, const std::string& key, const std::string& kind) {
    std::string value = text(childOf(provider, key)).value_or("");
    if (value.empty()) failMissing(provider, key, "must be set for " + kind + " auth");
    return value;
  }

  void readAuth(const Value& v, AuthConfig& auth) {
    requireMap(v);
    if (v.absent() || v.node.size() == 0) return;
    std::vector<std::string> names;
    for (const auto& kv : v.node) {
      if (kv.first.IsScalar()) names.push_back(kv.first.Scalar());
    }
    if (names.size() > 1) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      fail(v, "more than one auth provider configured (" + list + "); choose one");
    }
    if (names.empty()) return;
    Value provider = childOf(v, names[0]);
    requireMap(provider);
    if (names[0] == "htpasswd") {
      auth.kind = AuthKind::kHtpasswd;
      auth.htpasswd.realm = required(provider, "realm", "htpasswd");
      auth.htpasswd.path = required(provider, "path", "htpasswd");
    } else if (names[0] == "token") {
      auth.kind = AuthKind::kToken;
      TokenAuthConfig& t = auth.token;
      t.realm = required(provider, "realm", "token");
      t.service = required(provider, "service", "token");
      t.issuer = required(provider, "issuer", "token");
      t.rootCertBundle = text(childOf(provider, "rootcertbundle")).value_or("");
      t.jwks = text(childOf(provider, "jwks")).value_or("");
      if (t.rootCertBundle.empty() && t.jwks.empty()) {
        failMissing(provider, "rootcertbundle", "must be set for token auth (or jwks)");
      }
      t.autoRedirect = boolean(childOf(provider, "autoredirect")).value_or(false);
    } else if (names[0] == "silly") {
      auth.kind = AuthKind::kSilly;
      auth.silly.realm = required(provider, "realm", "silly");
      auth.silly.service = required(provider, "service", "silly");
    } else {
      fail(provider, "auth provider " + quote(names[0]) +
                         " is not supported by regfs (use htpasswd, token or silly)");
    }
  }

  void readNotifications(const Value& v, NotificationsConfig& notifications) {
    requireMap(v);
    Value events = childOf(v, "events");
    requireMap(events);
    notifications.includeReferences = boolean(childOf(events, "includereferences")).value_or(false);
    forEachItem(childOf(v, "endpoints"), "endpoints", [&](const Value& e) {
      NotificationEndpoint out;
      out.name = text(childOf(e, "name")).value_or("");
      out.url = text(childOf(e, "url")).value_or("");
      out.disabled = boolean(childOf(e, "disabled")).value_or(false);
      out.headers = headers(childOf(e, "headers"));
      // Zero or negative means distribution's default.
      nanoseconds timeout = duration(childOf(e, "timeout"), true).value_or(nanoseconds(0));
      if (timeout > nanoseconds(0)) out.timeout = timeout;
      Value threshold = childOf(e, "threshold");
      if (auto n = integer(threshold); n && *n > 0) {
        if (*n > std::numeric_limits<int>::max()) fail(threshold, "too large");
        out.threshold = static_cast<int>(*n);
      }
      nanoseconds backoff = duration(childOf(e, "backoff"), true).value_or(nanoseconds(0));
      if (backoff > nanoseconds(0)) out.backoff = backoff;
      out.ignoredMediaTypes =
          stringList(childOf(e, "ignoredmediatypes")).value_or(std::vector<std::string>{});
      Value ignore = childOf(e, "ignore");
      requireMap(ignore);
      out.ignoreMediaTypes =
          stringList(childOf(ignore, "mediatypes")).value_or(std::vector<std::string>{});
      out.ignoreActions =
          stringList(childOf(ignore, "actions")).value_or(std::vector<std::string>{});
      notifications.endpoints.push_back(std::move(out));
    });
  }

  std::string source_;  // the file name in messages; empty for a string
  YAML::Node root_;
  std::vector<Origin> origins_;
  std::vector<std::string> warnings_;
  std::vector<std::string> notes_;
};

std::string readConfigFile(const std::filesystem::path& file) {
  auto cannotRead = [&](int err) {
    return Error(ErrorKind::kConfigInvalid,
                 file.string() + ": cannot read the configuration: " + std::strerror(err));
  };
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw cannotRead(errno);
  std::string text;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw cannotRead(err);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

[[noreturn]] void badDuration(std::string_view text, const std::string& why) {
  throw Error(ErrorKind::kConfigInvalid,
              "invalid duration " + quote(text) + (why.empty() ? "" : ": " + why));
}

// Nanoseconds in `unit`, or 0 for an unknown unit.
uint64_t unitNanoseconds(std::string_view unit) {
  constexpr uint64_t kMicro = 1000, kMilli = 1000 * kMicro, kSecond = 1000 * kMilli;
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return kMicro;  // µs, μs
  if (unit == "ms") return kMilli;
  if (unit == "s") return kSecond;
  if (unit == "m") return 60 * kSecond;
  if (unit == "h") return 3600 * kSecond;
  return 0;
}

}  // namespace

// Follows Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0".
nanoseconds parseDuration(std::string_view text) {
  constexpr uint64_t kLimit = uint64_t{1} << 63;
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return nanoseconds(0);
  if (s.empty()) badDuration(text, "");
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || isDigit(s[0]))) badDuration(text, "");
    uint64_t whole = 0;
    size_t i = 0;
    for (; i < s.size() && isDigit(s[i]); ++i) {
      if (whole > kLimit / 10) badDuration(text, "out of range");
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      if (whole > kLimit) badDuration(text, "out of range");
    }
    const bool digitsBefore = i > 0;
    s.remove_prefix(i);

    // The fraction keeps what precision fits and drops the rest, as Go does.
    uint64_t fraction = 0;
    double scale = 1;
    bool digitsAfter = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && isDigit(s[j]); ++j) {
        if (overflow) continue;
        if (fraction > (kLimit - 1) / 10) {
          overflow = true;
          continue;
        }
        fraction = fraction * 10 + static_cast<uint64_t>(s[j] - '0');
        scale *= 10;
      }
      digitsAfter = j > 0;
      s.remove_prefix(j);
    }
    if (!digitsBefore && !digitsAfter) badDuration(text, "");

    size_t k = 0;
    while (k < s.size() && s[k] != '.' && !isDigit(s[k])) ++k;
    if (k == 0) badDuration(text, "missing unit");
    std::string_view unitName = s.substr(0, k);
    s.remove_prefix(k);
    const uint64_t unit = unitNanoseconds(unitName);
    if (unit == 0) {
      badDuration(text, "unknown unit " + quote(unitName) + " (use ns, us, ms, s, m or h)");
    }
    if (whole > kLimit / unit) badDuration(text, "out of range");
    whole *= unit;
    if (fraction > 0) {
      whole += static_cast<uint64_t>(static_cast<double>(fraction) *
                                     (static_cast<double>(unit) / scale));
      if (whole > kLimit) badDuration(text, "out of range");
    }
    if (whole > kLimit - total) badDuration(text, "out of range");
    total += whole;
  }
  if (negative) {
    return nanoseconds(total == kLimit ? std::numeric_limits<int64_t>::min()
                                       : -static_cast<int64_t>(total));
  }
  if (total > kLimit - 1) badDuration(text, "out of range");
  return nanoseconds(static_cast<int64_t>(total));
}

Config parseConfig(std::string_view yaml, const Environment& env) {
  return Parser("").parse(yaml, env);
}

Config loadConfig(const std::filesystem::path& file, const Environment& env) {
  if (file.empty()) return Parser(std::string(kDefaultConfigName)).parse(kDefaultConfig, env);
  std::string text = readConfigFile(file);
  return Parser(file.string()).parse(text, env);
}

CaTrust caTrustFrom(const Environment& env) {
  CaTrust trust;
  for (const auto& [name, value] : env) {
    if (name == "SSL_CERT_FILE") trust.file = value;
    if (name == "SSL_CERT_DIR") trust.dir = value;
  }
  return trust;
}

Environment processEnvironment() {
  Environment env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    size_t equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace_back(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return env;
}

std::filesystem::path resolveStoreRoot(const std::string& rootOrConfig, const Environment& env) {
  std::filesystem::path path(rootOrConfig);
  std::error_code ec;
  std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    throw Error(ErrorKind::kNotFound, rootOrConfig + ": no such directory or config file");
  }
  if (std::filesystem::is_directory(status)) return path;
  std::string extension = path.extension().string();
  if (!std::filesystem::is_regular_file(status) || (extension != ".yml" && extension != ".yaml")) {
    throw Error(ErrorKind::kInvalidArgument,
                rootOrConfig + ": neither a directory nor a .yml/.yaml config file");
  }
  Config config = loadConfig(path, env);
  for (const std::string& warning : config.warnings) spdlog::warn("{}", warning);
  if (config.storage.driver != StorageDriverKind::kFilesystem) {
    throw Error(ErrorKind::kConfigInvalid,
                rootOrConfig +
                    ": the storage driver is not filesystem, so there is no local rootdirectory");
  }
  return config.storage.filesystem.rootDirectory;
}

std::filesystem::path resolveStoreRoot(const std::string& rootOrConfig) {
  return resolveStoreRoot(rootOrConfig, processEnvironment());
}

}  // namespace regfs
