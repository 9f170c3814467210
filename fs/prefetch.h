#pragma once
// Read-ahead across the files of a directory inside an image. Programs that read a tree
// (tar, cp -r, rsync, grep -r) open its files one after another in directory order, and each
// small file costs them an OPEN and a READ round trip to the daemon, the READ waiting while
// the daemon decompresses. When a file is opened, the files that follow it in its directory
// are read from their layers on a thread of this class's own and stored into the kernel's
// page cache (FUSE notify_store), so reading them needs no READ, and decompression runs
// beside the reader instead of inside its waits.
//
// Bounded: a window of `files` files and `bytes` bytes past the one opened, files of at most
// `fileBytes` only, each directory's window moving forward only (reopening a file or reading
// backwards queues nothing). Best effort: a file the kernel has forgotten, or that a READ
// reached first, is just stored once more or not at all; a layer that fails to read is left
// for the READ to report.

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "common/worker.h"
#include "fs/contents.h"

struct fuse_session;

namespace regfs::view {

struct PrefetchOptions {
  size_t files = 64;             // files queued past the one opened; 0: no read-ahead
  uint64_t bytes = 8 << 20;      // bytes queued past the one opened
  uint64_t fileBytes = 1 << 20;  // larger files are left to the kernel's own read-ahead
};

class FilePrefetcher {
 public:
  explicit FilePrefetcher(PrefetchOptions options = {}) : options_(options) {}
  ~FilePrefetcher() { stop(); }

  // Starts storing into `se`'s page cache.
  void attach(fuse_session* se);
  // Stops storing: what is being stored when the session ends may wait for a READ nobody
  // answers any more, until the unmount ends it. Then stop() waits for the thread.
  void release() { session_.store(nullptr); }
  void stop() { worker_.stop(); }

  // Child number `position` of directory `dir` in `tree`, shown under inode `base`
  // (contents.h), was opened.
  void opened(const std::shared_ptr<const FileTree>& tree, uint64_t base, uint32_t dir,
              uint32_t position);

  // Files stored into the page cache so far (for tests and debugging).
  uint64_t stored() const { return stored_.load(); }

 private:
  struct Item {
    std::shared_ptr<const FileTree> tree;
    uint64_t base = 0;
    uint32_t n = 0;
  };
  void run();
  void store(const Item& item, std::string& buffer);

  PrefetchOptions options_;
  std::atomic<fuse_session*> session_{nullptr};
  std::mutex mutex_;
  std::deque<Item> queue_;                                 // guarded by mutex_
  std::map<std::pair<uint64_t, uint32_t>, size_t> ahead_;  // (base, dir): next position to queue
  std::atomic<uint64_t> stored_{0};
  Worker worker_{"file-prefetch"};
};

}  // namespace regfs::view
