// GET /v2/_regfs/catalog[?q=&n=&last=]: every repository with its tag and manifest counts, size
// and last push (the web UI's catalog; docs/api.md). Without n, the whole catalog. The
// summaries are kept between requests (browse::StoreSummaries): a request costs what it shows.
#include "api/registry/handlers.h"
#include "api/registry/json_body.h"
#include "common/browse/summaries.h"
#include "common/names.h"

namespace regfs::api {

Response handleUiCatalog(Registry& registry, const Request& request) {
  Page page = pageParams(request);
  std::string filter = queryValue(request.query, "q").value_or("");
  std::shared_ptr<const browse::CatalogSummaries> all = registry.summaries().catalog();
  std::vector<const browse::RepositorySummary*> shown;
  for (const browse::RepositorySummary& s : *all) {
    if (filter.empty() || s.name.find(filter) != std::string::npos) shown.push_back(&s);
  }
  size_t n = page.n.value_or(shown.size());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "repositories");
  w.StartArray();
  std::string lastShown;
  size_t count = 0;
  bool more = false;
  for (const browse::RepositorySummary* s : shown) {
    if (!page.last.empty() && !catalogLess(page.last, s->name)) continue;
    if (count == n) {
      more = true;
      break;
    }
    w.StartObject();
    writeString(w, "name", s->name);
    writeNumber(w, "tags", s->tags);
    writeNumber(w, "manifests", s->manifests);
    writeNumber(w, "size", s->size);
    writeTime(w, "pushed", s->pushed);
    w.EndObject();
    lastShown = s->name;
    ++count;
  }
  w.EndArray();
  writeNumber(w, "total", shown.size());
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
