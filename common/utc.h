#pragma once
// The current time as text, in UTC.

#include <string>

namespace regfs {

// The current UTC time formatted with strftime(3).
std::string utcNow(const char* format);
// The current time as distribution writes startedat: RFC 3339, UTC, seconds.
std::string rfc3339Now();

}  // namespace regfs
