// GET /v2/_regfs/catalog[?q=&n=&last=]: every repository with its tag and manifest counts, size
// and last push (the web UI's catalog; docs/api.md). Without n, the whole catalog.
#include <limits>

#include "api/registry/handlers.h"
#include "api/registry/json_body.h"
#include "common/browse/repository.h"
#include "common/names.h"

namespace regfs::api {

Response handleUiCatalog(Registry& registry, const Request& request) {
  Page page = pageParams(request);
  std::string filter = queryValue(request.query, "q").value_or("");
  std::vector<std::string> names;
  for (std::string& name : registry.store().catalog(std::numeric_limits<size_t>::max())) {
    if (filter.empty() || name.find(filter) != std::string::npos) names.push_back(std::move(name));
  }
  size_t n = page.n.value_or(names.size());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "repositories");
  w.StartArray();
  std::string lastShown;
  size_t shown = 0;
  bool more = false;
  for (const std::string& name : names) {
    if (!page.last.empty() && !catalogLess(page.last, name)) continue;
    if (shown == n) {
      more = true;
      break;
    }
    browse::RepositorySummary s = browse::summarize(
        registry.store(), registry.store().repository(RepoName::parse(name)), registry.facts());
    w.StartObject();
    writeString(w, "name", s.name);
    writeNumber(w, "tags", s.tags);
    writeNumber(w, "manifests", s.manifests);
    writeNumber(w, "size", s.size);
    writeTime(w, "pushed", s.pushed);
    w.EndObject();
    lastShown = name;
    ++shown;
  }
  w.EndArray();
  writeNumber(w, "total", names.size());
  w.EndObject();
  Response r = jsonResponse(buf);
  if (more) {
    std::string query = "last=" + queryEscape(lastShown) + "&n=" + std::to_string(n);
    if (!filter.empty()) query += "&q=" + queryEscape(filter);
    r.set("Link", "</v2/_regfs/catalog?" + query + ">; rel=\"next\"");
  }
  return r;
}

}  // namespace regfs::api
