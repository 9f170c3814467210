#pragma once
// FUSE passthrough (Linux 6.9): the kernel reads an open file straight from a backing file
// of ours, through the backing file system's own page cache, so a read through the view
// costs what a read of the blob costs. Debian's libfuse (3.14) predates it, so the three
// pieces of kernel ABI it needs live here, applied to the messages libfuse exchanges with
// the kernel (through fuse_session_custom_io): the capability in the INIT reply, a backing
// file registered on the device (root only), and its id in an OPEN reply. This file is the
// whole workaround: it goes when libfuse has passthrough of its own (3.16).

#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

struct fuse_session;
struct fuse_req;
struct fuse_file_info;

namespace regfs::view {

class Passthrough {
 public:
  // `wanted`: take passthrough when the kernel offers it.
  explicit Passthrough(bool wanted) : wanted_(wanted) {}

  // The session whose device backing files are registered on; nullptr once unmounting.
  void attach(fuse_session* se) { session_.store(se); }

  // The session's device I/O, called by the adapter's fuse_custom_io: every message the
  // kernel sends (`read`, to see its INIT request) and every reply (`writev`, which amends
  // the INIT reply and OPEN replies that carry a backing id).
  void sawRequest(const void* buf, ssize_t size);
  ssize_t writev(int fd, iovec* iov, int count);

  // Registers `fd`, the blob of inode `ino`, as the backing file of the inode, or shares
  // the one its open files already have (the kernel wants one per inode). Returns the
  // backing id, or 0: no passthrough for this open (the kernel refused: only root may
  // register backing files), which then reads through the daemon.
  int32_t acquire(uint64_t ino, int fd);
  // When an open file of `ino` that had a backing id is released.
  void release(uint64_t ino);

  // fuse_reply_open, carrying `backingId` when it is nonzero (the kernel then reads the
  // file from its backing file and keeps no pages of its own for it).
  static int replyOpen(fuse_req* req, const fuse_file_info* fi, int32_t backingId);

 private:
  // The INIT reply (a fuse_init_out), amended to ask for passthrough.
  void answerInit(std::string& out);

  bool wanted_;
  std::atomic<bool> initPending_{false};
  std::atomic<bool> active_{false};
  std::atomic<fuse_session*> session_{nullptr};
  struct Backing {
    int32_t id;
    uint64_t opens;
  };
  std::mutex mutex_;
  std::unordered_map<uint64_t, Backing> backings_;  // by inode, under mutex_
};

}  // namespace regfs::view
