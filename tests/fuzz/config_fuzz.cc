// Fuzz target: the configuration loader (parseConfig with REGISTRY_* overrides, parseDuration).
// Input: a config.yml document; after a line "#env" (a YAML comment), one NAME=VALUE environment
// entry per line. Checks that
//   - only Error(kConfigInvalid) escapes, whatever the YAML or the environment holds;
//   - the result does not depend on the order of the environment, and names without the
//     upper-case "REGISTRY_" prefix change nothing;
//   - a variable naming a key sets it, over whatever the file or less specific variables said;
//   - a loaded configuration keeps the documented limits (maxthreads >= 25, positive catalog
//     size and endpoint timeouts, log level and formatter from their lists, upstream prefixes
//     that are distinct repository names, each with a remoteurl);
//   - parseDuration agrees with its own sign rules.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/config.h"
#include "common/names.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

// Everything a Config holds, as text, so two results can be compared.
std::string describe(const Config& c) {
  std::ostringstream o;
  auto list = [&](const std::vector<std::string>& v) {
    for (const auto& s : v) o << show(s) << ',';
    o << ';';
  };
  auto headers = [&](const HeaderMap& h) {
    for (const auto& [k, v] : h) {
      o << show(k) << '=';
      list(v);
    }
    o << ';';
  };
  o << c.version << '|' << c.log.level << c.log.formatter << c.log.accessLogDisabled
    << c.log.reportCaller;
  for (const auto& [k, v] : c.log.fields) o << show(k) << '=' << show(v) << ',';
  const StorageConfig& s = c.storage;
  o << '|' << static_cast<int>(s.driver) << show(s.filesystem.rootDirectory.string())
    << s.filesystem.maxThreads << show(s.s3.region) << show(s.s3.regionEndpoint)
    << show(s.s3.bucket) << show(s.s3.accessKey) << show(s.s3.secretKey) << s.s3.secure
    << s.s3.v4Auth << show(s.s3.rootDirectory) << s.s3.chunkSize << s.s3.forcePathStyle
    << s.deleteEnabled << s.redirectDisabled << s.uploadPurging.enabled
    << s.uploadPurging.age.count() << ',' << s.uploadPurging.interval.count()
    << s.uploadPurging.dryRun << s.readOnly;
  const HttpConfig& h = c.http;
  o << '|' << show(h.addr) << show(h.net) << show(h.host) << show(h.prefix) << show(h.secret)
    << h.relativeUrls << h.drainTimeout.count() << show(h.debugAddr) << h.prometheusEnabled
    << show(h.prometheusPath) << show(h.tls.certificate) << show(h.tls.key)
    << show(h.tls.minimumTls) << h.http2Disabled;
  headers(h.headers);
  list(h.tls.clientCas);
  list(h.tls.cipherSuites);
  const AuthConfig& a = c.auth;
  o << '|' << static_cast<int>(a.kind) << show(a.htpasswd.realm) << show(a.htpasswd.path)
    << show(a.token.realm) << show(a.token.service) << show(a.token.issuer)
    << show(a.token.rootCertBundle) << show(a.token.jwks) << a.token.autoRedirect
    << show(a.silly.realm) << show(a.silly.service);
  o << '|' << c.notifications.includeReferences;
  for (const auto& e : c.notifications.endpoints) {
    o << show(e.name) << show(e.url) << e.disabled << e.timeout.count() << ',' << e.threshold << ','
      << e.backoff.count();
    headers(e.headers);
    list(e.ignoredMediaTypes);
    list(e.ignoreMediaTypes);
    list(e.ignoreActions);
  }
  o << '|' << c.catalogMaxEntries << '|' << show(c.proxy.remoteUrl) << show(c.proxy.username)
    << show(c.proxy.password) << c.proxy.ttl.count();
  for (const auto& u : c.regfs.proxyUpstreams) {
    o << ',' << show(u.prefix) << show(u.proxy.remoteUrl) << show(u.proxy.username)
      << show(u.proxy.password) << u.proxy.ttl.count();
  }
  o << '|';
  list(c.warnings);
  list(c.notes);
  return o.str();
}

// The outcome of parseConfig: the described result, or "error: <message>".
struct Outcome {
  std::optional<Config> config;
  std::string text;
};

Outcome load(std::string_view yaml, const Environment& env) {
  Outcome out;
  std::string message;
  bool ok = throwsOnly("parseConfig", {ErrorKind::kConfigInvalid}, false, [&] {
    try {
      out.config = parseConfig(yaml, env);
    } catch (const Error& e) {
      message = e.what();
      throw;
    }
  });
  out.text = ok ? describe(*out.config) : "error: " + message;
  return out;
}

