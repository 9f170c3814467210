#pragma once
// One remote registry the pull-through cache fetches from, and the choice of it by repository
// name. Every request to an upstream goes through Upstream::send: it authenticates (HTTP
// Basic, or the Bearer token flow of Docker Hub, GHCR and Quay, tokens kept per scope until
// they expire), verifies TLS against the system CAs or SSL_CERT_FILE/SSL_CERT_DIR, and keeps
// off an upstream that answered 429 until its Retry-After has passed.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/http/http_client.h"
#include "common/config/config.h"

namespace regfs::api::mirror {

using Clock = std::chrono::steady_clock;

// What an upstream answered; `status` 0 with `error` when it could not be reached.
using UpstreamReply = OutboundResult;

struct UpstreamRequest {
  std::string method = "GET";  // GET or HEAD
  std::string repository;      // the name on the upstream ("library/alpine")
  std::string path;            // after /v2/<repository>/: "manifests/latest", "blobs/sha256:…"
  HeaderMap headers;           // Accept, …
  // For a GET whose body is streamed (blobs): OutboundRequest::start and ::sink.
  std::function<void(int status, const HeaderMap& headers)> start;
  std::function<bool(std::string_view data)> sink;
  const std::atomic<bool>* cancel = nullptr;  // abandons the exchange when it turns true
};

// The first value of header `name` (lower case) of an upstream's answer.
std::optional<std::string> firstHeader(const HeaderMap& headers, const std::string& name);
// Its Content-Length, when it has a valid one.
std::optional<uint64_t> contentLength(const HeaderMap& headers);

// A Bearer token challenge: WWW-Authenticate: Bearer realm="…",service="…",scope="…".
struct BearerChallenge {
  std::string realm;
  std::string service;
  std::string scope;
};
// The Bearer challenge of a WWW-Authenticate value, if it is one (parameters in any order,
// quoted or not).
std::optional<BearerChallenge> parseBearerChallenge(std::string_view header);
// The pause a Retry-After value asks for: delta-seconds or an HTTP-date; nullopt when it is
// neither.
std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value,
                                                    std::chrono::system_clock::time_point now);

class Upstream {
 public:
  // `name` names it in logs and metrics.
  Upstream(std::string name, const ProxyConfig& config);
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }

  // Sends `request`, answering a token challenge once. Throws Error(kTooManyRequests)
  // without sending while the upstream's Retry-After lasts. Otherwise never throws for what
  // the upstream answered: the caller reads the status.
  UpstreamReply send(const UpstreamRequest& request);

  // Until when (steady clock) the upstream asked not to be sent requests; the past if never.
  Clock::time_point blockedUntil() const;
  // What is left of that pause, in whole seconds and at least one: a client's Retry-After.
  std::chrono::seconds pauseLeft() const;

 private:
  struct Token {
    std::string value;
    Clock::time_point expires;
  };
  UpstreamReply exchange(const UpstreamRequest& request, const std::string& authorization);
  // A token for the challenge, from the cache or the realm; empty when the realm refused.
  std::string tokenFor(const BearerChallenge& challenge, std::string& failure);
  void noteRateLimit(const UpstreamReply& reply);
  std::unique_ptr<HttpClient> takeClient();
  void giveBack(std::unique_ptr<HttpClient> client);

  const std::string name_;
  const std::string url_;
  const std::string basicAuth_;  // "user:password", empty without credentials
  const CaTrust trust_;

  mutable std::mutex mu_;
  std::map<std::string, Token> tokens_;                // by scope, under mu_
  std::map<std::string, BearerChallenge> challenges_;  // last challenge by repository, under mu_
  bool basicChallenged_ = false;                       // it asked for Basic, under mu_
  Clock::time_point blockedUntil_{};                   // under mu_
  std::vector<std::unique_ptr<HttpClient>> idle_;      // reusable connections, under mu_
};

// The upstreams by repository name: those of regfs.proxy.upstreams by name prefix, the
// longest prefix of whole name components first, asked for the name without the prefix;
// proxy.remoteurl for every name under no prefix, asked for the name as it is.
class Upstreams {
 public:
  Upstreams(const ProxyConfig& config, const std::vector<PrefixUpstream>& byPrefix = {});
  // The upstream that serves `repository`, the name it has there, and how long what it
  // fetched is kept (its ttl; zero: kept); a null upstream when none serves the name.
  struct Choice {
    Upstream* upstream = nullptr;
    std::string remoteName;
    std::chrono::nanoseconds ttl{0};
  };
  Choice forRepository(const std::string& repository) const;
  const std::vector<std::unique_ptr<Upstream>>& all() const { return upstreams_; }
  // The shortest ttl above zero of them all; zero when none expires anything.
  std::chrono::nanoseconds shortestTtl() const;

 private:
  struct Served {
    std::string prefix;  // "" for proxy.remoteurl
    Upstream* upstream;
    std::chrono::nanoseconds ttl;
  };
  std::vector<std::unique_ptr<Upstream>> upstreams_;
  std::vector<Served> served_;  // longest prefix first, proxy.remoteurl (if any) last
};

}  // namespace regfs::api::mirror
