// parseDuration: Go's time.ParseDuration, which distribution's duration keys go through.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "common/config/config.h"
#include "common/config/value.h"
#include "common/error.h"

namespace regfs {
namespace {

using config::isDigit;
using std::chrono::nanoseconds;

constexpr uint64_t kLimit = uint64_t{1} << 63;

[[noreturn]] void badDuration(std::string_view text, const std::string& why) {
  throw Error(ErrorKind::kConfigInvalid,
              "invalid duration " + config::quote(text) + (why.empty() ? "" : ": " + why));
}

// Nanoseconds in `unit`, or 0 for an unknown unit.
uint64_t unitNanoseconds(std::string_view unit) {
  constexpr uint64_t kMicro = 1000, kMilli = 1000 * kMicro, kSecond = 1000 * kMilli;
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return kMicro;  // µs, μs
  if (unit == "ms") return kMilli;
  if (unit == "s") return kSecond;
  if (unit == "m") return 60 * kSecond;
  if (unit == "h") return 3600 * kSecond;
  return 0;
}

// Consumes the digits after a '.' from the front of `s` into `fraction` / `scale`; false if
// there are none. The fraction keeps what precision fits and drops the rest, as Go does.
bool takeFraction(std::string_view& s, uint64_t& fraction, double& scale) {
  size_t j = 0;
  bool overflow = false;
  for (; j < s.size() && isDigit(s[j]); ++j) {
    if (overflow) continue;
    if (fraction > (kLimit - 1) / 10) {
      overflow = true;
      continue;
    }
    fraction = fraction * 10 + static_cast<uint64_t>(s[j] - '0');
    scale *= 10;
  }
  s.remove_prefix(j);
  return j > 0;
}

// Consumes one term, a number and its unit ("1.5h"), from the front of `s` (not empty);
// returns its nanoseconds, at most 2^63. `text` is the whole input, for messages.
uint64_t takeTerm(std::string_view& s, std::string_view text) {
  if (!(s[0] == '.' || isDigit(s[0]))) badDuration(text, "");
  uint64_t whole = 0;
  size_t i = 0;
  for (; i < s.size() && isDigit(s[i]); ++i) {
    if (whole > kLimit / 10) badDuration(text, "out of range");
    whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
    if (whole > kLimit) badDuration(text, "out of range");
  }
  const bool digitsBefore = i > 0;
  s.remove_prefix(i);

  uint64_t fraction = 0;
  double scale = 1;
  bool digitsAfter = false;
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    digitsAfter = takeFraction(s, fraction, scale);
  }
  if (!digitsBefore && !digitsAfter) badDuration(text, "");

  size_t k = 0;
  while (k < s.size() && s[k] != '.' && !isDigit(s[k])) ++k;
  if (k == 0) badDuration(text, "missing unit");
  std::string_view unitName = s.substr(0, k);
  s.remove_prefix(k);
  const uint64_t unit = unitNanoseconds(unitName);
  if (unit == 0) {
    badDuration(text, "unknown unit " + config::quote(unitName) + " (use ns, us, ms, s, m or h)");
  }
  if (whole > kLimit / unit) badDuration(text, "out of range");
  whole *= unit;
  if (fraction > 0) {
    whole +=
        static_cast<uint64_t>(static_cast<double>(fraction) * (static_cast<double>(unit) / scale));
    if (whole > kLimit) badDuration(text, "out of range");
  }
  return whole;
}

}  // namespace

// Follows Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0".
nanoseconds parseDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return nanoseconds(0);
  if (s.empty()) badDuration(text, "");
  uint64_t total = 0;
  while (!s.empty()) {
    const uint64_t term = takeTerm(s, text);
    if (term > kLimit - total) badDuration(text, "out of range");
    total += term;
  }
  if (negative) {
    return nanoseconds(total == kLimit ? std::numeric_limits<int64_t>::min()
                                       : -static_cast<int64_t>(total));
  }
  if (total > kLimit - 1) badDuration(text, "out of range");
  return nanoseconds(static_cast<int64_t>(total));
}

}  // namespace regfs
