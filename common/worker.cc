#include "common/worker.h"

#include <pthread.h>

#include <stdexcept>

namespace regfs {
namespace {

// A wait longer than this waits as if for ever: steady_clock's now() plus it must not
// overflow (durations come from config files).
constexpr std::chrono::nanoseconds kForever = std::chrono::hours(24 * 365 * 100);

}  // namespace

void nameThisThread(const std::string& name) {
  // Fails only for a name too long, which the cut rules out.
  ::pthread_setname_np(::pthread_self(), name.substr(0, kThreadNameMax).c_str());
}

std::thread namedThread(std::string name, std::function<void()> f) {
  return std::thread([name = std::move(name), f = std::move(f)] {
    nameThisThread(name);
    f();
  });
}

Worker::~Worker() { stop(); }

void Worker::start(std::function<void()> loop) {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stop_) throw std::logic_error("Worker::start: started before");
  thread_ = namedThread(name_, std::move(loop));
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
