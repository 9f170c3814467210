#pragma once
// Slows down password guessing, per client address.
//
// Each address has a failure score. A failed login adds one; the score drains by one
// every `decay`. While the score is above `freeFailures` the address is blocked: its
// logins are answered 429 TOOMANYREQUESTS with Retry-After, without checking the password
// (so a blocked guesser also burns no bcrypt time). With the defaults, five mistakes are
// free and after that a guesser gets one try per 12 seconds. Successful logins clear the
// address. Other addresses are unaffected, so the real user logging in from elsewhere is
// never locked out.
//
// Memory is bounded: at most `maxAddresses` are tracked; when full, drained entries go
// first, then the longest idle. Thread-safe.

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace regfs {

struct LoginThrottleOptions {
  double freeFailures = 5;
  std::chrono::milliseconds decay = std::chrono::seconds(12);
  size_t maxAddresses = 10000;
};

class LoginThrottle {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit LoginThrottle(LoginThrottleOptions options = {},
                         Clock clock = std::chrono::steady_clock::now);

  // Seconds (rounded up) until `address` may try again; 0 if it may try now.
  int retryAfterSeconds(std::string_view address);
  void recordFailure(std::string_view address);
  void recordSuccess(std::string_view address);

  size_t trackedAddresses();

 private:
  struct Entry {
    double score = 0;
    std::chrono::steady_clock::time_point updated;
  };
  double drained(const Entry& entry, std::chrono::steady_clock::time_point now) const;
  void makeRoom(std::chrono::steady_clock::time_point now);

  LoginThrottleOptions options_;
  Clock clock_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace regfs
