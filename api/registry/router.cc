#include "api/registry/router.h"

#include <vector>

#include "api/http/http.h"

namespace regfs::api {

std::optional<Route> parseRoute(std::string_view rawPath) {
  auto decoded = percentDecode(rawPath);
  if (!decoded) return std::nullopt;
  std::string_view path = *decoded;
  if (path == "/v2" || path == "/v2/") return Route{Resource::kBase, {}, {}};
  if (path.substr(0, 4) != "/v2/") return std::nullopt;
  path.remove_prefix(4);
  if (path == "_catalog") return Route{Resource::kCatalog, {}, {}};

  std::vector<std::string_view> parts;
  while (true) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  // Only "/v2/<name>/blobs/uploads/" may end in an empty segment.
  bool trailingSlash = parts.size() > 1 && parts.back().empty();
  if (trailingSlash) parts.pop_back();
  for (std::string_view p : parts) {
    if (p.empty() || p == "." || p == "..") return std::nullopt;
  }
  size_t n = parts.size();
  auto nameOf = [&](size_t count) {
    std::string name;
    for (size_t i = 0; i < count; ++i) {
      if (i) name += '/';
      name += parts[i];
    }
    return name;
  };
  if (n >= 3 && parts[n - 2] == "blobs" && parts[n - 1] == "uploads") {
    return Route{Resource::kUploadStart, nameOf(n - 2), {}};
  }
  if (trailingSlash) return std::nullopt;
  if (n >= 4 && parts[n - 3] == "blobs" && parts[n - 2] == "uploads") {
    return Route{Resource::kUpload, nameOf(n - 3), std::string(parts[n - 1])};
  }
  if (n >= 3 && parts[n - 2] == "tags" && parts[n - 1] == "list") {
    return Route{Resource::kTags, nameOf(n - 2), {}};
  }
  if (n >= 3 && parts[n - 2] == "manifests") {
    return Route{Resource::kManifest, nameOf(n - 2), std::string(parts[n - 1])};
  }
  if (n >= 3 && parts[n - 2] == "blobs") {
    return Route{Resource::kBlob, nameOf(n - 2), std::string(parts[n - 1])};
  }
  if (n >= 3 && parts[n - 2] == "referrers") {
    return Route{Resource::kReferrers, nameOf(n - 2), std::string(parts[n - 1])};
  }
  return std::nullopt;
}

std::string blobPath(std::string_view name, std::string_view digest) {
  return "/v2/" + std::string(name) + "/blobs/" + std::string(digest);
}

std::string uploadPath(std::string_view name, std::string_view uuid) {
  return "/v2/" + std::string(name) + "/blobs/uploads/" + std::string(uuid);
}

std::string manifestPath(std::string_view name, std::string_view reference) {
  return "/v2/" + std::string(name) + "/manifests/" + std::string(reference);
}

}  // namespace regfs::api
