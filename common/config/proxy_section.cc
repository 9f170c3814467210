// The proxy section: distribution's pull-through cache. regfs checks the upstream's URL
// when it reads the file, where distribution finds a bad one only at its first pull.
// regfs.proxy.upstreams[] takes the same keys per name prefix.

#include <set>
#include <string>
#include <vector>

#include "common/config/sections.h"
#include "common/names.h"

namespace regfs::config {
namespace {

// True for "http://host..." or "https://host...": a scheme regfs connects with and a host.
bool isUpstreamUrl(const std::string& url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme)) {
      std::string_view rest = std::string_view(url).substr(scheme.size());
      return !rest.empty() && rest.front() != '/' && rest.find_first_of(" \t\r\n") == rest.npos;
    }
  }
  return false;
}

// remoteurl, username, password and ttl of `v` (a map) into `proxy`.
void readUpstreamKeys(Reader& reader, const Value& v, ProxyConfig& proxy) {
  Value remote = childOf(v, "remoteurl");
  proxy.remoteUrl = reader.text(remote).value_or("");
  if (!proxy.remoteUrl.empty() && !isUpstreamUrl(proxy.remoteUrl)) {
    reader.fail(remote,
                "expected an http:// or https:// URL with a host, got \"" + proxy.remoteUrl + "\"");
  }
  // Trailing slashes would double in every upstream URL built from it.
  while (proxy.remoteUrl.ends_with('/')) proxy.remoteUrl.pop_back();
  proxy.username = reader.text(childOf(v, "username")).value_or("");
  proxy.password = reader.text(childOf(v, "password")).value_or("");
  Value ttl = childOf(v, "ttl");
  if (auto d = reader.duration(ttl, true)) {
    if (d->count() < 0) reader.fail(ttl, "must not be negative");
    proxy.ttl = *d;
  }
}

}  // namespace

void readProxy(Reader& reader, const Value& v, ProxyConfig& proxy) {
  reader.requireMap(v);
  readUpstreamKeys(reader, v, proxy);
  if (proxy.remoteUrl.empty() && (!proxy.username.empty() || !proxy.password.empty())) {
    reader.warn("proxy: username/password without remoteurl, ignored");
  }
}

void readPrefixUpstreams(Reader& reader, const Value& v, std::vector<PrefixUpstream>& upstreams) {
  reader.requireMap(v);
  std::set<std::string> prefixes;
  reader.forEachItem(childOf(v, "upstreams"), "upstreams", [&](const Value& item) {
    PrefixUpstream up;
    Value prefix = childOf(item, "prefix");
    up.prefix = reader.text(prefix).value_or("");
    if (up.prefix.empty()) {
      reader.failMissing(item, "prefix", "the repository names it serves (\"ghcr.io\")");
    }
    // Whole name components: what a repository name may start with.
    if (!RepoName::tryParse(up.prefix)) {
      reader.fail(prefix,
                  "expected repository name components (\"ghcr.io\", \"mirrors/quay\"), got \"" +
                      up.prefix + "\"");
    }
    if (!prefixes.insert(up.prefix).second)
      reader.fail(prefix, "\"" + up.prefix + "\" is given twice");
    readUpstreamKeys(reader, item, up.proxy);
    if (up.proxy.remoteUrl.empty()) {
      reader.failMissing(item, "remoteurl", "the upstream's http:// or https:// URL");
    }
    upstreams.push_back(std::move(up));
  });
}

}  // namespace regfs::config
