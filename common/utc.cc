#include "common/utc.h"

#include <cstdio>
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

std::string rfc3339(int64_t sec, uint32_t nsec) {
  std::time_t t = static_cast<std::time_t>(sec);
  std::tm tm{};
  if (!::gmtime_r(&t, &tm)) return "1970-01-01T00:00:00Z";
  char buf[64];
  size_t used = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, used);
  if (nsec) {
    std::snprintf(buf, sizeof buf, ".%09u", nsec);
    out += buf;
  }
  return out + "Z";
}

}  // namespace regfs
