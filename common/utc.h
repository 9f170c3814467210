#pragma once
// The current time as text, in UTC.

#include <cstdint>
#include <string>

namespace regfs {

// The current UTC time formatted with strftime(3).
std::string utcNow(const char* format);
// The current time as distribution writes startedat: RFC 3339, UTC, seconds.
std::string rfc3339Now();
// A time as RFC 3339 in UTC, with nanoseconds when `nsec` is not 0.
std::string rfc3339(int64_t sec, uint32_t nsec = 0);

}  // namespace regfs