void checkLimits(const Config& c) {
  FUZZ_CHECK(c.version == "0.1", "version is not 0.1");
  FUZZ_CHECK(c.storage.filesystem.maxThreads >= 25, "maxthreads under 25");
  FUZZ_CHECK(c.catalogMaxEntries > 0, "catalog maxentries not positive");
  static const std::set<std::string> kLevels = {"error", "warn", "info", "debug"};
  static const std::set<std::string> kFormatters = {"text", "json", "logstash"};
  FUZZ_CHECK(kLevels.count(c.log.level) == 1, "log level " + show(c.log.level));
  FUZZ_CHECK(kFormatters.count(c.log.formatter) == 1, "log formatter " + show(c.log.formatter));
  for (const auto& e : c.notifications.endpoints) {
    FUZZ_CHECK(e.timeout.count() > 0 && e.threshold > 0 && e.backoff.count() > 0,
               "a notification endpoint with a non-positive timeout, threshold or backoff");
  }
  std::set<std::string> prefixes;
  for (const auto& u : c.regfs.proxyUpstreams) {
    FUZZ_CHECK(RepoName::tryParse(u.prefix).has_value(), "upstream prefix " + show(u.prefix));
    FUZZ_CHECK(prefixes.insert(u.prefix).second, "upstream prefix given twice " + show(u.prefix));
    FUZZ_CHECK(!u.proxy.remoteUrl.empty() && u.proxy.ttl.count() >= 0,
               "an upstream without remoteurl, or with a negative ttl");
  }
}

// `env` without entries named `name`, plus NAME=value.
Environment withVariable(const Environment& env, const std::string& name,
                         const std::string& value) {
  Environment out;
  for (const auto& e : env) {
    if (e.first != name) out.push_back(e);
  }
  out.emplace_back(name, value);
  return out;
}

void checkDuration(std::string_view text) {
  std::optional<std::chrono::nanoseconds> d;
  if (!throwsOnly("parseDuration", {ErrorKind::kConfigInvalid}, false,
                  [&] { d = parseDuration(text); })) {
    return;
  }
  if (text.starts_with('-') || text.starts_with('+')) return;
  std::optional<std::chrono::nanoseconds> plus, minus;
  bool plusOk = throwsOnly("parseDuration", {ErrorKind::kConfigInvalid}, false,
                           [&] { plus = parseDuration("+" + std::string(text)); });
  bool minusOk = throwsOnly("parseDuration", {ErrorKind::kConfigInvalid}, false,
                            [&] { minus = parseDuration("-" + std::string(text)); });
  FUZZ_CHECK(plusOk && *plus == *d, "a leading '+' changes " + show(text));
  FUZZ_CHECK(minusOk && *minus == -*d, "a leading '-' does not negate " + show(text));
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs;
  using namespace regfs::fuzz;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view yaml = input;
  Environment env;
  size_t marker = input.starts_with("#env\n") ? 0 : input.find("\n#env\n");
  if (marker != std::string_view::npos) {
    yaml = input.substr(0, marker);
    std::string_view rest = input.substr(input.find("#env\n", marker) + 5);
    std::set<std::string> names;
    while (!rest.empty() && env.size() < 16) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      size_t eq = line.find('=');
      std::string name(line.substr(0, eq));
      // One value per name, as in a real environment.
      if (!names.insert(name).second) continue;
      env.emplace_back(name, eq == std::string_view::npos ? "" : std::string(line.substr(eq + 1)));
    }
  }

  Outcome first = load(yaml, env);
  FUZZ_CHECK(load(yaml, env).text == first.text, "parseConfig is not deterministic");
  Environment reversed(env.rbegin(), env.rend());
  FUZZ_CHECK(load(yaml, reversed).text == first.text,
             "the order of environment entries matters:\n" + first.text);

  Environment noise = env;
  for (const auto& [name, value] : env) {
    std::string lower = name;
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (!lower.starts_with("REGISTRY_")) noise.emplace_back(lower, value);
    noise.emplace_back("X" + name, value);
  }
  FUZZ_CHECK(load(yaml, noise).text == first.text,
             "a variable without the REGISTRY_ prefix changed the result");

  checkDuration(yaml.substr(0, yaml.find('\n')));

  if (!first.config) return 0;
  checkLimits(*first.config);

  // The most specific variable wins over the file and over less specific variables, among
  // upper-case names: a part with lower-case letters matches no key, so inside a map it recreates
  // the entry lower-cased and, sorting after its upper-case twin, wipes what that set (as in
  // distribution; ConfigEnv.PrefixMustBeUpperCaseAndPartsMatchUpperCasedKeys pins it).
  std::erase_if(env, [](const auto& e) {
    return std::any_of(e.first.begin(), e.first.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  });
  first = load(yaml, env);
  if (!first.config) return 0;
  Outcome addr = load(yaml, withVariable(env, "REGISTRY_HTTP_ADDR", "127.0.0.1:5999"));
  FUZZ_CHECK(addr.config && addr.config->http.addr == "127.0.0.1:5999",
             "REGISTRY_HTTP_ADDR did not set http.addr: " + addr.text);
  Outcome del = load(yaml, withVariable(env, "REGISTRY_STORAGE_DELETE_ENABLED", "true"));
  FUZZ_CHECK(del.config && del.config->storage.deleteEnabled,
             "REGISTRY_STORAGE_DELETE_ENABLED did not enable delete: " + del.text);
  if (first.config->storage.driver == StorageDriverKind::kFilesystem) {
    Outcome root = load(yaml, withVariable(env, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
                                           "/var/lib/registry-fuzz"));
    FUZZ_CHECK(
        root.config && root.config->storage.filesystem.rootDirectory == "/var/lib/registry-fuzz",
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY did not set the root: " + root.text);
  }
  return 0;
}
