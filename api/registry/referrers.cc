// GET /v2/<name>/referrers/<digest>[?artifactType=]: the manifests whose subject is
// <digest>, as an OCI image index (an empty one when there are none).
#include "api/registry/handlers.h"
#include "common/error.h"
#include "common/manifest.h"

namespace regfs::api {

Response handleReferrers(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  Digest subject = digestParam(route.reference);
  auto artifactType = queryValue(request.query, "artifactType");
  std::vector<Descriptor> referrers;
  for (const Digest& digest : repo.listReferrers(subject)) {
    std::string bytes;
    try {
      bytes = repo.getManifest(digest);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kManifestUnknown) continue;  // deleted meanwhile
      throw;
    }
    Descriptor d =
        referrerDescriptor(parseStoredManifest(bytes), digest, static_cast<int64_t>(bytes.size()));
    if (artifactType && d.artifactType != *artifactType) continue;
    referrers.push_back(std::move(d));
  }
  Response r(200);
  r.set("Content-Type", std::string(media::kOciIndex));
  if (artifactType) r.set("OCI-Filters-Applied", "artifactType");
  r.body = referrersIndexJson(referrers);
  return r;
}

}  // namespace regfs::api
