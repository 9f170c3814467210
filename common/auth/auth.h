#pragma once
// The one call the server makes per request to decide whether it may proceed, for every
// auth provider of distribution's config (auth.htpasswd, auth.token, auth.silly, none).
//
// Wiring, per request:
//   AuthRequest a{access, authorizationHeader, peerAddress, hostHeader, xForwardedProto};
//   AuthDecision d = authenticator->authorize(a);
//   if (!d.allowed) answer d.status with the OCI error errorCode(d.kind) and d.message,
//     plus "WWW-Authenticate: d.wwwAuthenticate" (when set) and "Retry-After:
//     d.retryAfterSeconds" (when > 0); distribution puts the access records in "detail".
// `access` comes from common/auth/access.h: repositoryAccess(method, repo) for /v2/<name>/...
// (plus repositoryAccess("GET", from) for a cross-repository mount), {catalogAccess()}
// for /v2/_catalog, and nothing for /v2/ itself, which needs only valid credentials.
//
// What each provider answers, as distribution does:
//  - none: everything allowed.
//  - htpasswd: Basic credentials checked against the file (common/auth/htpasswd.h). Missing or
//    wrong ones get 401 UNAUTHORIZED with `Basic realm="<realm>"`. Logins from an address
//    with too many recent failures get 429 TOOMANYREQUESTS with Retry-After, without a
//    password check (common/auth/login_throttle.h). Any valid user may do anything.
//  - token: a Bearer token (common/auth/token_auth.h) that must grant every access. Otherwise
//    401 UNAUTHORIZED with the Bearer challenge: no error without a token, "invalid_token"
//    for a bad one, "insufficient_scope" when access is missing (distribution answers 401,
//    not 403, there too: that is what makes Docker fetch a token with the wider scope).
//  - silly: any Authorization header is accepted; without one, the Bearer challenge.
// Messages and log details never contain credentials or tokens.
//
// Creating a missing htpasswd file is the caller's choice, before makeAuthenticator:
// distribution 3 does it with ensureHtpasswdFile() and logs the generated password once
// (the only secret that is ever meant to reach a log).

#include <memory>
#include <string>
#include <vector>

#include "common/auth/access.h"
#include "common/auth/login_throttle.h"
#include "common/auth/token_auth.h"
#include "common/config/config.h"
#include "common/error.h"

namespace regfs {

struct AuthRequest {
  std::vector<Access> access;  // what the route needs; empty for /v2/
  std::string authorization;   // the Authorization header value, "" if absent
  std::string clientAddress;   // the peer's IP address without the port, for throttling
  std::string host;            // the Host header; token auth with autoredirect only
  std::string forwardedProto;  // X-Forwarded-Proto; token auth with autoredirect only
};

struct AuthDecision {
  bool allowed = false;
  int status = 200;                           // 401 or 429 when not allowed
  ErrorKind kind = ErrorKind::kUnauthorized;  // kUnauthorized or kTooManyRequests
  std::string wwwAuthenticate;                // the challenge to send, when set
  int retryAfterSeconds = 0;                  // for Retry-After, when > 0
  std::string user;                           // who was authenticated, when allowed
  // What the credentials grant beyond this request (a page offering a delete asks): null when
  // whoever passed may do everything (no auth, htpasswd, silly), a token's claims otherwise.
  std::shared_ptr<const TokenClaims> token;
  std::string message;    // for the error body
  std::string logDetail;  // why it was refused, for the server log
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Thread-safe.
  virtual AuthDecision authorize(const AuthRequest& request) = 0;
};

struct AuthOptions {
  LoginThrottleOptions throttle;
  LoginThrottle::Clock clock = std::chrono::steady_clock::now;  // tests inject their own
};

// The authenticator for `config.kind`. Reads the htpasswd file or the token keys now;
// throws Error(kConfigInvalid) if they cannot be used.
std::unique_ptr<Authenticator> makeAuthenticator(const AuthConfig& config,
                                                 const AuthOptions& options = {});

}  // namespace regfs
