// The notifications section: events.includereferences and the webhook endpoints.

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/config/sections.h"

namespace regfs::config {
namespace {

NotificationEndpoint readEndpoint(Reader& reader, const Value& e) {
  NotificationEndpoint out;
  out.name = reader.text(childOf(e, "name")).value_or("");
  out.url = reader.text(childOf(e, "url")).value_or("");
  out.disabled = reader.boolean(childOf(e, "disabled")).value_or(false);
  out.headers = reader.headers(childOf(e, "headers"));
  // Zero or negative means distribution's default.
  reader.positiveDuration(childOf(e, "timeout"), out.timeout);
  Value threshold = childOf(e, "threshold");
  if (auto n = reader.integer(threshold); n && *n > 0) {
    if (*n > std::numeric_limits<int>::max()) reader.fail(threshold, "too large");
    out.threshold = static_cast<int>(*n);
  }
  reader.positiveDuration(childOf(e, "backoff"), out.backoff);
  out.ignoredMediaTypes =
      reader.stringList(childOf(e, "ignoredmediatypes")).value_or(std::vector<std::string>{});
  Value ignore = childOf(e, "ignore");
  reader.requireMap(ignore);
  out.ignoreMediaTypes =
      reader.stringList(childOf(ignore, "mediatypes")).value_or(std::vector<std::string>{});
  out.ignoreActions =
      reader.stringList(childOf(ignore, "actions")).value_or(std::vector<std::string>{});
  return out;
}

}  // namespace

void readNotifications(Reader& reader, const Value& v, NotificationsConfig& notifications) {
  reader.requireMap(v);
  Value events = childOf(v, "events");
  reader.requireMap(events);
  notifications.includeReferences =
      reader.boolean(childOf(events, "includereferences")).value_or(false);
  reader.forEachItem(childOf(v, "endpoints"), "endpoints", [&](const Value& e) {
    notifications.endpoints.push_back(readEndpoint(reader, e));
  });
}

}  // namespace regfs::config
