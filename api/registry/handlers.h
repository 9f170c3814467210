#pragma once
// One handler per resource (base.cc, catalog.cc, tags.cc, blobs.cc, uploads.cc, manifests.cc,
// referrers.cc, files.cc, ui_*.cc,
// repository.cc), called by dispatch (api/registry/dispatch.h): validate the
// request, call the store, build the response. Failures are thrown as regfs::Error and mapped in
// api/registry/errors.cc.

#include "api/registry/registry.h"
#include "api/registry/router.h"

namespace regfs::api {

Response handleBase(Registry& registry, const Request& request);
Response handleCatalog(Registry& registry, const Request& request);
Response handleTags(Registry& registry, const Request& request, const Route& route);
Response handleReferrers(Registry& registry, const Request& request, const Route& route);
Response handleBlob(Registry& registry, const Request& request, const Route& route);
Dispatch handleManifest(Registry& registry, const Request& request, const Route& route);
Dispatch handleUploadStart(Registry& registry, const Request& request, const Route& route);
Dispatch handleUpload(Registry& registry, const Request& request, const Route& route);
Response handleFiles(Registry& registry, const Request& request, const Route& route);
// The web UI's views (ui_*.cc; docs/api.md "The web UI's endpoints").
Response handleUiCatalog(Registry& registry, const Request& request);
Response handleUiStorage(Registry& registry, const Request& request);
Response handleUiWhoami(Registry& registry, const Request& request);
Response handleUiTags(Registry& registry, const Request& request, const Route& route);
Response handleUiManifests(Registry& registry, const Request& request, const Route& route);
Response handleUiImage(Registry& registry, const Request& request, const Route& route);
// Whether the web UI offers deletes in `repo`: the registry deletes (storage.delete.enabled,
// not read-only) and the request's credentials grant delete there (a token's own scopes;
// every other kind of credentials may do everything).
bool uiMayDelete(const Registry& registry, const Request& request, const RepoName& repo);
// Refuses (Error(kDenied)) a DELETE a browser sends for a page of another origin: its Origin
// header names another host than the request's Host, or Sec-Fetch-Site says cross-site.
void refuseCrossOriginDelete(const Request& request);
Response handleRepository(Registry& registry, const Request& request, const Route& route);

// Shared by the handlers: the repository a route names (Error(kNameInvalid) if malformed).
Repository repositoryFor(Registry& registry, const Route& route);
// A digest from a URL or query (Error(kDigestInvalid) if malformed).
Digest digestParam(std::string_view text);
// The manifest the route's reference names: a digest as is, or what a tag points at
// (Error(kManifestUnknown) when it points nowhere, kNameUnknown without the repository).
Digest manifestDigestOf(const Repository& repo, const Route& route);
// A query parameter that is a count; nullopt when absent or empty, Error(kInvalidArgument)
// when it is not a non-negative integer.
std::optional<size_t> countParam(const Request& request, std::string_view key);
// "<url>?n=..&last=.." pagination: parses n (Error(kInvalidArgument) when not a number).
struct Page {
  std::optional<size_t> n;
  std::string last;
};
Page pageParams(const Request& request);
// A body of `size` bytes (a blob, a file inside an image: `what`) answered to the request's
// Range header: `file` narrowed to the range and `r` made a 206 with its Content-Range, or
// the answer to a range the body does not have (416 RANGE_INVALID, Content-Range bytes */size).
std::optional<Response> applyRange(const Request& request, uint64_t size, std::string_view what,
                                   Response& r, FileBody& file);

}  // namespace regfs::api
