#pragma once
// Which readers look at the files they list inside images. A READDIRPLUS answer makes the
// kernel build an inode and a dentry for every entry that carries attributes: a walk that
// needs only names and types (find, ls, a shell's completion) pays for every file of the
// tree, which doubles find's time on an image of 30,000 files. So inside images a listing
// carries the attributes of directories only, until the thread asking has looked up a file;
// from then on (ls -l, du, tar, rsync, cp -r) its listings carry every entry's, which saves
// it a LOOKUP per file. Either answer is correct; only the cost differs.
//
// Keyed by the thread id FUSE reports with each request; a thread is forgotten an idle
// minute after its last file lookup (ids are reused), and the table is bounded.

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <unordered_map>

namespace regfs::view {

class StatHabits {
 public:
  using Clock = std::chrono::steady_clock;

  // Whether `tid`'s listings should carry the attributes of files too.
  bool statsFiles(pid_t tid, Clock::time_point now = Clock::now()) {
    std::lock_guard lock(mutex_);
    auto it = lastLookup_.find(tid);
    return it != lastLookup_.end() && now - it->second < kRemembered;
  }

  // `tid` looked up a file (not a directory) inside an image.
  void lookedUpFile(pid_t tid, Clock::time_point now = Clock::now()) {
    std::lock_guard lock(mutex_);
    if (lastLookup_.size() >= kMaxThreads && !lastLookup_.contains(tid)) {
      std::erase_if(lastLookup_, [&](const auto& e) { return now - e.second >= kRemembered; });
      if (lastLookup_.size() >= kMaxThreads) lastLookup_.clear();
    }
    lastLookup_[tid] = now;
  }

  static constexpr Clock::duration kRemembered = std::chrono::minutes(1);
  static constexpr size_t kMaxThreads = 4096;

 private:
  std::mutex mutex_;
  std::unordered_map<pid_t, Clock::time_point> lastLookup_;
};

}  // namespace regfs::view
