#include "api/mirror/upstream.h"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "common/config/defaults.h"
#include "common/error.h"
#include "common/percent.h"

namespace regfs::api::mirror {
namespace {

// A blob streams for as long as it takes; an upstream silent this long is taken for gone.
constexpr std::chrono::seconds kStallTimeout{60};
// Token realms and manifest requests answer at once or not at all.
constexpr std::chrono::seconds kRequestTimeout{60};
// A token is used until this long before it expires, so none expires on the way.
constexpr std::chrono::seconds kTokenMargin{5};
// The upstream asked for a pause (429) without saying how long.
constexpr std::chrono::seconds kDefaultRetryAfter{60};
// A blob's bytes are received this many at a time (libcurl's largest): a sixteenth of the
// system calls its default takes.
constexpr size_t kBlobReceiveBuffer = 512 << 10;
// Marks the attempt that sends the configured credentials as HTTP Basic.
constexpr std::string_view kBasic = "basic";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The token of a realm's JSON answer ("token", or OAuth2's "access_token") and how long it
// lasts ("expires_in", 60 s when absent as the Docker token spec says).
std::optional<std::pair<std::string, std::chrono::seconds>> parseTokenAnswer(
    const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  std::string token;
  for (const char* key : {"token", "access_token"}) {
    if (doc.HasMember(key) && doc[key].IsString() && doc[key].GetStringLength() > 0) {
      token.assign(doc[key].GetString(), doc[key].GetStringLength());
      break;
    }
  }
  if (token.empty()) return std::nullopt;
  std::chrono::seconds lasts{60};
  if (doc.HasMember("expires_in") && doc["expires_in"].IsInt64() &&
      doc["expires_in"].GetInt64() > 0) {
    lasts = std::chrono::seconds(doc["expires_in"].GetInt64());
  }
  return std::make_pair(std::move(token), lasts);
}

}  // namespace

std::optional<std::string> firstHeader(const HeaderMap& headers, const std::string& name) {
  auto it = headers.find(name);
  if (it == headers.end() || it->second.empty()) return std::nullopt;
  return it->second.front();
}

std::optional<uint64_t> contentLength(const HeaderMap& headers) {
  auto text = firstHeader(headers, "content-length");
  if (!text) return std::nullopt;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return n;
}

std::optional<BearerChallenge> parseBearerChallenge(std::string_view header) {
  size_t i = 0;
  while (i < header.size() && header[i] == ' ') ++i;
  if (lower(header.substr(i, 7)) != "bearer ") return std::nullopt;
  i += 7;
  BearerChallenge out;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    size_t eq = header.find('=', i);
    if (eq == header.npos) break;
    std::string key = lower(header.substr(i, eq - i));
    std::string value;
    i = eq + 1;
    if (i < header.size() && header[i] == '"') {
      size_t end = header.find('"', i + 1);
      if (end == header.npos) return std::nullopt;
      value = header.substr(i + 1, end - i - 1);
      i = end + 1;
    } else {
      size_t end = header.find(',', i);
      if (end == header.npos) end = header.size();
      value = header.substr(i, end - i);
      i = end;
    }
    if (key == "realm") out.realm = value;
    if (key == "service") out.service = value;
    if (key == "scope") out.scope = value;
  }
  if (!out.realm.starts_with("http://") && !out.realm.starts_with("https://")) return std::nullopt;
  return out;
}

std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value,
                                                    std::chrono::system_clock::time_point now) {
  if (value.empty()) return std::nullopt;
  if (value.size() <= 9 && std::all_of(value.begin(), value.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  tm when{};
  std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &when);
  if (!end || *end != '\0') return std::nullopt;
  auto at = std::chrono::system_clock::from_time_t(timegm(&when));
  if (at <= now) return std::chrono::seconds(0);
  return std::chrono::duration_cast<std::chrono::seconds>(at - now);
}

Upstream::Upstream(std::string name, const ProxyConfig& config)
    : name_(std::move(name)),
      url_(config.remoteUrl),
      basicAuth_(config.username.empty() && config.password.empty()
                     ? std::string()
                     : config.username + ":" + config.password),
      trust_(config.trust) {}

Clock::time_point Upstream::blockedUntil() const {
  std::lock_guard lock(mu_);
  return blockedUntil_;
}

std::chrono::seconds Upstream::pauseLeft() const {
  auto left = std::chrono::ceil<std::chrono::seconds>(blockedUntil() - Clock::now());
  return std::max(left, std::chrono::seconds(1));
}

std::unique_ptr<HttpClient> Upstream::takeClient() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto client = std::move(idle_.back());
      idle_.pop_back();
      return client;
    }
  }
  return std::make_unique<HttpClient>(trust_);
}

void Upstream::giveBack(std::unique_ptr<HttpClient> client) {
  // A few connections stay open for the next requests; the rest close.
  constexpr size_t kMaxIdle = 8;
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(client));
}

UpstreamReply Upstream::exchange(const UpstreamRequest& request, const std::string& authorization) {
  OutboundRequest out;
  out.method = request.method;
  out.url = url_ + "/v2/" + request.repository + "/" + request.path;
  out.headers = request.headers;
  // Blobs may redirect to a CDN or object storage; credentials stay with the upstream.
  out.followRedirects = true;
  out.timeout = request.sink ? std::chrono::seconds(0) : kRequestTimeout;
  out.stallTimeout = kStallTimeout;
  if (authorization == kBasic) {
    out.basicAuth = basicAuth_;
  } else if (!authorization.empty()) {
    out.headers["Authorization"] = {authorization};
  }
  out.start = request.start;
  out.sink = request.sink;
  if (request.sink) out.receiveBuffer = kBlobReceiveBuffer;
  auto client = takeClient();
  UpstreamReply reply = client->send(out, request.cancel);
  giveBack(std::move(client));
  return reply;
}

