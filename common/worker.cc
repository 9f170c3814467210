#include "common/worker.h"

#include <stdexcept>

namespace regfs {
namespace {

// A wait longer than this waits as if for ever: steady_clock's now() plus it must not
// overflow (durations come from config files).
constexpr std::chrono::nanoseconds kForever = std::chrono::hours(24 * 365 * 100);

}  // namespace

Worker::~Worker() { stop(); }

void Worker::start(std::function<void()> loop) {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stop_) throw std::logic_error("Worker::start: started before");
  thread_ = std::thread(std::move(loop));
}

void Worker::startEvery(std::chrono::nanoseconds first, std::chrono::nanoseconds interval,
                        std::function<void()> work) {
  start([this, first, interval, work = std::move(work)] {
    for (bool go = sleepFor(first); go; go = sleepFor(interval)) work();
  });
}

bool Worker::started() const {
  std::lock_guard lock(mu_);
  return thread_.joinable();
}

void Worker::stop() {
  std::lock_guard join(joinMu_);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Worker::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

bool Worker::wait() { return waitFor(kForever); }

bool Worker::waitFor(std::chrono::nanoseconds d) {
  std::unique_lock lock(mu_);
  auto done = [this] { return stop_ || woken_; };
  if (d >= kForever) {
    cv_.wait(lock, done);
  } else {
    cv_.wait_for(lock, d, done);
  }
  woken_ = false;
  return !stop_;
}

bool Worker::sleepFor(std::chrono::nanoseconds d) {
  std::unique_lock lock(mu_);
  auto stopped = [this] { return stop_.load(); };
  if (d >= kForever) {
    cv_.wait(lock, stopped);
  } else {
    cv_.wait_for(lock, d, stopped);
  }
  return !stop_;
}

}  // namespace regfs
