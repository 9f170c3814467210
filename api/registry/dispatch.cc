#include "api/registry/dispatch.h"

#include "api/registry/errors.h"
#include "api/registry/handlers.h"
#include "api/registry/router.h"
#include "common/error.h"

namespace regfs::api {
namespace {

// Bodies of requests that do not expect one are read and dropped, up to this size.
constexpr size_t kMaxIgnoredBody = 64 * 1024;

Dispatch ignoreBody(Response r) {
  return Dispatch::stream(
      bufferBody(kMaxIgnoredBody, [r = std::move(r)](std::string) { return r; }));
}

Response methodNotAllowed(const Request& request, const char* allow) {
  Response r = errorResponse(ErrorKind::kUnsupported, "method " + request.method + " not allowed");
  r.set("Allow", allow);
  return r;
}

}  // namespace

Dispatch dispatch(Registry& registry, const Request& request) {
  auto route = parseRoute(request.path);
  if (!route) {
    return Dispatch::respond(
        errorResponse(ErrorKind::kNotFound, "no such route: " + request.path, 404));
  }
  const std::string& m = request.method;
  bool read = m == "GET" || m == "HEAD";
  if (m == "DELETE") refuseCrossOriginDelete(request);
  // A pull-through cache holds what its upstream has: pushes and deletes go there.
  if (registry.mirror() && !read) {
    return Dispatch::respond(
        errorResponse(ErrorKind::kUnsupported,
                      "this registry is a pull-through cache: " + m + " not allowed", 405));
  }
  auto simple = [&](auto&& fn) -> Dispatch {
    // Routes that take no body: answer once it (if any) is read.
    if (!request.hasBody()) return Dispatch::respond(fn());
    return ignoreBody(fn());
  };
  auto readOnly = [&](auto&& fn) -> Dispatch {
    if (!read) return Dispatch::respond(methodNotAllowed(request, "GET, HEAD"));
    return simple(fn);
  };
  switch (route->resource) {
    case Resource::kBase:
      return readOnly([&] { return handleBase(registry, request); });
    case Resource::kCatalog:
      return readOnly([&] { return handleCatalog(registry, request); });
    case Resource::kTags:
      return readOnly([&] { return handleTags(registry, request, *route); });
    case Resource::kReferrers:
      return readOnly([&] { return handleReferrers(registry, request, *route); });
    case Resource::kFiles:
      return readOnly([&] { return handleFiles(registry, request, *route); });
    case Resource::kUiCatalog:
      return readOnly([&] { return handleUiCatalog(registry, request); });
    case Resource::kUiStorage:
      return readOnly([&] { return handleUiStorage(registry, request); });
    case Resource::kUiWhoami:
      return readOnly([&] { return handleUiWhoami(registry, request); });
    case Resource::kUiTags:
      return readOnly([&] { return handleUiTags(registry, request, *route); });
    case Resource::kUiManifests:
      return readOnly([&] { return handleUiManifests(registry, request, *route); });
    case Resource::kUiImage:
      return readOnly([&] { return handleUiImage(registry, request, *route); });
    case Resource::kRepository:
      if (m != "DELETE") return Dispatch::respond(methodNotAllowed(request, "DELETE"));
      return simple([&] { return handleRepository(registry, request, *route); });
    case Resource::kBlob:
      if (!read && m != "DELETE")
        return Dispatch::respond(methodNotAllowed(request, "GET, HEAD, DELETE"));
      return simple([&] { return handleBlob(registry, request, *route); });
    case Resource::kManifest:
      if (!read && m != "PUT" && m != "DELETE") {
        return Dispatch::respond(methodNotAllowed(request, "GET, HEAD, PUT, DELETE"));
      }
      return handleManifest(registry, request, *route);
    case Resource::kUploadStart:
      if (m != "POST") return Dispatch::respond(methodNotAllowed(request, "POST"));
      return handleUploadStart(registry, request, *route);
    case Resource::kUpload:
      if (!read && m != "PATCH" && m != "PUT" && m != "DELETE") {
        return Dispatch::respond(methodNotAllowed(request, "GET, HEAD, PATCH, PUT, DELETE"));
      }
      return handleUpload(registry, request, *route);
  }
  return Dispatch::respond(errorResponse(ErrorKind::kNotFound, "no such route", 404));
}

}  // namespace regfs::api
