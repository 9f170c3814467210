#include "api/ui/web_ui.h"

#include <array>
#include <utility>

#include "api/ui/gzip.h"
#include "common/digest.h"

namespace regfs::api {
namespace {

// Clients take these from every UI answer, 304s included.
void setPageHeaders(Response& r, const std::string& etag) {
  r.set("ETag", etag);
  r.set("Cache-Control", "no-cache");
  r.set("Vary", "Accept-Encoding");
  r.set("Content-Security-Policy", std::string(kUiContentSecurityPolicy));
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "same-origin");
  r.set("X-Frame-Options", "DENY");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether an If-None-Match value lists `etag` (or is "*"); W/ prefixes compare weakly.
bool matchesEtag(std::string_view ifNoneMatch, std::string_view etag) {
  while (!ifNoneMatch.empty()) {
    size_t comma = ifNoneMatch.find(',');
    std::string_view item = trim(ifNoneMatch.substr(0, comma));
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    if (comma == std::string_view::npos) break;
    ifNoneMatch.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string uiUrlPath(std::string_view assetPath) {
  if (assetPath == "index.html") return "/";
  return "/ui/" + std::string(assetPath);
}

std::string uiContentType(std::string_view assetPath) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (assetPath.ends_with(extension)) return std::string(type);
  }
  return "application/octet-stream";
}

bool acceptsGzip(std::string_view acceptEncoding) {
  while (!acceptEncoding.empty()) {
    size_t comma = acceptEncoding.find(',');
    std::string_view item = trim(acceptEncoding.substr(0, comma));
    size_t semi = item.find(';');
    std::string_view coding = trim(item.substr(0, semi));
    if (equalsIgnoreCase(coding, "gzip") || coding == "*") {
      std::string_view params = semi == std::string_view::npos ? "" : item.substr(semi + 1);
      // "q=0", "q=0.0", "q=0.000": refused; any other weight accepts.
      params = trim(params);
      bool refused = params.starts_with("q=0") &&
                     params.substr(3).find_first_not_of(".0") == std::string_view::npos;
      return !refused;
    }
    if (comma == std::string_view::npos) break;
    acceptEncoding.remove_prefix(comma + 1);
  }
  return false;
}

WebUi::WebUi(std::span<const UiAsset> assets) {
  for (const UiAsset& asset : assets) {
    File file;
    file.contentType = uiContentType(asset.path);
    file.etag = "\"" + Digest::of(asset.bytes).hex().substr(0, 32) + "\"";
    file.bytes = asset.bytes;
    std::string gzipped = gzipCompress(asset.bytes);
    if (gzipped.size() < asset.bytes.size()) file.gzipped = std::move(gzipped);
    files_.emplace(uiUrlPath(asset.path), std::move(file));
  }
}

std::optional<Response> WebUi::answer(const Request& request) const {
  if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
  auto it = files_.find(request.path);
  if (it == files_.end()) return std::nullopt;
  const File& file = it->second;
  auto ifNoneMatch = request.headers.get("If-None-Match");
  if (ifNoneMatch && matchesEtag(*ifNoneMatch, file.etag)) {
    Response r(304);
    setPageHeaders(r, file.etag);
    return r;
  }
  Response r(200);
  setPageHeaders(r, file.etag);
  r.set("Content-Type", file.contentType);
  auto acceptEncoding = request.headers.get("Accept-Encoding");
  if (!file.gzipped.empty() && acceptEncoding && acceptsGzip(*acceptEncoding)) {
    r.set("Content-Encoding", "gzip");
    r.body = file.gzipped;
  } else {
    r.body = std::string(file.bytes);
  }
  return r;
}

}  // namespace regfs::api
