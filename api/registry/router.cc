#include "api/registry/router.h"

#include <algorithm>
#include <vector>

#include "api/http/http.h"

namespace regfs::api {
namespace {

bool plainSegment(std::string_view p) { return !p.empty() && p != "." && p != ".."; }

// The cleaned <path> of a file inside an image: empty and "." segments go, ".." takes the one
// before it away and stays at the image's root.
std::string cleanFilePath(const std::vector<std::string_view>& segments) {
  std::vector<std::string_view> clean;
  for (std::string_view p : segments) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (!clean.empty()) clean.pop_back();
      continue;
    }
    clean.push_back(p);
  }
  std::string path;
  for (std::string_view p : clean) {
    if (!path.empty()) path += '/';
    path += p;
  }
  return path;
}

// "<name>/_regfs/<view>[/<reference>[/<path>]]" (view: tags, manifests, image, files,
// repository) split at '/', or nullopt when `parts` has no
// "_regfs" segment; a route that matches nothing when it has one in the wrong place.
std::optional<std::optional<Route>> extensionRouteOf(const std::vector<std::string_view>& parts) {
  auto marker = std::find(parts.begin(), parts.end(), "_regfs");
  if (marker == parts.end()) return std::nullopt;
  size_t at = static_cast<size_t>(marker - parts.begin());
  if (at == 0 || at + 1 >= parts.size()) return std::optional<Route>();
  Route route;
  for (size_t i = 0; i < at; ++i) {
    if (!plainSegment(parts[i])) return std::optional<Route>();
    if (i) route.name += '/';
    route.name += parts[i];
  }
  std::string_view view = parts[at + 1];
  size_t rest = parts.size() - at - 2;  // segments after the view's name
  if (view == "repository" && rest == 0)
    route.resource = Resource::kRepository;
  else if (view == "tags" && rest == 0)
    route.resource = Resource::kUiTags;
  else if (view == "manifests" && rest == 0)
    route.resource = Resource::kUiManifests;
  else if (view == "image" && rest == 1 && plainSegment(parts[at + 2]))
    route.resource = Resource::kUiImage;
  else if (view == "files" && rest >= 1 && plainSegment(parts[at + 2]))
    route.resource = Resource::kFiles;
  else
    return std::optional<Route>();
  if (rest >= 1) route.reference = std::string(parts[at + 2]);
  if (route.resource == Resource::kFiles)
    route.path = cleanFilePath({parts.begin() + static_cast<std::ptrdiff_t>(at) + 3, parts.end()});
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
  if (path == "_regfs/catalog") return Route{Resource::kUiCatalog, {}, {}};
  if (path == "_regfs/storage") return Route{Resource::kUiStorage, {}, {}};
  if (path == "_regfs/whoami") return Route{Resource::kUiWhoami, {}, {}};

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
