// GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>.
#include "api/handlers.h"
#include "common/error.h"

namespace regfs::api {

Dispatch handleManifest(Registry&, const Request&, const Route&) {
  throw Error(ErrorKind::kUnsupported, "manifests are not served yet");
}

}  // namespace regfs::api
