// GET /v2/: the API version check every client starts with.
#include "api/registry/handlers.h"

namespace regfs::api {

Response handleBase(Registry&, const Request&) {
  Response r(200);
  r.body = "{}";
  r.set("Content-Type", "application/json; charset=utf-8");
  return r;
}

}  // namespace regfs::api
