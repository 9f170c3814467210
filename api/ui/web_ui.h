#pragma once
// The web UI's files (api/ui/assets/, embedded in regfs-server at build time by embed.cmake),
// served on the API's listener outside /v2/: "/" is the page, "/ui/<file>" its scripts, styles
// and images. Each answer carries its Content-Type, a strong ETag (a 304 to a matching
// If-None-Match), "Cache-Control: no-cache" (the names carry no version, so the browser
// revalidates), gzip when the client accepts it (compressed once, at start), and headers that
// keep the page to its own code: a Content-Security-Policy without inline script, nosniff,
// same-origin referrers, no framing. The files hold no registry data and are served without
// credentials (so a login can start); the data comes from the JSON endpoints under /v2/, which
// need the API's auth.

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "api/http/http.h"
#include "api/http/response.h"

namespace regfs::api {

// One embedded file: its path under assets/ ("index.html", "views/catalog.js") and its bytes.
struct UiAsset {
  std::string_view path;
  std::string_view bytes;
};
// The files embedded at build time (the generated ui_assets.cc).
std::span<const UiAsset> embeddedUiAssets();

// The Content-Security-Policy of every UI answer.
inline constexpr std::string_view kUiContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

class WebUi {
 public:
  explicit WebUi(std::span<const UiAsset> assets = embeddedUiAssets());
  // The answer to a GET or HEAD of one of the UI's paths; nullopt for every other request
  // (it goes on to the API, which answers 404 where nothing is).
  std::optional<Response> answer(const Request& request) const;

 private:
  struct File {
    std::string contentType;
    std::string etag;  // quoted
    std::string_view bytes;
    std::string gzipped;  // empty when compressing does not make it smaller
  };
  std::map<std::string, File, std::less<>> files_;  // by URL path
};

// The URL path an asset is served at: "/" for index.html, "/ui/<path>" for the rest.
std::string uiUrlPath(std::string_view assetPath);
// The Content-Type for a file name's extension (application/octet-stream when unknown).
std::string uiContentType(std::string_view assetPath);
// Whether an Accept-Encoding header value accepts gzip (listed, or "*", without q=0).
bool acceptsGzip(std::string_view acceptEncoding);

}  // namespace regfs::api
