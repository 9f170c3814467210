#include "api/registry/router.h"

#include <algorithm>
#include <vector>

#include "api/http/http.h"

namespace regfs::api {
namespace {

bool plainSegment(std::string_view p) { return !p.empty() && p != "." && p != ".."; }

// The repository name before the "_regfs" segment at `at`, or nullopt when a segment of
// it is empty, "." or "..".
std::optional<std::string> extensionName(const std::vector<std::string_view>& parts, size_t at) {
  std::string name;
  for (size_t i = 0; i < at; ++i) {
    if (!plainSegment(parts[i])) return std::nullopt;
    if (i) name += '/';
    name += parts[i];
  }
  return name;
}

// "<name>/_regfs/files/<reference>[/<path>]" or "<name>/_regfs/repository" split at '/', or
// nullopt when `parts` has no "_regfs" segment; a route that matches nothing when it has
// one in the wrong place.
std::optional<std::optional<Route>> extensionRouteOf(const std::vector<std::string_view>& parts) {
  auto marker = std::find(parts.begin(), parts.end(), "_regfs");
  if (marker == parts.end()) return std::nullopt;
  size_t at = static_cast<size_t>(marker - parts.begin());
  auto name = at == 0 ? std::nullopt : extensionName(parts, at);
  if (!name) return std::optional<Route>();
  if (at + 2 == parts.size() && parts[at + 1] == "repository")
    return std::optional<Route>(Route{Resource::kRepository, *name, {}, {}});
  if (at + 2 >= parts.size() || parts[at + 1] != "files" || !plainSegment(parts[at + 2]))
    return std::optional<Route>();
  Route route{Resource::kFiles, *name, std::string(parts[at + 2]), {}};
  std::vector<std::string_view> clean;
  for (size_t i = at + 3; i < parts.size(); ++i) {
    if (parts[i].empty() || parts[i] == ".") continue;
    if (parts[i] == "..") {
      if (!clean.empty()) clean.pop_back();
      continue;
    }
    clean.push_back(parts[i]);
  }
  for (std::string_view p : clean) {
    if (!route.path.empty()) route.path += '/';
    route.path += p;
  }
  return std::optional<Route>(std::move(route));
}

}  // namespace

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
  if (auto extension = extensionRouteOf(parts)) return *extension;
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

std::string filesPath(std::string_view name, std::string_view reference, std::string_view path) {
  return "/v2/" + std::string(name) + "/_regfs/files/" + std::string(reference) + "/" +
         std::string(path);
}

}  // namespace regfs::api
