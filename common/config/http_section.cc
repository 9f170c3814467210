// The http section: the listener, response headers, debug (prometheus), tls and http2.

#include <string>
#include <vector>

#include "common/config/sections.h"

namespace regfs::config {
namespace {

using std::chrono::nanoseconds;

void readDebug(Reader& reader, const Value& debug, HttpConfig& http) {
  reader.requireMap(debug);
  http.debugAddr = reader.text(childOf(debug, "addr")).value_or("");
  Value prometheus = childOf(debug, "prometheus");
  reader.requireMap(prometheus);
  http.prometheusEnabled = reader.boolean(childOf(prometheus, "enabled")).value_or(false);
  std::string metricsPath = reader.text(childOf(prometheus, "path")).value_or("");
  if (!metricsPath.empty()) http.prometheusPath = metricsPath;
}

void readTls(Reader& reader, const Value& tls, TlsConfig& out) {
  reader.requireMap(tls);
  out.certificate = reader.text(childOf(tls, "certificate")).value_or("");
  out.key = reader.text(childOf(tls, "key")).value_or("");
  out.clientCas = reader.stringList(childOf(tls, "clientcas")).value_or(std::vector<std::string>{});
  Value minimum = childOf(tls, "minimumtls");
  if (auto m = reader.text(minimum); m && !m->empty()) {
    out.minimumTls = reader.oneOf(minimum, *m, {"tls1.0", "tls1.1", "tls1.2", "tls1.3"});
  }
  out.cipherSuites =
      reader.stringList(childOf(tls, "ciphersuites")).value_or(std::vector<std::string>{});
  if (!out.certificate.empty() && out.key.empty()) {
    reader.failMissing(tls, "key", "must be set together with http.tls.certificate");
  }
  if (out.certificate.empty() && !out.key.empty()) {
    reader.warn("http.tls.key: set without http.tls.certificate, so TLS stays off" +
                reader.locate(childOf(tls, "key")));
  }
}

}  // namespace

void readHttp(Reader& reader, const Value& v, HttpConfig& http) {
  reader.requireMap(v);
  http.addr = reader.text(childOf(v, "addr")).value_or(http.addr);
  Value net = childOf(v, "net");
  if (auto n = reader.text(net); n && !n->empty())
    http.net = reader.oneOf(net, *n, {"tcp", "unix"});
  http.host = reader.text(childOf(v, "host")).value_or("");
  http.prefix = reader.text(childOf(v, "prefix")).value_or("");
  http.secret = reader.text(childOf(v, "secret")).value_or("");
  http.relativeUrls = reader.boolean(childOf(v, "relativeurls")).value_or(false);
  http.drainTimeout = reader.duration(childOf(v, "draintimeout"), true).value_or(nanoseconds(0));
  http.headers = reader.headers(childOf(v, "headers"));
  readDebug(reader, childOf(v, "debug"), http);
  readTls(reader, childOf(v, "tls"), http.tls);
  Value http2 = childOf(v, "http2");
  reader.requireMap(http2);
  http.http2Disabled = reader.boolean(childOf(http2, "disabled")).value_or(false);
}

}  // namespace regfs::config
