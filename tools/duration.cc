#include "tools/duration.h"

#include "common/config/config.h"
#include "common/error.h"

namespace regfs::tools {

std::chrono::nanoseconds durationArgument(const std::string& name, const std::string& text) {
  try {
    auto d = parseDuration(text);
    if (d.count() < 0) throw Error(ErrorKind::kInvalidArgument, "negative");
    return d;
  } catch (const Error&) {
    throw Error(ErrorKind::kInvalidArgument,
                name + " " + text + " is not a duration (e.g. 168h, 1h30m, 10s)");
  }
}

}  // namespace regfs::tools
