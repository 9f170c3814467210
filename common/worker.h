#pragma once
// A thread beside the requests, with the one stop protocol every background loop in regfs
// uses: the loop waits only through its Worker (wait, waitFor, sleepFor), so stop() reaches
// it at once, whatever it waits for, and a wake() is never lost between two waits.
//   Worker w{"store-stats"};
//   w.start([&] { while (w.waitFor(interval)) doWork(); });   // the destructor stops it
// Every method may be called from any thread; the wait methods are for the worker's own.
// Every thread of regfs is named (as ps -L, top and gdb show it): a Worker's by its
// constructor, any other's by namedThread().

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace regfs {

// The kernel keeps 15 bytes of a thread's name; a longer name is cut there.
inline constexpr size_t kThreadNameMax = 15;

// Names the calling thread `name` (cut to kThreadNameMax bytes).
void nameThisThread(const std::string& name);

// Runs `f` on a new thread named `name`.
std::thread namedThread(std::string name, std::function<void()> f);

class Worker {
 public:
  // `name` names the thread start() runs.
  explicit Worker(std::string name) : name_(std::move(name)) {}
  // stop()
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs `loop` on a thread of its own. At most once; `loop` returns when stopping().
  void start(std::function<void()> loop);
  // Runs `work` after `first`, then every `interval`, until stopped: a wake() does not
  // shorten the waits.
  void startEvery(std::chrono::nanoseconds first, std::chrono::nanoseconds interval,
                  std::function<void()> work);
  bool started() const;
  // Asks the loop to stop, wakes it and waits until it returned. Idempotent.
  void stop();
  bool stopping() const { return stop_.load(); }
  // Set once stopping: for work that can give up part-way (a probe, a transfer).
  const std::atomic<bool>& stopFlag() const { return stop_; }

  // Ends the loop's current wait (or its next one, when it is not waiting).
  void wake();
  // Until woken or stopped. False when stopping.
  bool wait();
  // Until woken or stopped, or `d` passed. False when stopping.
  bool waitFor(std::chrono::nanoseconds d);
  // For `d`, unless stopped first (a wake is kept for the next wait). False when stopping.
  bool sleepFor(std::chrono::nanoseconds d);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  bool woken_ = false;  // under mu_
  std::string name_;
  std::thread thread_;
  std::mutex joinMu_;  // one stop() joins
};

}  // namespace regfs
