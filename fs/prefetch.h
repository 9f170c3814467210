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
// backwards queues nothing). Best effort: a file the kernel has forgotten is not stored; a
// layer that fails to read is left for the READ to report.
//
// A reader that catches up with the read-ahead sends a READ for a file queued or being read
// here. The READ takes a queued file from the queue and reads it itself (a second reader of
// the layer beside this one), and waits for one being read here and answers with its bytes
// (take()), so no file is decompressed twice.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

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

  // A READ of file `ino` (contents.h) missed the page cache. The file's bytes when the
  // read-ahead was reading it (after waiting for them); nullptr when the caller is to read the
  // file itself, and then the read-ahead leaves it alone.
  std::shared_ptr<const std::string> take(uint64_t ino);

  // Files stored into the page cache so far, and files whose READ took their bytes from
  // the read-ahead (for tests and debugging).
  uint64_t stored() const { return stored_.load(); }
  uint64_t handedOver() const { return handedOver_.load(); }

 private:
  // A file queued: kQueued until the thread starts on it (or a READ takes it), kReading
  // while it decompresses, then kDone (`data` holds its bytes, or `failed`).
  struct Fill {
    enum State { kQueued, kTaken, kReading, kDone } state = kQueued;
    bool failed = false;
    bool claimed = false;  // a READ waits for `data`: the READ answers, nothing is stored
    std::string data;
  };
  struct Item {
    std::shared_ptr<const FileTree> tree;
    uint64_t base = 0;
    uint32_t n = 0;
    std::shared_ptr<Fill> fill;
  };
  void run();
  void store(const Item& item);
  // Reads the file of `item` into item.fill->data; false when its layer failed to read.
  static bool readFile(const Item& item);

  PrefetchOptions options_;
  std::atomic<fuse_session*> session_{nullptr};
  std::mutex mutex_;
  std::condition_variable filled_;                             // a Fill became kDone
  std::deque<Item> queue_;                                     // guarded by mutex_
  std::unordered_map<uint64_t, std::shared_ptr<Fill>> fills_;  // by inode; guarded by mutex_
  std::map<std::pair<uint64_t, uint32_t>, size_t> ahead_;  // (base, dir): next position to queue
  std::atomic<uint64_t> stored_{0};
  std::atomic<uint64_t> handedOver_{0};
  Worker worker_{"file-prefetch"};
};

}  // namespace regfs::view
