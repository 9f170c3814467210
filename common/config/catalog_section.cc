// The catalog section: maxentries, the most repositories one _catalog page lists.

#include <limits>

#include "common/config/sections.h"

namespace regfs::config {

void readCatalog(Reader& reader, const Value& v, int& maxEntries) {
  reader.requireMap(v);
  Value entries = childOf(v, "maxentries");
  if (auto n = reader.integer(entries)) {
    if (*n > std::numeric_limits<int>::max()) reader.fail(entries, "too large");
    maxEntries = *n <= 0 ? 1000 : static_cast<int>(*n);
  }
}

}  // namespace regfs::config