std::string Upstream::tokenFor(const BearerChallenge& challenge, std::string& failure) {
  std::string key = challenge.realm + " " + challenge.service + " " + challenge.scope;
  {
    std::lock_guard lock(mu_);
    auto it = tokens_.find(key);
    if (it != tokens_.end() && Clock::now() + kTokenMargin < it->second.expires) {
      return it->second.value;
    }
  }
  OutboundRequest get;
  get.method = "GET";
  get.url = challenge.realm + (challenge.realm.find('?') == std::string::npos ? "?" : "&") +
            "service=" + percentEncode(challenge.service);
  if (!challenge.scope.empty()) get.url += "&scope=" + percentEncode(challenge.scope);
  get.timeout = kRequestTimeout;
  get.basicAuth = basicAuth_;
  auto client = takeClient();
  OutboundResult r = client->send(get);
  giveBack(std::move(client));
  if (r.status != 200) {
    failure = r.status == 0
                  ? "token realm " + challenge.realm + ": " + r.error
                  : "token realm " + challenge.realm + " answered " + std::to_string(r.status);
    return {};
  }
  auto token = parseTokenAnswer(r.body);
  if (!token) {
    failure = "token realm " + challenge.realm + " answered no token";
    return {};
  }
  std::lock_guard lock(mu_);
  tokens_[key] = Token{token->first, Clock::now() + token->second};
  return token->first;
}

void Upstream::noteRateLimit(const UpstreamReply& reply) {
  if (reply.status != 429) return;
  std::chrono::seconds pause = kDefaultRetryAfter;
  if (auto after = firstHeader(reply.headers, "retry-after")) {
    if (auto parsed = parseRetryAfter(*after, std::chrono::system_clock::now())) pause = *parsed;
  }
  spdlog::warn("mirror: upstream {} answered 429, no requests to it for {}s", name_, pause.count());
  std::lock_guard lock(mu_);
  blockedUntil_ = std::max(blockedUntil_, Clock::now() + pause);
}

UpstreamReply Upstream::send(const UpstreamRequest& request) {
  std::optional<BearerChallenge> known;
  bool basic = false;
  {
    std::lock_guard lock(mu_);
    if (Clock::now() < blockedUntil_) {
      throw Error(ErrorKind::kTooManyRequests,
                  "upstream " + name_ + " asked for a pause (429 Retry-After)");
    }
    if (auto it = challenges_.find(request.repository); it != challenges_.end()) {
      known = it->second;
    }
    basic = basicChallenged_;
  }
  // Credentials go out the way the upstream last asked for them, sparing a 401 each time.
  std::string authorization;
  if (known) {
    std::string failure;
    std::string token = tokenFor(*known, failure);
    if (!token.empty()) authorization = "Bearer " + token;
  } else if (basic) {
    authorization = kBasic;
  }
  UpstreamReply reply = exchange(request, authorization);
  if (reply.status == 401) {
    auto challengeHeader = firstHeader(reply.headers, "www-authenticate").value_or("");
    if (auto challenge = parseBearerChallenge(challengeHeader)) {
      {
        std::lock_guard lock(mu_);
        challenges_[request.repository] = *challenge;
      }
      std::string failure;
      std::string token = tokenFor(*challenge, failure);
      if (token.empty()) {
        spdlog::warn("mirror: upstream {}: {}", name_, failure);
        return reply;
      }
      reply = exchange(request, "Bearer " + token);
    } else if (lower(challengeHeader).starts_with("basic") && !basicAuth_.empty() &&
               authorization != kBasic) {
      {
        std::lock_guard lock(mu_);
        basicChallenged_ = true;
      }
      reply = exchange(request, std::string(kBasic));
    }
  }
  noteRateLimit(reply);
  return reply;
}

Upstreams::Upstreams(const ProxyConfig& config, const std::vector<PrefixUpstream>& byPrefix) {
  for (const PrefixUpstream& p : byPrefix) {
    upstreams_.push_back(std::make_unique<Upstream>(p.prefix, p.proxy));
    served_.push_back(Served{p.prefix, upstreams_.back().get(), p.proxy.ttl});
  }
  std::stable_sort(served_.begin(), served_.end(), [](const Served& a, const Served& b) {
    return a.prefix.size() > b.prefix.size();
  });
  if (config.enabled()) {
    upstreams_.push_back(std::make_unique<Upstream>("remote", config));
    served_.push_back(Served{"", upstreams_.back().get(), config.ttl});
  }
}

Upstreams::Choice Upstreams::forRepository(const std::string& repository) const {
  for (const Served& s : served_) {
    if (s.prefix.empty()) return Choice{s.upstream, repository, s.ttl};
    // "ghcr.io/org/app" is under "ghcr.io"; "ghcr.io" itself and "ghcr.iox/app" are not.
    if (repository.size() > s.prefix.size() + 1 && repository.starts_with(s.prefix) &&
        repository[s.prefix.size()] == '/') {
      return Choice{s.upstream, repository.substr(s.prefix.size() + 1), s.ttl};
    }
  }
  return {};
}

std::chrono::nanoseconds Upstreams::shortestTtl() const {
  std::chrono::nanoseconds shortest{0};
  for (const Served& s : served_) {
    if (s.ttl.count() > 0 && (shortest.count() == 0 || s.ttl < shortest)) shortest = s.ttl;
  }
  return shortest;
}

}  // namespace regfs::api::mirror
