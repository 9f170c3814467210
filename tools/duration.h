#pragma once
// Duration arguments ("1h", "30m", "10s"), read as config.yml reads durations.

#include <chrono>
#include <string>

namespace regfs::tools {

// Parses the value of duration option `name`; throws a one-line Error naming the option.
std::chrono::nanoseconds durationArgument(const std::string& name, const std::string& text);

}  // namespace regfs::tools
