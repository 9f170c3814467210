// The configuration's public entry points: text or a file in, a Config out. Loading wires
// the parts of this folder together: the YAML tree (value.h), the REGISTRY_* overrides
// (overrides.h), the key check against the schema (schema.h), and one reader per section
// (sections.h).

#include "common/config/config.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "common/config/overrides.h"
#include "common/config/reader.h"
#include "common/config/schema.h"
#include "common/config/sections.h"
#include "common/error.h"
#include "common/unique_fd.h"

extern char** environ;

namespace regfs {
namespace {

using config::childOf;
using config::Reader;
using config::Value;

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

std::string readConfigFile(const std::filesystem::path& file) {
  auto cannotRead = [&](int err) {
    return Error(ErrorKind::kConfigInvalid,
                 file.string() + ": cannot read the configuration: " + std::strerror(err));
  };
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw cannotRead(errno);
  std::string text;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw cannotRead(errno);
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

YAML::Node loadYaml(const Reader& reader, std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where = reader.source().empty() ? "" : reader.source() + ": ";
    throw Error(ErrorKind::kConfigInvalid, where + "invalid YAML at line " +
                                               std::to_string(e.mark.line + 1) + ", column " +
                                               std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    reader.fail(Value{root, YAML::Node(), "(top level)"},
                "expected a mapping of sections, got " + config::describe(root));
  }
  return root;
}

// Distribution parses only version 0.1 and refuses a file without a version.
void checkVersion(const Reader& reader, const Value& root) {
  Value v = childOf(root, "version");
  if (v.absent()) {
    reader.fail(v, "missing; a distribution config.yml starts with \"version: 0.1\"");
  }
  if (!v.node.IsScalar() || v.node.Scalar() != "0.1") {
    reader.fail(v,
                "unsupported version " + config::describe(v.node) + " (regfs reads version 0.1)");
  }
}

Config readSections(Reader& reader, const Value& root) {
  Config c;
  config::readLog(reader, childOf(root, "log"), childOf(root, "loglevel"), c.log);
  config::readStorage(reader, childOf(root, "storage"), c.storage);
  config::readHttp(reader, childOf(root, "http"), c.http);
  config::readAuth(reader, childOf(root, "auth"), c.auth);
  config::readNotifications(reader, childOf(root, "notifications"), c.notifications);
  config::readHealth(reader, childOf(root, "health"), c.health);
  config::readCatalog(reader, childOf(root, "catalog"), c.catalogMaxEntries);
  config::readRegfs(reader, childOf(root, "regfs"), c.regfs);
  config::readProxy(reader, childOf(root, "proxy"), c.proxy);
  c.warnings = reader.takeWarnings();
  c.notes = reader.takeNotes();
  return c;
}

// The YAML tree, overrides applied to it, then read into a Config. `source` names the
// text in messages; empty for a string.
Config parseFrom(std::string source, std::string_view text, const Environment& env) {
  Reader reader(std::move(source));
  YAML::Node tree = loadYaml(reader, text);
  const Value root{tree, YAML::Node(), ""};
  checkVersion(reader, root);
  config::normalizeProviders(tree);
  config::applyOverrides(tree, env, reader);
  checkVersion(reader, root);
  config::checkKeys(reader, root, config::rootSchema());
  Config c = readSections(reader, root);
  CaTrust trust = caTrustFrom(env);
  c.storage.s3.trust = c.notifications.trust = c.health.trust = c.proxy.trust = trust;
  for (PrefixUpstream& up : c.regfs.proxyUpstreams) up.proxy.trust = trust;
  return c;
}

}  // namespace

Config parseConfig(std::string_view yaml, const Environment& env) {
  return parseFrom("", yaml, env);
}

Config loadConfig(const std::filesystem::path& file, const Environment& env) {
  if (file.empty()) return parseFrom(std::string(kDefaultConfigName), kDefaultConfig, env);
  std::string text = readConfigFile(file);
  return parseFrom(file.string(), text, env);
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

}  // namespace regfs
