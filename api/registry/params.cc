// Request parameters shared by the resource handlers.
#include <charconv>

#include "api/registry/handlers.h"
#include "common/error.h"

namespace regfs::api {

Repository repositoryFor(Registry& registry, const Route& route) {
  return registry.store().repository(RepoName::parse(route.name));
}

Digest digestParam(std::string_view text) { return Digest::parse(text); }

Page pageParams(const Request& request) {
  Page page;
  if (auto n = queryValue(request.query, "n"); n && !n->empty()) {
    size_t v = 0;
    auto [ptr, ec] = std::from_chars(n->data(), n->data() + n->size(), v);
    if (ec != std::errc() || ptr != n->data() + n->size()) {
      throw Error(ErrorKind::kInvalidArgument, "n must be a non-negative integer, not " + *n);
    }
    page.n = v;
  }
  if (auto last = queryValue(request.query, "last")) page.last = *last;
  return page;
}

}  // namespace regfs::api
