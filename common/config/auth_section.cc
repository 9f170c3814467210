// The auth section: one provider, htpasswd, token or silly, and its required parameters.

#include <string>
#include <vector>

#include "common/config/sections.h"

namespace regfs::config {
namespace {

// A required parameter of an auth provider.
std::string required(Reader& reader, const Value& provider, const std::string& key,
                     const std::string& kind) {
  std::string value = reader.text(childOf(provider, key)).value_or("");
  if (value.empty()) reader.failMissing(provider, key, "must be set for " + kind + " auth");
  return value;
}

void readToken(Reader& reader, const Value& provider, TokenAuthConfig& t) {
  t.realm = required(reader, provider, "realm", "token");
  t.service = required(reader, provider, "service", "token");
  t.issuer = required(reader, provider, "issuer", "token");
  t.rootCertBundle = reader.text(childOf(provider, "rootcertbundle")).value_or("");
  t.jwks = reader.text(childOf(provider, "jwks")).value_or("");
  if (t.rootCertBundle.empty() && t.jwks.empty()) {
    reader.failMissing(provider, "rootcertbundle", "must be set for token auth (or jwks)");
  }
  t.autoRedirect = reader.boolean(childOf(provider, "autoredirect")).value_or(false);
}

}  // namespace

void readAuth(Reader& reader, const Value& v, AuthConfig& auth) {
  reader.requireMap(v);
  if (v.absent() || v.node.size() == 0) return;
  std::vector<std::string> names = stringKeys(v.node);
  if (names.size() > 1) {
    reader.fail(v, "more than one auth provider configured (" + commaList(names) + "); choose one");
  }
  if (names.empty()) return;
  Value provider = childOf(v, names[0]);
  reader.requireMap(provider);
  if (names[0] == "htpasswd") {
    auth.kind = AuthKind::kHtpasswd;
    auth.htpasswd.realm = required(reader, provider, "realm", "htpasswd");
    auth.htpasswd.path = required(reader, provider, "path", "htpasswd");
  } else if (names[0] == "token") {
    auth.kind = AuthKind::kToken;
    readToken(reader, provider, auth.token);
  } else if (names[0] == "silly") {
    auth.kind = AuthKind::kSilly;
    auth.silly.realm = required(reader, provider, "realm", "silly");
    auth.silly.service = required(reader, provider, "service", "silly");
  } else {
    reader.fail(provider, "auth provider " + quote(names[0]) +
                              " is not supported by regfs (use htpasswd, token or silly)");
  }
}

}  // namespace regfs::config
