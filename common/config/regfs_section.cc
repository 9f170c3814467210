// The regfs section: keys of regfs's own, which registry:2 ignores. indexing.enabled turns
// the server's background indexing of pushed layers on or off, ui.enabled the web UI.

#include "common/config/sections.h"

namespace regfs::config {

void readRegfs(Reader& reader, const Value& v, RegfsConfig& regfs) {
  reader.requireMap(v);
  Value indexing = childOf(v, "indexing");
  reader.requireMap(indexing);
  if (auto on = reader.boolean(childOf(indexing, "enabled"))) regfs.indexingEnabled = *on;
  Value ui = childOf(v, "ui");
  reader.requireMap(ui);
  if (auto on = reader.boolean(childOf(ui, "enabled"))) regfs.uiEnabled = *on;
}

}  // namespace regfs::config
