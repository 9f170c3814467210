// Which readers' listings inside images carry the attributes of files (fs/stat_habits.h).

#include "fs/stat_habits.h"

#include <gtest/gtest.h>

namespace regfs::view {
namespace {

using Clock = StatHabits::Clock;

TEST(StatHabitsTest, AThreadThatLooksUpAFileGetsFullListingsForAMinute) {
  StatHabits habits;
  Clock::time_point t0 = Clock::now();
  EXPECT_FALSE(habits.statsFiles(100, t0));  // find, ls: names and types only
  habits.lookedUpFile(100, t0);
  EXPECT_TRUE(habits.statsFiles(100, t0 + std::chrono::seconds(59)));
  EXPECT_FALSE(habits.statsFiles(101, t0));  // another thread has its own habits
  EXPECT_FALSE(habits.statsFiles(100, t0 + StatHabits::kRemembered));
  habits.lookedUpFile(100, t0 + std::chrono::seconds(30));  // each lookup renews it
  EXPECT_TRUE(habits.statsFiles(100, t0 + std::chrono::seconds(89)));
}

TEST(StatHabitsTest, TheTableStaysBoundedAndKeepsTheThreadsStillLookingUp) {
  StatHabits habits;
  Clock::time_point t0 = Clock::now();
  habits.lookedUpFile(1, t0 + std::chrono::seconds(61));
  for (pid_t tid = 2; tid < static_cast<pid_t>(StatHabits::kMaxThreads); ++tid)
    habits.lookedUpFile(tid, t0);
  // Full: the next newcomer sweeps out the threads idle for a minute, not the others.
  Clock::time_point later = t0 + std::chrono::seconds(90);
  habits.lookedUpFile(50000, later);
  EXPECT_TRUE(habits.statsFiles(50000, later));
  EXPECT_TRUE(habits.statsFiles(1, later));
  EXPECT_FALSE(habits.statsFiles(2, later));
  // All busy: the table starts afresh rather than grow.
  StatHabits busy;
  for (pid_t tid = 1; tid <= static_cast<pid_t>(StatHabits::kMaxThreads); ++tid)
    busy.lookedUpFile(tid, t0);
  busy.lookedUpFile(60000, t0);
  EXPECT_TRUE(busy.statsFiles(60000, t0));
  EXPECT_FALSE(busy.statsFiles(1, t0));
}

}  // namespace
}  // namespace regfs::view
