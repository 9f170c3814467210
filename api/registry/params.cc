// Request parameters shared by the resource handlers.
#include <charconv>

#include "api/registry/errors.h"
#include "api/registry/handlers.h"
#include "common/error.h"

namespace regfs::api {

Repository repositoryFor(Registry& registry, const Route& route) {
  return registry.store().repository(RepoName::parse(route.name));
}

Digest digestParam(std::string_view text) { return Digest::parse(text); }

Digest manifestDigestOf(const Repository& repo, const Route& route) {
  if (route.reference.find(':') != std::string::npos)
    return repo.manifestOf(std::nullopt, digestParam(route.reference));
  auto tag = Tag::tryParse(route.reference);
  if (!tag)
    throw Error(ErrorKind::kManifestUnknown,
                "manifest unknown: " + route.name + ":" + route.reference);
  return repo.manifestOf(tag, std::nullopt);
}

std::optional<size_t> countParam(const Request& request, std::string_view key) {
  auto text = queryValue(request.query, key);
  if (!text || text->empty()) return std::nullopt;
  size_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || ptr != text->data() + text->size()) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(key) + " must be a non-negative integer, not " + *text);
  }
  return v;
}

Page pageParams(const Request& request) {
  Page page;
  page.n = countParam(request, "n");
  if (auto last = queryValue(request.query, "last")) page.last = *last;
  return page;
}

std::optional<Response> applyRange(const Request& request, uint64_t size, std::string_view what,
                                   Response& r, FileBody& file) {
  auto header = request.headers.get("Range");
  if (!header) return std::nullopt;
  RangeRequest range = parseRange(*header, size);
  if (range.kind == RangeRequest::Kind::kUnsatisfiable) {
    Response bad = errorResponse(ErrorKind::kRangeInvalid,
                                 "range " + std::string(*header) + " outside the " +
                                     std::string(what) + "'s " + std::to_string(size) + " bytes");
    bad.set("Content-Range", "bytes */" + std::to_string(size));
    return bad;
  }
  if (range.kind == RangeRequest::Kind::kSatisfiable) {
    r.status = 206;
    file.offset = range.range.first;
    file.length = range.range.length();
    r.set("Content-Range", "bytes " + std::to_string(range.range.first) + "-" +
                               std::to_string(range.range.last) + "/" + std::to_string(size));
  }
  return std::nullopt;
}

}  // namespace regfs::api
