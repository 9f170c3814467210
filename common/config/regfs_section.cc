// The regfs section: keys of regfs's own, which registry:2 ignores. indexing.enabled turns
// the server's background indexing of pushed layers on or off, ui.enabled the web UI; gc schedules
// garbage collection (interval, deleteuntagged, grace, settle).

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
  Value gc = childOf(v, "gc");
  reader.requireMap(gc);
  GcScheduleConfig& g = regfs.gc;
  g.interval = reader.duration(childOf(gc, "interval"), false).value_or(g.interval);
  g.deleteUntagged = reader.boolean(childOf(gc, "deleteuntagged")).value_or(g.deleteUntagged);
  g.grace = reader.duration(childOf(gc, "grace"), false).value_or(g.grace);
  g.settle = reader.duration(childOf(gc, "settle"), false).value_or(g.settle);
  if (g.interval < std::chrono::nanoseconds(0) || g.grace < std::chrono::nanoseconds(0) ||
      g.settle < std::chrono::nanoseconds(0))
    reader.fail(gc, "durations cannot be negative");
}

}  // namespace regfs::config
