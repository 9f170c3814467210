#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include "fs/passthrough.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace regfs::view {
namespace {

// The kernel's side of the protocol (include/uapi/linux/fuse.h), as far as passthrough needs it.
namespace kernel {
constexpr uint32_t kOpInit = 26;
constexpr uint32_t kInitExt = 1u << 30;          // fuse_init_in/out.flags: flags2 is valid
constexpr uint32_t kPassthroughFlag2 = 1u << 5;  // FUSE_PASSTHROUGH (bit 37) in flags2
constexpr uint32_t kWritebackCache = 1u << 16;   // excludes passthrough
constexpr uint32_t kOpenPassthrough = 1u << 7;   // FOPEN_PASSTHROUGH
constexpr uint32_t kOpenKeepCache = 1u << 1;     // FOPEN_KEEP_CACHE, not allowed with it
struct InHeader {
  uint32_t len, opcode;
  uint64_t unique, nodeid;
  uint32_t uid, gid, pid;
  uint16_t totalExtlen, padding;
};
struct InitIn {
  uint32_t major, minor, maxReadahead, flags, flags2;
};
struct OutHeader {
  uint32_t len;
  int32_t error;
  uint64_t unique;
};
// The start of fuse_init_out up to max_stack_depth (libfuse's copy calls it unused[0]).
constexpr size_t kInitOutFlags = 12, kInitOutFlags2 = 32, kInitOutMaxStackDepth = 36;
struct OpenOut {
  uint64_t fh;
  uint32_t openFlags;
  int32_t backingId;
};
struct BackingMap {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
constexpr unsigned long kBackingOpen = _IOW(229, 1, BackingMap);
constexpr unsigned long kBackingClose = _IOW(229, 2, uint32_t);
static_assert(sizeof(InHeader) == 40 && sizeof(OutHeader) == 16 && sizeof(OpenOut) == 16);
}  // namespace kernel

// The OPEN reply this thread is sending, if it is to carry a backing id: fuse_reply_open
// writes it on the calling thread, through writev.
struct PendingOpen {
  uint64_t fh = 0;
  int32_t backingId = 0;
};
thread_local PendingOpen pendingOpen;

}  // namespace

// Step 1: the kernel's INIT request, seen as it is read. The kernel offers passthrough
// when it has it; we take it unless told not to.
void Passthrough::sawRequest(const void* buf, ssize_t size) {
  if (size < static_cast<ssize_t>(sizeof(kernel::InHeader) + sizeof(kernel::InitIn))) return;
  kernel::InHeader h;
  std::memcpy(&h, buf, sizeof h);
  if (h.opcode != kernel::kOpInit) return;
  kernel::InitIn init;
  std::memcpy(&init, static_cast<const char*>(buf) + sizeof h, sizeof init);
  initPending_ =
      wanted_ && (init.flags & kernel::kInitExt) && (init.flags2 & kernel::kPassthroughFlag2);
}

// Step 2: the INIT reply, on its way out: asks for passthrough.
void Passthrough::answerInit(std::string& out) {
  if (!initPending_.exchange(false) || out.size() < kernel::kInitOutMaxStackDepth + 4) return;
  uint32_t flags, flags2;
  std::memcpy(&flags, out.data() + kernel::kInitOutFlags, 4);
  std::memcpy(&flags2, out.data() + kernel::kInitOutFlags2, 4);
  if (flags & kernel::kWritebackCache) return;
  flags |= kernel::kInitExt;
  flags2 |= kernel::kPassthroughFlag2;
  uint32_t depth = 1;  // backing files on non-stacked file systems
  std::memcpy(out.data() + kernel::kInitOutFlags, &flags, 4);
  std::memcpy(out.data() + kernel::kInitOutFlags2, &flags2, 4);
  std::memcpy(out.data() + kernel::kInitOutMaxStackDepth, &depth, 4);
  active_ = true;
}

ssize_t Passthrough::writev(int fd, iovec* iov, int count) {
  if (count != 2 || iov[0].iov_len != sizeof(kernel::OutHeader)) return ::writev(fd, iov, count);
  kernel::OutHeader h;
  std::memcpy(&h, iov[0].iov_base, sizeof h);
  if (h.error != 0) return ::writev(fd, iov, count);
  // Step 3b: an OPEN reply that carries a backing id.
  if (pendingOpen.backingId > 0 && iov[1].iov_len == sizeof(kernel::OpenOut)) {
    kernel::OpenOut out;
    std::memcpy(&out, iov[1].iov_base, sizeof out);
    if (out.fh == pendingOpen.fh) {
      out.openFlags = (out.openFlags & ~kernel::kOpenKeepCache) | kernel::kOpenPassthrough;
      out.backingId = pendingOpen.backingId;
      iovec amended[2] = {iov[0], {&out, sizeof out}};
      return ::writev(fd, amended, 2);
    }
  }
  if (initPending_.load()) {
    std::string out(static_cast<const char*>(iov[1].iov_base), iov[1].iov_len);
    answerInit(out);
    iovec amended[2] = {iov[0], {out.data(), out.size()}};
    return ::writev(fd, amended, 2);
  }
  return ::writev(fd, iov, count);
}

// Step 3a, on open: the backing file of the inode.
int32_t Passthrough::acquire(uint64_t ino, int fd) {
  if (!active_.load()) return 0;
  std::lock_guard lock(mutex_);
  if (auto it = backings_.find(ino); it != backings_.end()) {
    ++it->second.opens;
    return it->second.id;
  }
  fuse_session* se = session_.load();
  if (!se) return 0;
  kernel::BackingMap map{fd, 0, 0};
  int id = ::ioctl(fuse_session_fd(se), kernel::kBackingOpen, &map);
  if (id <= 0) {
    if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOTTY) {
      active_ = false;  // for good: reads go through the daemon
      std::fprintf(stderr, "regfs-mount: reads go through the daemon (no passthrough: %s)\n",
                   std::strerror(errno));
    }
    return 0;
  }
  backings_[ino] = Backing{id, 1};
  return id;
}

void Passthrough::release(uint64_t ino) {
  std::lock_guard lock(mutex_);
  auto it = backings_.find(ino);
  if (it == backings_.end() || --it->second.opens > 0) return;
  if (fuse_session* se = session_.load()) {
    auto id = static_cast<uint32_t>(it->second.id);
    ::ioctl(fuse_session_fd(se), kernel::kBackingClose, &id);
  }
  backings_.erase(it);
}

int Passthrough::replyOpen(fuse_req* req, const fuse_file_info* fi, int32_t backingId) {
  pendingOpen = PendingOpen{fi->fh, backingId};
  int replied = fuse_reply_open(req, fi);
  pendingOpen = PendingOpen{};
  return replied;
}

}  // namespace regfs::view
