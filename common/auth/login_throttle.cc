#include "common/auth/login_throttle.h"

#include <algorithm>
#include <cmath>

namespace regfs {

LoginThrottle::LoginThrottle(LoginThrottleOptions options, Clock clock)
    : options_(options), clock_(std::move(clock)) {
  if (options_.decay.count() <= 0) options_.decay = std::chrono::milliseconds(1);
  if (options_.maxAddresses == 0) options_.maxAddresses = 1;
}

double LoginThrottle::drained(const Entry& entry, std::chrono::steady_clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - entry.updated).count();
  double perSecond = 1.0 / std::chrono::duration<double>(options_.decay).count();
  return std::max(0.0, entry.score - std::max(0.0, elapsed) * perSecond);
}

int LoginThrottle::retryAfterSeconds(std::string_view address) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(std::string(address));
  if (it == entries_.end()) return 0;
  double excess = drained(it->second, clock_()) - options_.freeFailures;
  if (excess <= 0) return 0;
  double seconds = excess * std::chrono::duration<double>(options_.decay).count();
  return std::max(1, static_cast<int>(std::ceil(seconds - 1e-9)));
}

void LoginThrottle::recordFailure(std::string_view address) {
  std::lock_guard lock(mutex_);
  auto now = clock_();
  auto it = entries_.find(std::string(address));
  if (it == entries_.end()) {
    makeRoom(now);
    it = entries_.emplace(std::string(address), Entry{0, now}).first;
  }
  it->second.score = drained(it->second, now) + 1;
  it->second.updated = now;
}

void LoginThrottle::recordSuccess(std::string_view address) {
  std::lock_guard lock(mutex_);
  entries_.erase(std::string(address));
}

size_t LoginThrottle::trackedAddresses() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void LoginThrottle::makeRoom(std::chrono::steady_clock::time_point now) {
  if (entries_.size() < options_.maxAddresses) return;
  std::erase_if(entries_, [&](const auto& e) { return drained(e.second, now) <= 0; });
  while (entries_.size() >= options_.maxAddresses) {
    auto oldest = std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; });
    entries_.erase(oldest);
  }
}

}  // namespace regfs
