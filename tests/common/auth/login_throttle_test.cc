#include "common/auth/login_throttle.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace regfs {
namespace {

using namespace std::chrono_literals;

// A clock the test moves by hand.
struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  LoginThrottle::Clock fn() {
    return [this] { return now; };
  }
};

TEST(LoginThrottle, FreeFailuresThenRetryAfterThatDecays) {
  FakeClock clock;
  LoginThrottle throttle({.freeFailures = 5, .decay = 12s, .maxAddresses = 100}, clock.fn());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(throttle.retryAfterSeconds("10.0.0.1"), 0) << i;
    throttle.recordFailure("10.0.0.1");
  }
  EXPECT_EQ(throttle.retryAfterSeconds("10.0.0.1"), 0);  // score 5: still allowed
  throttle.recordFailure("10.0.0.1");                    // score 6: blocked for one decay
  EXPECT_EQ(throttle.retryAfterSeconds("10.0.0.1"), 12);
  clock.now += 5s;
  EXPECT_EQ(throttle.retryAfterSeconds("10.0.0.1"), 7);
  clock.now += 7s;
  EXPECT_EQ(throttle.retryAfterSeconds("10.0.0.1"), 0);
  throttle.recordFailure("10.0.0.1");  // another guess: blocked again
  EXPECT_EQ(throttle.retryAfterSeconds("10.0.0.1"), 12);
  clock.now += 10min;  // all drained
  EXPECT_EQ(throttle.retryAfterSeconds("10.0.0.1"), 0);
  for (int i = 0; i < 5; ++i) throttle.recordFailure("10.0.0.1");
  EXPECT_EQ(throttle.retryAfterSeconds("10.0.0.1"), 0);  // five free mistakes again
}

TEST(LoginThrottle, RoundsUpPartialSeconds) {
  FakeClock clock;
  LoginThrottle throttle({.freeFailures = 0, .decay = 1500ms, .maxAddresses = 10}, clock.fn());
  throttle.recordFailure("a");
  EXPECT_EQ(throttle.retryAfterSeconds("a"), 2);
  clock.now += 1400ms;
  EXPECT_EQ(throttle.retryAfterSeconds("a"), 1);
  clock.now += 100ms;
  EXPECT_EQ(throttle.retryAfterSeconds("a"), 0);
}

TEST(LoginThrottle, OtherAddressesAndSuccessAreUnaffected) {
  FakeClock clock;
  LoginThrottle throttle({.freeFailures = 2, .decay = 10s, .maxAddresses = 100}, clock.fn());
  for (int i = 0; i < 10; ++i) throttle.recordFailure("203.0.113.9");
  EXPECT_GT(throttle.retryAfterSeconds("203.0.113.9"), 0);
  EXPECT_EQ(throttle.retryAfterSeconds("198.51.100.7"), 0);  // the real user, elsewhere
  EXPECT_EQ(throttle.retryAfterSeconds("2001:db8::1"), 0);

  throttle.recordFailure("198.51.100.7");
  throttle.recordSuccess("198.51.100.7");  // a typo, then the right password
  throttle.recordFailure("198.51.100.7");
  throttle.recordFailure("198.51.100.7");
  EXPECT_EQ(throttle.retryAfterSeconds("198.51.100.7"), 0);
}

TEST(LoginThrottle, MemoryIsBounded) {
  FakeClock clock;
  LoginThrottle throttle({.freeFailures = 1, .decay = 1s, .maxAddresses = 50}, clock.fn());
  for (int i = 0; i < 1000; ++i) {
    throttle.recordFailure("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
    clock.now += 1ms;
  }
  EXPECT_LE(throttle.trackedAddresses(), 50u);
  // The most recent guessers are the ones still tracked.
  throttle.recordFailure("10.1.3.231");
  EXPECT_GT(throttle.retryAfterSeconds("10.1.3.231"), 0);
  EXPECT_EQ(throttle.retryAfterSeconds("10.1.0.0"), 0);

  // Drained entries make room before any live one is dropped.
  clock.now += 1h;
  throttle.recordFailure("fresh");
  throttle.recordFailure("fresh");
  EXPECT_EQ(throttle.trackedAddresses(), 1u);
  EXPECT_GT(throttle.retryAfterSeconds("fresh"), 0);
}

TEST(LoginThrottle, ThreadSafe) {
  LoginThrottle throttle({.freeFailures = 1000000, .decay = 1h, .maxAddresses = 64});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string address = "a" + std::to_string((i * 7 + t) % 100);
        throttle.recordFailure(address);
        (void)throttle.retryAfterSeconds(address);
        if (i % 10 == 0) throttle.recordSuccess(address);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(throttle.trackedAddresses(), 64u);
}

}  // namespace
}  // namespace regfs
