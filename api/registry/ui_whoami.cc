// GET /v2/_regfs/whoami: who the request authenticated as and whether deletes are possible,
// so that the web UI shows delete buttons only where they can work.
#include "api/registry/handlers.h"
#include "api/registry/json_body.h"
#include "regfs/version.h"

namespace regfs::api {

Response handleUiWhoami(Registry& registry, const Request& request) {
  const RegistryOptions& options = registry.options();
  bool deleteEnabled = options.deleteEnabled && !options.readOnly;
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
  // Who authenticated may delete: htpasswd grants every user everything, and a token's
  // scopes are per repository (a delete it does not allow answers 401).
  writeKey(w, "canDelete");
  w.Bool(deleteEnabled);
  writeString(w, "version", kVersion);
  w.EndObject();
  return jsonResponse(buf);
}

}  // namespace regfs::api
