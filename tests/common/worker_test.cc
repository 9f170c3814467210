// Worker: stop reaches a loop whatever it waits for, a wake is never lost, and startEvery
// keeps its rhythm.

#include "common/worker.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <string>

#include "support/poll.h"

namespace regfs {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::waitUntil;

TEST(WorkerTest, StopEndsEveryKindOfWaitAtOnce) {
  for (int kind = 0; kind < 3; ++kind) {
    Worker w{"test-worker"};
    std::atomic<bool> returned{false};
    w.start([&] {
      if (kind == 0)
        while (w.wait()) {
        }
      if (kind == 1)
        while (w.waitFor(hours(1))) {
        }
      if (kind == 2)
        while (w.sleepFor(hours(1))) {
        }
      returned = true;
    });
    auto started = Clock::now();
    w.stop();
    EXPECT_TRUE(returned) << "kind " << kind;
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(5)) << "kind " << kind;
    EXPECT_TRUE(w.stopping());
    EXPECT_TRUE(w.stopFlag().load());
  }
}

TEST(WorkerTest, AWakeBeforeTheWaitIsKept) {
  Worker w{"test-worker"};
  std::atomic<int> rounds{0};
  std::atomic<bool> go{false};
  w.start([&] {
    while (!go) std::this_thread::yield();
    // The wake below came before this wait: it must not be lost.
    while (w.wait()) ++rounds;
  });
  w.wake();
  go = true;
  waitUntil([&] { return rounds > 0; }, std::chrono::seconds(10), milliseconds(1));
  EXPECT_EQ(rounds.load(), 1);
}

TEST(WorkerTest, SleepForIsNotShortenedByAWake) {
  Worker w{"test-worker"};
  std::atomic<bool> slept{false};
  Clock::duration took{};
  w.start([&] {
    auto started = Clock::now();
    w.sleepFor(milliseconds(200));
    took = Clock::now() - started;
    slept = true;
    w.wait();
  });
  w.wake();
  while (!slept) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_GE(took, milliseconds(200));
}

TEST(WorkerTest, StartEveryRunsFirstThenRepeats) {
  Worker w{"test-worker"};
  std::atomic<int> runs{0};
  w.startEvery(milliseconds(0), milliseconds(5), [&] { ++runs; });
  waitUntil([&] { return runs >= 3; }, std::chrono::seconds(10), milliseconds(1));
  w.stop();
  int after = runs;
  EXPECT_GE(after, 3);
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(runs.load(), after) << "ran after stop()";
}

TEST(WorkerTest, StartEveryWaitsTheFirstDelay) {
  Worker w{"test-worker"};
  std::atomic<int> runs{0};
  w.startEvery(hours(1), milliseconds(1), [&] { ++runs; });
  std::this_thread::sleep_for(milliseconds(20));
  w.stop();
  EXPECT_EQ(runs.load(), 0);
}

TEST(WorkerTest, StartsOnceAndStopIsIdempotent) {
  Worker w{"test-worker"};
  EXPECT_FALSE(w.started());
  w.stop();  // never started
  EXPECT_THROW(w.start([] {}), std::logic_error);
  Worker v{"test-worker"};
  v.start([&] { v.wait(); });
  EXPECT_TRUE(v.started());
  EXPECT_THROW(v.start([] {}), std::logic_error);
  v.stop();
  v.stop();
}

TEST(WorkerTest, NamesItsThreadCutToWhatTheKernelKeeps) {
  auto nameOf = [](Worker& w) {
    std::string name;
    w.start([&] {
      char buf[64] = "";
      pthread_getname_np(pthread_self(), buf, sizeof buf);
      name = buf;
    });
    w.stop();
    return name;
  };
  Worker shortName{"store-stats"};
  EXPECT_EQ(nameOf(shortName), "store-stats");
  Worker longName{"notify-a-long-endpoint-name"};
  EXPECT_EQ(nameOf(longName), "notify-a-long-e");
}

}  // namespace
}  // namespace regfs
