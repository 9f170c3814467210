#pragma once
// Test support: waiting for something a test set in motion (a server thread, a background
// rebuild, another process) to happen, with a deadline. The one polling loop of the tests.

#include <chrono>
#include <functional>
#include <optional>
#include <thread>

namespace regfs::testing {

// Checks `condition` every `interval` until it holds or `timeout` has passed (checking once
// more at the deadline). Returns how long it took to hold, or nullopt if it never did; used
// as a bool it says whether the condition held.
inline std::optional<std::chrono::milliseconds> waitUntil(
    const std::function<bool()>& condition,
    std::chrono::milliseconds timeout = std::chrono::seconds(10),
    std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
  auto start = std::chrono::steady_clock::now();
  while (true) {
    if (condition()) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    if (std::chrono::steady_clock::now() - start > timeout) return std::nullopt;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace regfs::testing
