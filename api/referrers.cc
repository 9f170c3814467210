// GET /v2/<name>/referrers/<digest>.
#include "api/handlers.h"
#include "common/error.h"

namespace regfs::api {

Response handleReferrers(Registry&, const Request&, const Route&) {
  throw Error(ErrorKind::kUnsupported, "referrers are not served yet");
}

}  // namespace regfs::api
