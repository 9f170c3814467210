// GET /v2/<name>/_regfs/tags[?sort=pushed|name|size&order=asc|desc&n=&offset=&q=]: one page of
// a repository's tags, sorted across all of them on the server (the web UI's tag list), each
// with the regfs.immutable rule that holds it, if any.
#include "api/registry/handlers.h"
#include "api/registry/json_body.h"
#include "common/browse/repository.h"
#include "common/browse/summaries.h"
#include "common/error.h"
#include "common/lifecycle/immutable.h"

namespace regfs::api {
namespace {

// Tags per page when `n` is not given, and at most.
constexpr size_t kDefaultTagPage = 50;
constexpr size_t kMaxTagPage = 1000;

browse::TagQuery tagQuery(const Request& request) {
  browse::TagQuery q;
  std::string sort = queryValue(request.query, "sort").value_or("pushed");
  if (sort == "pushed")
    q.sort = browse::TagSort::kPushed;
  else if (sort == "name")
    q.sort = browse::TagSort::kName;
  else if (sort == "size")
    q.sort = browse::TagSort::kSize;
  else
    throw Error(ErrorKind::kInvalidArgument, "sort must be pushed, name or size, not " + sort);
  q.descending = q.sort != browse::TagSort::kName;
  if (auto order = queryValue(request.query, "order"); order && !order->empty()) {
    if (*order != "asc" && *order != "desc")
      throw Error(ErrorKind::kInvalidArgument, "order must be asc or desc, not " + *order);
    q.descending = *order == "desc";
  }
  q.filter = queryValue(request.query, "q").value_or("");
  q.offset = countParam(request, "offset").value_or(0);
  q.limit = std::min(countParam(request, "n").value_or(kDefaultTagPage), kMaxTagPage);
  return q;
}

}  // namespace

Response handleUiTags(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  browse::TagQuery query = tagQuery(request);
  if (!repo.exists())
    throw Error(ErrorKind::kNameUnknown, "repository name not known: " + route.name);
  // The tag links (names, push dates) are kept between requests: a page costs what it shows.
  std::shared_ptr<const browse::TagLinks> links = registry.summaries().tagLinks(repo);
  browse::TagPage page =
      browse::tagPage(registry.store(), repo, registry.facts(), query, links.get());
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeString(w, "name", route.name);
  writeNumber(w, "total", page.total);
  writeKey(w, "canDelete");
  w.Bool(uiMayDelete(registry, request, repo.name()));
  writeKey(w, "tags");
  w.StartArray();
  for (const browse::TagRow& row : page.tags) {
    w.StartObject();
    writeString(w, "tag", row.tag.str());
    writeString(w, "digest", row.digest.str());
    writeString(w, "mediaType", row.facts->mediaType);
    writeNumber(w, "size", row.size);
    writeTime(w, "pushed", row.pushed);
    writeStrings(w, "platforms", row.facts->platforms);
    if (auto rule = lifecycle::immutableRuleFor(registry.options().immutable, repo.name(), row.tag))
      writeString(w, "immutable", lifecycle::describeImmutable(*rule));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return jsonResponse(buf);
}

}  // namespace regfs::api
