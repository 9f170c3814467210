// GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>, by tag or digest. Manifests are
// stored and served byte-exact with their own media type; a push is validated against the
// repository (every blob linked, every child manifest present) before anything is written,
// and confirmed against repository deletes after (common/store/repository_delete.h).
#include "api/registry/errors.h"
#include "api/registry/handlers.h"
#include "common/error.h"
#include "common/lifecycle/immutable.h"
#include "common/manifest.h"
#include "common/store/repository_delete.h"

namespace regfs::api {
namespace {

// The media type a stored manifest is served with; parses it unless it was seen before.
std::string storedMediaType(Registry& registry, const Digest& digest, std::string_view bytes) {
  if (auto known = registry.mediaTypes().find(digest)) return *known;
  std::string type = parseStoredManifest(bytes).mediaType;
  registry.mediaTypes().add(digest, type);
  return type;
}

// Neither set: a reference that is no valid tag, which names no manifest.
struct Reference {
  std::optional<Digest> digest;
  std::optional<Tag> tag;
};

// Only a PUT to an invalid tag is an invalid request (TAG_INVALID); GET, HEAD and DELETE
// of one find no manifest (MANIFEST_UNKNOWN), as distribution answers.
Reference parseReference(const std::string& text, bool put) {
  if (text.find(':') != std::string::npos) return Reference{Digest::parse(text), std::nullopt};
  return Reference{std::nullopt, put ? Tag::parse(text) : Tag::tryParse(text)};
}

Error manifestUnknown(const Route& route) {
  return Error(ErrorKind::kManifestUnknown,
               "manifest unknown: " + route.name + ":" + route.reference);
}

Response getManifest(Registry& registry, const Request& request, const Route& route,
                     Repository& repo, const Reference& ref) {
  if (!ref.digest && !ref.tag) throw manifestUnknown(route);
  Digest digest = repo.manifestOf(ref.tag, ref.digest);
  std::string bytes = repo.getManifest(digest);
  std::string mediaType = storedMediaType(registry, digest, bytes);
  std::vector<std::string> accept;
  for (std::string_view a : request.headers.all("Accept")) accept.emplace_back(a);
  if (negotiateManifest(mediaType, ref.tag.has_value(), accept) ==
      ManifestToServe::kDefaultPlatformChild) {
    digest = defaultPlatformChild(parseStoredManifest(bytes)).digest;
    if (auto* mirror = registry.mirror()) mirror->ensureManifest(repo.name(), digest);
    bytes = repo.getManifest(digest);
    mediaType = storedMediaType(registry, digest, bytes);
  }
  Response r(200);
  r.set("Content-Type", mediaType);
  r.set("Docker-Content-Digest", digest.str());
  r.set("ETag", "\"" + digest.str() + "\"");
  if (auto match = request.headers.get("If-None-Match");
      match && *match == "\"" + digest.str() + "\"") {
    r.status = 304;
    return r;
  }
  r.event = RegistryEvent{"pull",
                          RegistryEvent::Target::kManifest,
                          route.name,
                          digest.str(),
                          ref.tag ? ref.tag->str() : "",
                          mediaType,
                          bytes.size(),
                          ""};
  r.body = std::move(bytes);
  return r;
}

Response putManifest(Registry& registry, const Request& request, const Route& route,
                     const Reference& ref, std::string body) {
  Repository repo = repositoryFor(registry, route);
  if (ref.digest) {
    Digest actual = Digest::of(body, ref.digest->algorithm());
    if (actual != *ref.digest) {
      throw Error(ErrorKind::kDigestInvalid,
                  "manifest digest is " + actual.str() + ", not " + ref.digest->str());
    }
  }
  std::string_view contentType = request.headers.get("Content-Type").value_or("");
  Manifest manifest = parseManifest(body, contentType);
  for (const Descriptor& blob : manifest.requiredBlobs()) {
    if (!repo.statLayer(blob.digest)) {
      throw Error(ErrorKind::kManifestBlobUnknown,
                  "blob unknown to the repository: " + blob.digest.str());
    }
  }
  for (const Descriptor& child : manifest.manifestReferences()) {
    if (!repo.hasManifest(child.digest)) {
      throw Error(ErrorKind::kManifestBlobUnknown,
                  "manifest unknown to the repository: " + child.digest.str());
    }
  }
  if (ref.tag) {
    lifecycle::requireMutable(registry.options().immutable, repo.name(), *ref.tag,
                              repo.resolveTag(*ref.tag), Digest::of(body));
  }
  Digest digest = repo.putManifest(body);
  if (ref.tag) repo.putTag(*ref.tag, digest);
  Response r(201);
  if (manifest.subject) {
    repo.addReferrer(manifest.subject->digest, digest);
    r.set("OCI-Subject", manifest.subject->digest.str());
  }
  PushedManifest pushed{digest, body, ref.tag, {}, {}, {}};
  for (const Descriptor& blob : manifest.requiredBlobs()) pushed.blobs.push_back(blob.digest);
  for (const Descriptor& child : manifest.manifestReferences())
    pushed.manifests.push_back(child.digest);
  if (manifest.subject) pushed.subject = manifest.subject->digest;
  confirmManifestPush(registry.store(), repo, pushed);
  r.set("Location", manifestPath(route.name, digest.str()));
  r.set("Docker-Content-Digest", digest.str());
  r.event = RegistryEvent{"push",
                          RegistryEvent::Target::kManifest,
                          route.name,
                          digest.str(),
                          ref.tag ? ref.tag->str() : "",
                          std::string(contentType),
                          body.size(),
                          ""};
  return r;
}

Response deleteManifest(Registry& registry, const Route& route, Repository& repo,
                        const Reference& ref) {
  registry.requireDeleteEnabled();
  const std::vector<ImmutableRule>& immutable = registry.options().immutable;
  if (ref.digest) {
    lifecycle::requireManifestDeletable(immutable, repo, *ref.digest);
    repo.deleteManifest(*ref.digest);
  } else if (ref.tag) {
    lifecycle::requireMutable(immutable, repo.name(), *ref.tag, repo.resolveTag(*ref.tag),
                              std::nullopt);
  }
  if (!ref.digest && (!ref.tag || !repo.deleteTag(*ref.tag))) {
    throw Error(ErrorKind::kManifestUnknown, "tag unknown: " + route.name + ":" + route.reference);
  }
  // By digest the manifest went, by tag only the tag (distribution's TagDeleted).
  Response r(202);
  r.event = RegistryEvent{"delete",
                          RegistryEvent::Target::kManifest,
                          route.name,
                          ref.digest ? ref.digest->str() : "",
                          ref.tag ? ref.tag->str() : "",
                          "",
                          0,
                          ""};
  return r;
}

// Keeps a manifest body up to the limit; beyond, reads the rest to /dev/null so the
// connection stays usable, and answers 413 as distribution does.
class ManifestBody : public BodySink {
 public:
  ManifestBody(Registry& registry, Request request, Route route, Reference ref)
      : registry_(registry),
        request_(std::move(request)),
        route_(std::move(route)),
        ref_(std::move(ref)) {}
  void write(std::string_view data) override {
    if (tooLarge_) return;
    if (body_.size() + data.size() > kMaxManifestBytes) {
      tooLarge_ = true;
      body_.clear();
      return;
    }
    body_.append(data);
  }
  Response finish() override {
    if (tooLarge_) return tooLargeResponse();
    return putManifest(registry_, request_, route_, ref_, std::move(body_));
  }
  static Response tooLargeResponse() {
    return errorResponse(ErrorKind::kSizeInvalid,
                         "manifest larger than " + std::to_string(kMaxManifestBytes) + " bytes",
                         413);
  }

 private:
  Registry& registry_;
  Request request_;
  Route route_;
  Reference ref_;
  std::string body_;
  bool tooLarge_ = false;
};

}  // namespace

Dispatch handleManifest(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  Reference ref = parseReference(route.reference, request.method == "PUT");
  if (request.method == "GET" || request.method == "HEAD") {
    // A pull-through cache first brings the manifest in, or checks its tag upstream.
    if (auto* mirror = registry.mirror()) {
      if (ref.tag) mirror->refreshTag(repo.name(), *ref.tag);
      if (ref.digest) mirror->ensureManifest(repo.name(), *ref.digest);
    }
    return Dispatch::respond(getManifest(registry, request, route, repo, ref));
  }
  if (request.method == "DELETE")
    return Dispatch::respond(deleteManifest(registry, route, repo, ref));
  registry.requireWritable();
  if (request.contentLength && *request.contentLength > kMaxManifestBytes) {
    return Dispatch::respond(ManifestBody::tooLargeResponse());
  }
  return Dispatch::stream(std::make_unique<ManifestBody>(registry, request, route, std::move(ref)));
}

}  // namespace regfs::api
