// The regfs section: keys of regfs's own, which registry:2 ignores. indexing.enabled turns
// the server's background indexing of pushed layers on or off.

#include "common/config/sections.h"

namespace regfs::config {

void readRegfs(Reader& reader, const Value& v, RegfsConfig& regfs) {
  reader.requireMap(v);
  Value indexing = childOf(v, "indexing");
  reader.requireMap(indexing);
  if (auto on = reader.boolean(childOf(indexing, "enabled"))) regfs.indexingEnabled = *on;
}

}  // namespace regfs::config
