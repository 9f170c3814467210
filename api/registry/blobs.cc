// GET/HEAD/DELETE /v2/<name>/blobs/<digest>: blobs the repository links, with Range.
// The body is a file range the connection layer sends from the file, or streams in one
// read when the storage has no local files (S3).
#include "api/registry/errors.h"
#include "api/registry/handlers.h"
#include "common/error.h"

namespace regfs::api {
namespace {

std::optional<BlobInfo> statRepoBlob(Repository& repo, Store& store, const Digest& digest) {
  if (auto info = repo.statLayer(digest)) return info;
  // Manifests are blobs too; a repository may read the ones it holds as revisions.
  if (repo.hasManifest(digest)) return store.statBlob(digest);
  return std::nullopt;
}

Response deleteBlob(Registry& registry, Repository& repo, const Digest& digest) {
  registry.requireDeleteEnabled();
  if (!repo.hasLayer(digest)) throw Error(ErrorKind::kBlobUnknown, "blob unknown: " + digest.str());
  repo.unlinkLayer(digest);
  Response r(202);
  r.set("Docker-Content-Digest", digest.str());
  r.event = RegistryEvent{
      "delete", RegistryEvent::Target::kBlob, repo.name().str(), digest.str(), "", "", 0, ""};
  return r;
}

// A GET that answers is a pull of the whole blob, whatever range it asked for, and also
// when it is redirected to the storage (storage.redirect), as distribution counts it.
RegistryEvent blobPulled(const Route& route, const Digest& digest, uint64_t size) {
  return RegistryEvent{"pull", RegistryEvent::Target::kBlob, route.name, digest.str(),
                       "",     "application/octet-stream",   size,       ""};
}

void setBlobHeaders(Response& r, const Digest& digest) {
  r.set("Content-Type", "application/octet-stream");
  r.set("Docker-Content-Digest", digest.str());
  r.set("ETag", "\"" + digest.str() + "\"");
  r.set("Cache-Control", "max-age=31536000");
  r.set("Accept-Ranges", "bytes");
}

// A pull-through cache's blob that is not in the repository yet: sent from the file its one
// upstream fetch lands in, as it grows (a HEAD asks the upstream for the size).
Response mirroredBlob(Registry& registry, const Request& request, const Route& route,
                      const Repository& repo, const Digest& digest) {
  auto fetched = registry.mirror()->blob(repo.name(), digest, request.method == "HEAD");
  Response r(200);
  setBlobHeaders(r, digest);
  // A HEAD has no file: no body is sent.
  FileBody file{std::move(fetched.open), {}, 0, fetched.size, {}, std::move(fetched.growing)};
  if (auto refused = applyRange(request, fetched.size, "blob", r, file)) return *refused;
  r.file = std::move(file);
  if (request.method == "GET") r.event = blobPulled(route, digest, fetched.size);
  return r;
}

}  // namespace

Response handleBlob(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  Digest digest = digestParam(route.reference);
  if (request.method == "DELETE") return deleteBlob(registry, repo, digest);

  auto info = statRepoBlob(repo, registry.store(), digest);
  if (!info && registry.mirror()) {
    // Held for another repository: the upstream only confirms this one has it.
    info = registry.store().statBlob(digest);
    if (!info) return mirroredBlob(registry, request, route, repo, digest);
    registry.mirror()->linkStoredBlob(repo.name(), digest, info->size);
  } else if (auto* mirror = registry.mirror()) {
    mirror->noteHit();
  }
  if (!info) throw Error(ErrorKind::kBlobUnknown, "blob unknown: " + digest.str());

  Response r(200);
  setBlobHeaders(r, digest);
  if (auto match = request.headers.get("If-None-Match");
      match && (*match == "\"" + digest.str() + "\"" || *match == digest.str())) {
    r.status = 304;
    return r;
  }
  // storage.redirect on S3: GETs go to a presigned URL of the object (HEADs are answered here).
  if (request.method == "GET") {
    if (auto url = registry.store().blobRedirectUrl(digest)) {
      Response redirect(307);
      redirect.set("Location", *url);
      redirect.set("Docker-Content-Digest", digest.str());
      redirect.event = blobPulled(route, digest, info->size);
      return redirect;
    }
  }
  FileBody file{{}, {}, 0, info->size, {}, {}};
  if (auto path = registry.store().localBlobPath(digest)) {
    file.open = [store = registry.store(), digest] { return store.openLocalBlob(digest); };
    file.path = *path;
  } else {
    // Remote storage: streamed from one read on another thread, which holds the store.
    file.stream = [store = registry.store(), digest](
                      uint64_t offset, uint64_t length,
                      const std::function<bool(std::string_view)>& sink) {
      store.streamBlob(digest, offset, length, sink);
    };
  }
  if (auto refused = applyRange(request, info->size, "blob", r, file)) return *refused;
  r.file = std::move(file);
  if (request.method == "GET") r.event = blobPulled(route, digest, info->size);
  return r;
}

}  // namespace regfs::api
