// GET /v2/<name>/tags/list?n=&last=: the tags of a repository, paginated with Link.
#include <algorithm>

#include "api/http/json.h"
#include "api/registry/handlers.h"
#include "common/error.h"

namespace regfs::api {

Response handleTags(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  Page page = pageParams(request);
  if (!repo.exists())
    throw Error(ErrorKind::kNameUnknown, "repository name not known: " + route.name);
  std::vector<std::string> tags;
  for (const Tag& tag : repo.listTags()) {
    if (page.last.empty() || tag.str() > page.last) tags.push_back(tag.str());
  }
  Response r(200);
  if (page.n && tags.size() > *page.n) {
    tags.resize(*page.n);
    if (!tags.empty()) {
      r.set("Link", "</v2/" + route.name + "/tags/list?last=" + queryEscape(tags.back()) +
                        "&n=" + std::to_string(*page.n) + ">; rel=\"next\"");
    }
  }
  r.body = "{\"name\":" + jsonString(route.name) + ",\"tags\":" + jsonStringArray(tags) + "}\n";
  r.set("Content-Type", "application/json; charset=utf-8");
  return r;
}

}  // namespace regfs::api
