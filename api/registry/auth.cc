#include "api/registry/auth.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "api/registry/errors.h"
#include "api/registry/router.h"
#include "common/auth/htpasswd.h"

namespace regfs::api {

std::vector<Access> requiredAccess(const Request& request) {
  auto route = parseRoute(request.path);
  if (!route || route->resource == Resource::kBase) return {};
  if (route->resource == Resource::kCatalog || route->resource == Resource::kUiCatalog ||
      route->resource == Resource::kUiStorage)
    return {catalogAccess()};
  auto repo = RepoName::tryParse(route->name);
  if (!repo) return {};
  std::vector<Access> access = repositoryAccess(request.method, *repo);
  if (route->resource == Resource::kUploadStart && request.method == "POST") {
    auto from = queryValue(request.query, "from");
    auto fromRepo = from ? RepoName::tryParse(*from) : std::nullopt;
    if (fromRepo && queryValue(request.query, "mount")) {
      for (Access& a : repositoryAccess("GET", *fromRepo)) access.push_back(std::move(a));
    }
  }
  return access;
}

std::optional<Response> checkAccess(Authenticator& authenticator, Request& request,
                                    const std::string& clientAddress) {
  AuthRequest a;
  a.access = requiredAccess(request);
  a.authorization = std::string(request.headers.get("Authorization").value_or(""));
  a.clientAddress = clientAddress;
  a.host = std::string(request.headers.get("Host").value_or(""));
  a.forwardedProto = std::string(request.headers.get("X-Forwarded-Proto").value_or(""));
  AuthDecision d = authenticator.authorize(a);
  if (d.allowed) {
    request.user = d.user;
    request.token = std::move(d.token);
    return std::nullopt;
  }
  // A request without credentials is the usual first step of a client, not news.
  if (a.authorization.empty()) {
    spdlog::debug("{} \"{} {}\": {}", clientAddress, request.method, loggableTarget(request.target),
                  d.logDetail);
  } else {
    spdlog::warn("{} \"{} {}\": refused: {}", clientAddress, request.method,
                 loggableTarget(request.target), d.logDetail);
  }
  Response r = errorResponse(d.kind, d.message, d.status);
  if (!d.wwwAuthenticate.empty()) r.set("WWW-Authenticate", d.wwwAuthenticate);
  if (d.retryAfterSeconds > 0) r.set("Retry-After", std::to_string(d.retryAfterSeconds));
  return r;
}

std::shared_ptr<Authenticator> setUpAuthenticator(const AuthConfig& config) {
  if (config.kind == AuthKind::kNone) return nullptr;
  if (config.kind == AuthKind::kHtpasswd && !config.htpasswd.path.empty()) {
    if (auto password = ensureHtpasswdFile(config.htpasswd.path)) {
      // Shown once, to whoever started the server; the file keeps only its bcrypt hash.
      std::fprintf(stderr,
                   "regfs-server: created %s with the user \"docker\" and the password %s\n"
                   "regfs-server: this password is shown only now; change it with htpasswd -B\n",
                   config.htpasswd.path.c_str(), password->c_str());
      std::fflush(stderr);
      spdlog::warn("created {} with the user \"docker\" (its password went to stderr only)",
                   config.htpasswd.path);
    }
  }
  return makeAuthenticator(config);
}

std::string loggableTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  static constexpr std::string_view kSecret[] = {
      "token",     "access_token",    "refresh_token",    "password", "secret",
      "signature", "x-amz-signature", "x-amz-credential", "_state"};
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  bool first = true;
  while (true) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key;
    for (char c : pair.substr(0, eq))
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool secret = false;
    for (std::string_view s : kSecret) secret = secret || key == s;
    if (!first) out += '&';
    first = false;
    if (secret && eq != std::string_view::npos) {
      out.append(pair.substr(0, eq + 1));
      out += "REDACTED";
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace regfs::api
