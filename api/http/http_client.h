#pragma once
// Outgoing HTTP(S) requests of the server itself (webhook deliveries, health.http checks,
// the pull-through cache's upstream requests), over libcurl. https:// certificates are verified,
// host name included, against the system CAs; as distribution (Go) does, SSL_CERT_FILE replaces the
// CA bundle and SSL_CERT_DIR the CA directories, which is how a private CA is trusted. Proxies come
// from the usual http_proxy/https_proxy/no_proxy variables, as in Go's default transport.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/config/config.h"
#include "common/curl/curl.h"

namespace regfs::api {

struct OutboundRequest {
  std::string method = "POST";  // POST (with body), GET or HEAD
  std::string url;              // http:// or https://
  HeaderMap headers;            // name -> values, each sent as its own line
  std::string contentType;      // POST only
  std::string body;             // POST only
  std::chrono::nanoseconds timeout = std::chrono::seconds(1);  // the whole exchange; 0: none
  // An exchange that moves no byte for this long is abandoned (0: never); for long bodies,
  // which no whole-exchange timeout fits.
  std::chrono::seconds stallTimeout{0};
  bool followRedirects = false;  // credentials are sent to the first host only
  std::string basicAuth;         // "user:password" for HTTP Basic; empty: none
  // The final response's body of a 2xx answer, handed over as it arrives (return false to
  // abandon the exchange); `start` runs once before its first byte (and after the exchange
  // when the body is empty). Without a sink, or for other statuses, up to kMaxKeptBody bytes
  // of the body are kept in the result.
  std::function<void(int status, const HeaderMap& headers)> start;
  std::function<bool(std::string_view data)> sink;
  // How much libcurl receives in one read, and so hands `sink` at most at once; 0: its
  // default (16 KiB). Large bodies move with fewer system calls through a larger one.
  size_t receiveBuffer = 0;
};

struct OutboundResult {
  static constexpr size_t kMaxKeptBody = 4 << 20;  // the largest manifest regfs takes
  int status = 0;                                  // the HTTP status, 0 when none was received
  std::string error;                               // why no status was received ("" when one was)
  HeaderMap headers;       // the final response's headers, names lower-cased
  std::string body;        // see OutboundRequest::sink
  bool truncated = false;  // the body was longer than kMaxKeptBody
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
