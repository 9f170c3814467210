// DELETE /v2/<name>/_regfs/repository: deletes the repository (common/store/repository_delete.h)
// and answers 202 with what went, counted. Its blobs go at the next garbage collection.
#include "api/registry/handlers.h"
#include "common/error.h"
#include "common/store/repository_delete.h"

namespace regfs::api {

Response handleRepository(Registry& registry, const Request&, const Route& route) {
  registry.requireDeleteEnabled();
  Repository repo = repositoryFor(registry, route);
  RepositoryContents gone = deleteRepository(registry.store(), repo.name());
  Response r(202);
  r.body = "{\"tags\":" + std::to_string(gone.tags.size()) +
           ",\"manifests\":" + std::to_string(gone.revisions.size()) +
           ",\"layers\":" + std::to_string(gone.layers.size()) +
           ",\"referrers\":" + std::to_string(gone.referrers.size()) +
           ",\"uploads\":" + std::to_string(gone.uploads.size()) + "}\n";
  r.set("Content-Type", "application/json; charset=utf-8");
  r.event =
      RegistryEvent{"delete", RegistryEvent::Target::kRepository, route.name, "", "", "", 0, ""};
  return r;
}

}  // namespace regfs::api
