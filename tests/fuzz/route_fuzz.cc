// Fuzz target: the request path regfs-server routes (api/registry/router.h), above all the
// cleaning of a path inside an image (/v2/<name>/_regfs/files/<reference>/<path>), which must
// never reach outside the image. Input: a raw request path. Checks that
//   - a route's name has no empty, "." or ".." segment, and a files route's reference is a
//     plain segment;
//   - a files route's path is clean: no leading or trailing '/', no empty, "." or ".."
//     segment, so it names something at or below the image's root;
//   - routing is stable: the path rebuilt from a files route (filesPath, percent-encoded)
//     routes to the same route.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/registry/router.h"
#include "common/percent.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

// Each '/'-separated segment of `s` is a plain name.
bool plainSegments(std::string_view s) {
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    std::string_view seg =
        s.substr(start, slash == std::string_view::npos ? s.npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs;
  using namespace regfs::fuzz;
  std::string_view path(reinterpret_cast<const char*>(data), size);
  auto route = api::parseRoute(path);
  if (!route) return 0;
  if (!route->name.empty())
    FUZZ_CHECK(plainSegments(route->name), "a route names " + show(route->name));
  if (route->resource != api::Resource::kFiles) return 0;
  FUZZ_CHECK(plainSegments(route->reference) && route->reference.find('/') == std::string::npos,
             "a files route's reference is " + show(route->reference));
  FUZZ_CHECK(route->path.empty() || plainSegments(route->path),
             "a path inside an image is not clean: " + show(route->path));
  std::string again =
      api::filesPath(percentEncode(route->name, "/"), percentEncode(route->reference),
                     percentEncode(route->path, "/"));
  auto reparsed = api::parseRoute(again);
  FUZZ_CHECK(reparsed && *reparsed == *route,
             "the files route rebuilt as " + show(again) + " routes elsewhere");
  return 0;
}
