#include "common/utc.h"

#include <ctime>

namespace regfs {

std::string utcNow(const char* format) {
  time_t now = ::time(nullptr);
  struct tm tm;
  ::gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string rfc3339Now() { return utcNow("%Y-%m-%dT%H:%M:%SZ"); }

}  // namespace regfs
