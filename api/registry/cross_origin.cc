// The same-origin rule for deletes: a browser sends Origin (and Sec-Fetch-Site) with a DELETE,
// so a page of another site that makes a logged-in user's browser delete is refused here.
// Clients that send neither (docker, skopeo, curl) are not concerned.
#include <cctype>

#include "api/registry/handlers.h"
#include "common/error.h"

namespace regfs::api {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The host[:port] of an Origin ("https://registry.example:5000"), or "" when it is none
// ("null", another scheme, a path).
std::string originAuthority(std::string_view origin) {
  std::string o = lower(origin);
  for (std::string_view scheme : {"http://", "https://"}) {
    if (o.compare(0, scheme.size(), scheme) == 0) {
      std::string authority = o.substr(scheme.size());
      if (authority.empty() || authority.find('/') != std::string::npos) return {};
      return authority;
    }
  }
  return {};
}

}  // namespace

void refuseCrossOriginDelete(const Request& request) {
  if (auto site = request.headers.get("Sec-Fetch-Site"); site && lower(*site) == "cross-site")
    throw Error(ErrorKind::kDenied, "cross-site deletes are refused");
  auto origin = request.headers.get("Origin");
  if (!origin) return;
  std::string host = lower(request.headers.get("Host").value_or(""));
  std::string authority = originAuthority(*origin);
  if (authority.empty() || authority != host) {
    throw Error(ErrorKind::kDenied, "a delete from another origin (" + std::string(*origin) +
                                        ") is refused: deletes must come from this registry's "
                                        "own pages");
  }
}

}  // namespace regfs::api
