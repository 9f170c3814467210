// GET /v2/_catalog?n=&last=: repository names in distribution's order, paginated with Link.
#include <algorithm>

#include "api/http/json.h"
#include "api/registry/handlers.h"

namespace regfs::api {

Response handleCatalog(Registry& registry, const Request& request) {
  Page page = pageParams(request);
  size_t maxEntries = registry.options().catalogMaxEntries;
  size_t n = std::min(page.n.value_or(maxEntries), maxEntries);
  // One more than asked tells whether there is a next page.
  std::vector<std::string> repos =
      n ? registry.store().catalog(n + 1, page.last) : std::vector<std::string>{};
  Response r(200);
  if (repos.size() > n) {
    repos.resize(n);
    r.set("Link", "</v2/_catalog?last=" + queryEscape(repos.back()) + "&n=" + std::to_string(n) +
                      ">; rel=\"next\"");
  }
  r.body = "{\"repositories\":" + jsonStringArray(repos) + "}\n";
  r.set("Content-Type", "application/json; charset=utf-8");
  return r;
}

}  // namespace regfs::api
