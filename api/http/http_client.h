#pragma once
// Outgoing HTTP(S) requests of the server itself (webhook deliveries, health.http checks),
// over libcurl. https:// certificates are verified, host name included, against the system
// CAs; as distribution (Go) does, SSL_CERT_FILE replaces the CA bundle and SSL_CERT_DIR the
// CA directories, which is how a private CA is trusted. Proxies come from the usual
// http_proxy/https_proxy/no_proxy variables, as in Go's default transport.

#include <atomic>
#include <chrono>
#include <string>

#include "common/config/config.h"
#include "common/curl.h"

namespace regfs::api {

struct OutboundRequest {
  std::string method = "POST";  // POST (with body) or HEAD
  std::string url;              // http:// or https://
  HeaderMap headers;            // name -> values, each sent as its own line
  std::string contentType;      // POST only
  std::string body;             // POST only
  std::chrono::nanoseconds timeout = std::chrono::seconds(1);  // the whole exchange
  bool followRedirects = false;
};

struct OutboundResult {
  int status = 0;     // the HTTP status, 0 when none was received
  std::string error;  // why no status was received ("" when one was)
};

// One connection cache, reused between requests (keep-alive). Not thread-safe: one per
// sender thread. HTTPS verifies servers against `trust` (the system's CAs when empty).
class HttpClient {
 public:
  explicit HttpClient(CaTrust trust = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request`; when `cancel` turns true the exchange is abandoned at once.
  OutboundResult send(const OutboundRequest& request, const std::atomic<bool>* cancel = nullptr);

 private:
  CaTrust trust_;
  CurlPtr curl_;
};

// True for an absolute http:// or https:// URL with a host.
bool isHttpUrl(const std::string& url);

}  // namespace regfs::api
