#pragma once
// Authentication of requests, as the server wires it (common/auth/auth.h does the checking):
// the access each route needs, a refusal as the spec's error response, the authenticator
// set up at start, and the request target as the access log may show it.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/http.h"
#include "api/http/response.h"
#include "common/auth/auth.h"

namespace regfs::api {

// What `request` needs permission for (common/auth/access.h's table): nothing for /v2/ and for
// paths that name no repository (valid credentials suffice), registry:catalog:* for the
// catalog, the method's actions on the repository otherwise, and pull on `from` for a
// cross-repository mount.
std::vector<Access> requiredAccess(const Request& request);

// nullopt if `request`, from `clientAddress`, may proceed (its `user` then set to who
// authenticated); otherwise the refusal: 401
// UNAUTHORIZED, 403 DENIED or 429 TOOMANYREQUESTS with WWW-Authenticate and Retry-After
// as the authenticator decided. Refusals are logged without credentials.
std::optional<Response> checkAccess(Authenticator& authenticator, Request& request,
                                    const std::string& clientAddress);

// The authenticator for `config`, or nullptr when auth is off. For auth.htpasswd a missing
// file is created first, as distribution 3 does, with the user "docker" and a random
// password; that password is written once to stderr (never to the log) on the start that
// created the file. Throws Error(kConfigInvalid) when the configured auth cannot be used.
std::shared_ptr<Authenticator> setUpAuthenticator(const AuthConfig& config);

// `target` with the values of query parameters that may carry secrets (tokens, passwords,
// signatures) replaced by "REDACTED", for the access log.
std::string loggableTarget(std::string_view target);

}  // namespace regfs::api
