// GET /v2/_regfs/whoami: who the request authenticated as and whether deletes are possible,
// so that the web UI shows delete buttons only where they can work; and the per-repository
// answer the UI's repository and image pages carry (uiMayDelete).
#include "api/registry/handlers.h"
#include "api/registry/json_body.h"
#include "common/auth/token_auth.h"
#include "regfs/version.h"

namespace regfs::api {
namespace {

bool deletesEnabled(const RegistryOptions& options) {
  return options.deleteEnabled && !options.readOnly;
}

}  // namespace

bool uiMayDelete(const Registry& registry, const Request& request, const RepoName& repo) {
  if (!deletesEnabled(registry.options())) return false;
  if (!request.token) return true;
  for (const Access& access : repositoryAccess("DELETE", repo)) {
    if (!request.token->allows(access)) return false;
  }
  return true;
}

Response handleUiWhoami(Registry& registry, const Request& request) {
  bool deleteEnabled = deletesEnabled(registry.options());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  if (request.user.empty()) {
    writeKey(w, "user");
    w.Null();
  } else {
    writeString(w, "user", request.user);
  }
  writeKey(w, "deleteEnabled");
  w.Bool(deleteEnabled);
  // Who authenticated may delete: htpasswd grants every user everything; a token's scopes
  // are per repository, so the repository pages say (canDelete in their answers).
  writeKey(w, "canDelete");
  w.Bool(deleteEnabled);
  writeString(w, "version", kVersion);
  w.EndObject();
  return jsonResponse(buf);
}

}  // namespace regfs::api
