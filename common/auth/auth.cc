#include "common/auth/auth.h"

#include <cctype>

#include "common/auth/htpasswd.h"
#include "common/auth/token_auth.h"

namespace regfs {
namespace {

constexpr char kAuthenticationRequired[] = "authentication required";

AuthDecision allow(std::string user) {
  AuthDecision d;
  d.allowed = true;
  d.user = std::move(user);
  return d;
}

AuthDecision challenge(std::string wwwAuthenticate, std::string logDetail) {
  AuthDecision d;
  d.status = 401;
  d.kind = ErrorKind::kUnauthorized;
  d.wwwAuthenticate = std::move(wwwAuthenticate);
  d.message = kAuthenticationRequired;
  d.logDetail = std::move(logDetail);
  return d;
}

// The credentials after "<scheme> " if the header uses `scheme` (case-insensitive).
std::optional<std::string_view> credentialsOf(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return std::nullopt;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return std::nullopt;
  }
  std::string_view rest = header.substr(scheme.size() + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  return rest;
}

class NoAuthenticator : public Authenticator {
 public:
  AuthDecision authorize(const AuthRequest&) override { return allow(""); }
};

class HtpasswdAuthenticator : public Authenticator {
 public:
  HtpasswdAuthenticator(const HtpasswdAuthConfig& config, const AuthOptions& options)
      : challenge_("Basic realm=" + quoteHeaderValue(config.realm)),
        file_(config.path),
        throttle_(options.throttle, options.clock) {}

  AuthDecision authorize(const AuthRequest& request) override {
    if (request.authorization.empty()) return challenge(challenge_, "no credentials");
    std::optional<BasicCredentials> credentials = parseBasicAuthorization(request.authorization);
    if (!credentials) return challenge(challenge_, "no valid Basic credentials");
    if (int wait = throttle_.retryAfterSeconds(request.clientAddress); wait > 0) {
      AuthDecision d;
      d.status = 429;
      d.kind = ErrorKind::kTooManyRequests;
      d.retryAfterSeconds = wait;
      d.message = "too many failed logins; retry after " + std::to_string(wait) + " seconds";
      d.logDetail = "login throttled for " + request.clientAddress;
      return d;
    }
    if (!file_.verify(credentials->user, credentials->password)) {
      throttle_.recordFailure(request.clientAddress);
      return challenge(challenge_, "invalid credentials");
    }
    throttle_.recordSuccess(request.clientAddress);
    return allow(credentials->user);
  }

 private:
  std::string challenge_;
  HtpasswdFile file_;
  LoginThrottle throttle_;
};

class TokenAuthenticator : public Authenticator {
 public:
  explicit TokenAuthenticator(const TokenAuthConfig& config) : config_(config), verifier_(config) {}

  AuthDecision authorize(const AuthRequest& request) override {
    std::optional<std::string_view> token = credentialsOf(request.authorization, "bearer");
    if (!token) return challenge(bearer(request, BearerError::kNone), "no bearer token");
    TokenClaims claims;
    try {
      claims = verifier_.verify(*token);
    } catch (const Error& e) {
      return challenge(bearer(request, BearerError::kInvalidToken), e.what());
    }
    for (const Access& access : request.access) {
      if (!claims.allows(access)) {
        return challenge(
            bearer(request, BearerError::kInsufficientScope),
            "token does not grant " + access.type + ":" + access.name + ":" + access.action);
      }
    }
    AuthDecision d = allow(claims.subject);
    d.token = std::make_shared<const TokenClaims>(std::move(claims));
    return d;
  }

 private:
  std::string bearer(const AuthRequest& request, BearerError error) const {
    std::string realm = config_.realm;
    if (config_.autoRedirect) {
      // distribution's autoredirect: the realm is this host's /auth/token.
      std::string scheme = request.forwardedProto.empty() ? "https" : request.forwardedProto;
      realm = scheme + "://" + request.host + "/auth/token";
    }
    return bearerChallenge(realm, config_.service, request.access, error);
  }

  TokenAuthConfig config_;
  TokenVerifier verifier_;
};

class SillyAuthenticator : public Authenticator {
 public:
  explicit SillyAuthenticator(const SillyAuthConfig& config) : config_(config) {}

  AuthDecision authorize(const AuthRequest& request) override {
    if (request.authorization.empty()) {
      return challenge(
          bearerChallenge(config_.realm, config_.service, request.access, BearerError::kNone),
          "no Authorization header");
    }
    return allow("silly");
  }

 private:
  SillyAuthConfig config_;
};

}  // namespace

std::unique_ptr<Authenticator> makeAuthenticator(const AuthConfig& config,
                                                 const AuthOptions& options) {
  switch (config.kind) {
    case AuthKind::kNone:
      return std::make_unique<NoAuthenticator>();
    case AuthKind::kHtpasswd:
      return std::make_unique<HtpasswdAuthenticator>(config.htpasswd, options);
    case AuthKind::kToken:
      return std::make_unique<TokenAuthenticator>(config.token);
    case AuthKind::kSilly:
      return std::make_unique<SillyAuthenticator>(config.silly);
  }
  throw Error(ErrorKind::kConfigInvalid, "unknown auth provider");
}

}  // namespace regfs
