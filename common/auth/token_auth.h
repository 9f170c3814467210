#pragma once
// Bearer tokens as distribution's auth.token checks them (registry/auth/token): a JWT in
// JWS compact form, issued by a token server (docker_auth, Harbor, GitLab, ...) and
// verified with keys the registry trusts.
//
// Trusted keys come from auth.token.rootcertbundle (PEM certificates) and auth.token.jwks
// (a JWK set file). The signing key of a token is found, as distribution does, by:
//  - "x5c": a certificate chain (base64 DER, leaf first). It must verify up to a bundle
//    certificate at the current time; any bundle certificate is a trust anchor, as in Go.
//    The leaf's key signs the token.
//  - otherwise "kid", matched against every bundle certificate's key under three names:
//    its libtrust key id ("ABCD:EFGH:...", what docker_auth and Harbor write), its RFC 7638
//    JWK thumbprint, and the id distribution 3 computes for EC keys (a thumbprint of the
//    curve's generator, so the same for all keys of a curve: each is tried). JWK set keys
//    match their own "kid" and their thumbprint.
// Accepted algorithms: RS256/384/512, PS256/384/512 (RSA keys of at least 1024 bits) and
// ES256/384/512 (P-256/384/521 keys, signatures as raw r||s). "none", HMAC (which would
// let anyone holding the public key mint tokens) and anything else are refused.
//
// Claims: "iss" must equal auth.token.issuer; "aud" (a string or an array) must contain
// auth.token.service; "exp" is required and "nbf" optional, both with distribution's 60
// seconds of leeway; "access" lists [{type, name, actions}] and grants exactly those
// (action "*" grants every action on its resource).
//
// Errors are Error(kUnauthorized) whose message says what is wrong without quoting the
// token; it is safe to log.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/auth/access.h"
#include "common/config/config.h"

namespace regfs {

struct TokenClaims {
  std::string subject;  // "sub": the user the token server authenticated
  std::string issuer;
  std::vector<std::string> audience;
  int64_t expiresAt = 0;  // seconds since the epoch
  int64_t notBefore = 0;
  struct Grant {
    std::string type;
    std::string name;
    std::vector<std::string> actions;
  };
  std::vector<Grant> access;

  // True if some grant for the access's resource lists its action or "*".
  bool allows(const Access& access) const;
};

class TokenVerifier {
 public:
  static constexpr std::chrono::seconds kLeeway{60};

  // Loads the trusted keys; throws Error(kConfigInvalid) naming the file and the problem,
  // or when there is no key at all.
  explicit TokenVerifier(const TokenAuthConfig& config);
  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // The claims of a valid token; throws Error(kUnauthorized) otherwise. Thread-safe.
  TokenClaims verify(std::string_view token, std::chrono::system_clock::time_point now =
                                                 std::chrono::system_clock::now()) const;

  // Every key id a "kid" header may name, for a startup log line.
  std::vector<std::string> trustedKeyIds() const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string issuer_;
  std::string service_;
};

// Key ids of a public key, given as PEM (a certificate or a public key). Throw
// Error(kInvalidArgument) on anything else.
std::string libtrustKeyId(std::string_view pem);  // "ABCD:EFGH:..." (12 groups of 4)
std::string jwkThumbprint(std::string_view pem);  // RFC 7638, SHA-256, base64url

// The WWW-Authenticate value distribution sends with a 401 under token auth:
//   Bearer realm="<realm>",service="<service>",scope="<scopeParam>",error="<error>"
// scope is left out when `access` is empty; error is "invalid_token" when a token was
// presented but is not valid, "insufficient_scope" when it lacks an access, and left out
// when no token was presented.
enum class BearerError { kNone, kInvalidToken, kInsufficientScope };
std::string bearerChallenge(std::string_view realm, std::string_view service,
                            const std::vector<Access>& access, BearerError error);

// `text` in double quotes with '"' and '\' escaped, as Go's %q writes printable ASCII.
std::string quoteHeaderValue(std::string_view text);

}  // namespace regfs
