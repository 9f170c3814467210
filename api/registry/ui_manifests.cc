// GET /v2/<name>/_regfs/manifests[?untagged=true]: a repository's revisions, newest first; with
// untagged=true those no tag reaches and that refer to nothing (the web UI's clean-up list).
#include "api/registry/handlers.h"
#include "api/registry/json_body.h"
#include "common/browse/repository.h"
#include "common/error.h"

namespace regfs::api {

Response handleUiManifests(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  std::string untagged = queryValue(request.query, "untagged").value_or("false");
  if (untagged != "true" && untagged != "false")
    throw Error(ErrorKind::kInvalidArgument, "untagged must be true or false, not " + untagged);
  if (!repo.exists())
    throw Error(ErrorKind::kNameUnknown, "repository name not known: " + route.name);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeString(w, "name", route.name);
  writeKey(w, "canDelete");
  w.Bool(uiMayDelete(registry, request, repo.name()));
  writeKey(w, "manifests");
  w.StartArray();
  for (const browse::ManifestRow& row :
       browse::listRevisions(registry.store(), repo, registry.facts(), untagged == "true")) {
    w.StartObject();
    writeString(w, "digest", row.digest.str());
    writeString(w, "mediaType", row.facts->mediaType);
    writeNumber(w, "size", row.facts->size);
    writeTime(w, "pushed", row.pushed);
    std::string artifactType = row.facts->artifactTypeShown();
    if (!artifactType.empty()) writeString(w, "artifactType", artifactType);
    if (row.facts->subject) writeString(w, "subject", row.facts->subject->str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return jsonResponse(buf);
}

}  // namespace regfs::api
