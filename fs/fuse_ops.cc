// fuse_lowlevel_ops over the view model, in the manner of libfuse's passthrough_hp:
// an inode table with lookup/forget counts, capabilities negotiated once in init, and
// reads of a local blob handed to the kernel (passthrough), else answered by splicing
// straight from the blob's data file. Requests for the files inside images go on to
// contents_ops.cc; the state both share is fuse_state.h.

#include "fs/fuse_ops.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/error.h"
#include "common/handles.h"
#include "common/unique_fd.h"
#include "fs/contents_ops.h"
#include "fs/fuse_state.h"
#include "fs/passthrough.h"
#include "fs/read_ahead.h"

namespace regfs::view {
namespace {

constexpr std::string_view kDigestXattr = "user.oci.digest";
constexpr std::string_view kMediaTypeXattr = "user.oci.mediaType";

// The device I/O of the session (fuse_session_custom_io): plain read, writev and splice,
// with the messages passthrough needs to see or amend handed to it.
ssize_t ioRead(int fd, void* buf, size_t len, void* userdata) {
  ssize_t n = ::read(fd, buf, len);
  static_cast<ViewFs*>(userdata)->passthrough().sawRequest(buf, n);
  return n;
}

ssize_t ioWritev(int fd, struct iovec* iov, int count, void* userdata) {
  return static_cast<ViewFs*>(userdata)->passthrough().writev(fd, iov, count);
}

ssize_t ioSplice(int fdIn, off_t* offIn, int fdOut, off_t* offOut, size_t len, unsigned int flags,
                 void*) {
  return ::splice(fdIn, offIn, fdOut, offOut, len, flags);
}

// The largest READ the kernel sends. libfuse splices a reply through a pipe it grows to the
// reply plus three pages, rounded up to a power of two: 2 MiB for the 1 MiB default, past
// pipe-max-size (1 MiB) unless the daemon is root of the initial user namespace, and past
// that limit libfuse copies each reply through a buffer of its own instead.
constexpr unsigned kMaxReadRequest = 512 << 10;

void opInit(void* userdata, fuse_conn_info* conn) {
  ViewFs& f = *static_cast<ViewFs*>(userdata);
  f.noOpendir = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
  f.initOpens(conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
  auto want = [&](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_SPLICE_WRITE);
  want(FUSE_CAP_SPLICE_MOVE);
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_ASYNC_READ);
  // A symlink's inode number includes its target, so its target never changes.
  want(FUSE_CAP_CACHE_SYMLINKS);
  // File contents never change under an inode number; nothing to invalidate on attr changes.
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  conn->time_gran = 1;
  // The view is read-only: libfuse 3.14 takes the kernel's max_pages, the largest request of
  // any kind, from max_write.
  conn->max_write = std::min(conn->max_write, kMaxReadRequest);
  // The kernel lowers the mount's read-ahead to this: not below what serveView set.
  conn->max_readahead = std::max(conn->max_readahead, f.readAheadBytes());
}

void opLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "lookup", [&] {
    ViewFs& f = fs(req);
    auto snap = f.view().snapshot();
    if (auto place = f.contentsPlace(*snap, parent)) {
      contentsLookup(req, f, *place, name);
      return;
    }
    const Node* n = snap->child(parent, name);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    fuse_entry_param e = f.entry(*n);
    f.remember(*n);
    if (fuse_reply_entry(req, &e) != 0) f.forget(n->ino, 1);
  });
}

void opForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  fs(req).forget(ino, nlookup);
  fuse_reply_none(req);
}

void opForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) fs(req).forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

// How long a GETATTR of a directory waits for the invalidations of the rebuild its snapshot
// came from. They take far less; the bound is for an invalidation that waits for an inode
// lock held by a request that waits in turn for a free daemon thread.
constexpr std::chrono::milliseconds kInvalidationWait{500};

void opGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  guarded(req, "getattr", [&] {
    ViewFs& f = fs(req);
    auto snap = f.view().snapshot();
    if (isContentsIno(ino)) {
      contentsGetattr(req, f, *snap, ino);
      return;
    }
    auto n = f.find(*snap, ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    // With default_permissions the kernel asks for a directory's attributes before it looks
    // up a name in it (once they expired), holding no inode lock: waiting here until the
    // kernel dropped what the rebuild found gone (a deleted manifest's directory, cached
    // long) makes the lookup that follows right. A lookup itself may not wait for that: the
    // kernel holds the directory's lock during it, and an invalidation takes that lock.
    if (n->kind == NodeKind::kDirectory) f.view().awaitListener(*snap, kInvalidationWait);
    struct stat st = f.attr(*n);
    fuse_reply_attr(req, &st, f.timeout(*n));
  });
}

void opReadlink(fuse_req_t req, fuse_ino_t ino) {
  guarded(req, "readlink", [&] {
    ViewFs& f = fs(req);
    if (isContentsIno(ino)) {
      contentsReadlink(req, f, ino);
      return;
    }
    auto n = f.find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
    } else if (n->kind != NodeKind::kSymlink) {
      fuse_reply_err(req, EINVAL);
    } else {
      fuse_reply_readlink(req, n->target.c_str());
    }
  });
}

// No OPENDIR/RELEASEDIR round trips: they were two per directory, most of what a second
// rsync cost. After the first ENOSYS the kernel opens directories itself and keeps every
// listing it reads until the directory's mtime changes or a rebuild invalidates it
// (invalidateChanges). Kernels without that support get an ordinary open.
void opOpendir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  if (fs(req).noOpendir) {
    fuse_reply_err(req, ENOSYS);
  } else {
    fuse_reply_open(req, fi);
  }
}

void readdirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, bool plus) {
  guarded(req, plus ? "readdirplus" : "readdir", [&] {
    ViewFs& f = fs(req);
    auto snap = f.listing(ino, offset);
    if (auto place = f.contentsPlace(*snap, ino)) {
      f.endListing(ino);
      contentsReaddir(req, f, *place, size, offset, plus);
      return;
    }
    const Node* dir = snap->node(ino);
    if (!dir) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (dir->kind != NodeKind::kDirectory) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    std::vector<char> buf(size);
    size_t used = 0;
    const auto& children = dir->children;
    // Entry i carries offset i + 1: the offset of the entry after it.
    for (size_t i = static_cast<size_t>(std::max<off_t>(offset, 0)); i < children.size(); ++i) {
      const Node* n = snap->node(children[i].second);
      if (!n) continue;
      const char* name = children[i].first.c_str();
      size_t room = size - used;
      off_t next = static_cast<off_t>(i + 1);
      size_t len;
      if (plus) {
        fuse_entry_param e = f.entry(*n);
        len = fuse_add_direntry_plus(req, buf.data() + used, room, name, &e, next);
        if (len > room) break;
        f.remember(*n);  // the kernel counts every entry of a readdirplus as a lookup
      } else {
        struct stat st = f.attr(*n);
        len = fuse_add_direntry(req, buf.data() + used, room, name, &st, next);
        if (len > room) break;
      }
      used += len;
    }
    if (used == 0) f.endListing(ino);
    fuse_reply_buf(req, buf.data(), used);
  });
}

void opReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  readdirCommon(req, ino, size, offset, false);
}

void opReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  readdirCommon(req, ino, size, offset, true);
}

// The blob file of `n` (a file node), to read from: the local blob's file, or the blob on
// remote storage. Throws Error(kBlobUnknown) when the store no longer has it.
std::unique_ptr<OpenFile> openBlob(ViewFs& f, const Node& n) {
  auto file = std::make_unique<OpenFile>();
  const Store& store = f.view().store();
  if (store.localBlobPath(*n.digest)) {
    file->fd = store.openLocalBlob(*n.digest);
  } else {
    // Remote storage: ranged reads through the driver, with a read-ahead window.
    if (!store.statBlob(*n.digest))
      throw Error(ErrorKind::kBlobUnknown, n.digest->str() + ": not in the store");
    file->store = &store;
    file->digest = *n.digest;
  }
  return file;
}

// Answers a failed openBlob: ENOENT for a blob gone from the store, else EIO (logged).
void replyOpenFailure(fuse_req_t req, const Error& e) {
  if (e.kind() == ErrorKind::kBlobUnknown) {
    fuse_reply_err(req, ENOENT);
  } else {
    logFailure("open", e);
    fuse_reply_err(req, EIO);
  }
}

// Each open of a file is an OPEN here and a RELEASE when closed, until the kernel is to open
// files alone (ViewFs::openInKernel, MountOptions::Opens): then an OPEN answers ENOSYS, which
// tells the kernel to open every file itself from then on. A program reading a tree of 30,000
// files inside an image then waits on no request of its own for files already in the page
// cache (fs/prefetch.h), where an OPEN each took as long as reading the tree on tmpfs. Reads
// then name the inode only (readByInode).
void opOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "open", [&] {
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
      fuse_reply_err(req, EROFS);
      return;
    }
    ViewFs& f = fs(req);
    if (f.openInKernel(isContentsIno(ino))) {
      fuse_reply_err(req, ENOSYS);
      return;
    }
    if (isContentsIno(ino)) {
      contentsOpen(req, f, ino, fi);
      return;
    }
    auto n = f.find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (n->kind != NodeKind::kFile) {
      fuse_reply_err(req, n->kind == NodeKind::kDirectory ? EISDIR : ELOOP);
      return;
    }
    std::unique_ptr<OpenFile> handle;
    try {
      handle = openBlob(f, *n);
    } catch (const Error& e) {
      replyOpenFailure(req, e);
      return;
    }
    int32_t backingId = 0;
    if (handle->fd) {
      backingId = f.passthrough().acquire(ino, handle->fd.get());
      if (backingId > 0) handle->passthroughIno = ino;
    }
    OpenFile* file = f.hold(std::move(handle));
    fi->fh = reinterpret_cast<uint64_t>(file);
    // Content is immutable under its inode number. (A passthrough file has no pages of
    // its own: the kernel reads the blob's.)
    fi->keep_cache = backingId > 0 ? 0 : 1;
    fi->noflush = 1;
    if (Passthrough::replyOpen(req, fi, backingId) != 0) {
      f.drop(file);  // the kernel never got it
      if (backingId > 0) f.passthrough().release(ino);
    }
  });
}

// A READ of an open blob file: spliced from the local file, or from the remote blob's window.
void readBlob(fuse_req_t req, OpenFile& file, size_t size, off_t offset) {
  if (file.store) {
    guarded(req, "read", [&] {
      std::string piece = file.read(static_cast<uint64_t>(offset), size);
      fuse_reply_buf(req, piece.data(), piece.size());
    });
    return;
  }
  // FUSE_BUFVEC_INIT is a C compound literal; spelled out so C++ compilers accept it.
  fuse_bufvec buf{};
  buf.count = 1;
  buf.buf[0].size = size;
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = file.fd.get();
  buf.buf[0].pos = offset;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

// A READ of a file the kernel opened itself (ViewFs::openInKernel): by its inode alone.
void readByInode(fuse_req_t req, ViewFs& f, fuse_ino_t ino, size_t size, off_t offset) {
  if (isContentsIno(ino)) {
    guarded(req, "read", [&] { contentsReadByInode(req, f, ino, size, offset); });
    return;
  }
  std::shared_ptr<OpenFile> file;
  try {
    // The node is looked up only for a blob not open yet.
    file = f.blobFile(ino, [&]() -> std::shared_ptr<OpenFile> {
      auto n = f.find(ino);
      if (!n || n->kind != NodeKind::kFile) return nullptr;
      return openBlob(f, *n);
    });
    if (!file) {
      fuse_reply_err(req, ENOENT);
      return;
    }
  } catch (const std::exception& e) {
    // A blob gone since the kernel opened its file is a failed read, as on a local file
    // system whose disk lost it.
    logFailure("read", e);
    fuse_reply_err(req, EIO);
    return;
  }
  readBlob(req, *file, size, offset);
}

void opRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
  auto* file = reinterpret_cast<OpenFile*>(fi->fh);
  if (!file) {
    readByInode(req, fs(req), ino, size, offset);
  } else if (file->contents) {
    guarded(req, "read", [&] { contentsRead(req, *file->contents, size, offset); });
  } else {
    readBlob(req, *file, size, offset);
  }
}

void opRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  // fh 0: a file whose OPEN answered ENOSYS (the kernel releases the first of them).
  if (auto* file = reinterpret_cast<OpenFile*>(fi->fh)) {
    if (file->passthroughIno) fs(req).passthrough().release(file->passthroughIno);
    fs(req).drop(file);
  }
  fuse_reply_err(req, 0);
}

void opGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  guarded(req, "getxattr", [&] {
    if (isContentsIno(ino)) {
      contentsGetxattr(req, fs(req), ino, name, size);
      return;
    }
    auto n = fs(req).find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
    } else if (!std::string_view(name).starts_with(kUserXattrPrefix)) {
      // No security labels or ACLs here. ENOTSUP (not ENODATA) tells ls -l to stop
      // asking for every file on this mount: each answer is a round trip, never cached.
      fuse_reply_err(req, EOPNOTSUPP);
    } else if (n->kind == NodeKind::kFile && name == kDigestXattr) {
      replyXattr(req, n->digest->str(), size);
    } else if (n->kind == NodeKind::kFile && name == kMediaTypeXattr && !n->mediaType.empty()) {
      replyXattr(req, n->mediaType, size);
    } else {
      fuse_reply_err(req, ENODATA);
    }
  });
}

void opListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  guarded(req, "listxattr", [&] {
    if (isContentsIno(ino)) {
      contentsListxattr(req, fs(req), ino, size);
      return;
    }
    auto n = fs(req).find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    std::string names;
    if (n->kind == NodeKind::kFile) {
      names.append(kDigestXattr).push_back('\0');
      if (!n->mediaType.empty()) names.append(kMediaTypeXattr).push_back('\0');
    }
    replyXattr(req, names, size);
  });
}

void opStatfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs st;
  std::memset(&st, 0, sizeof st);
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  st.f_namemax = 255;
  st.f_flag = ST_RDONLY;
  fuse_reply_statfs(req, &st);
}

fuse_lowlevel_ops makeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = opInit;
  ops.lookup = opLookup;
  ops.forget = opForget;
  ops.forget_multi = opForgetMulti;
  ops.getattr = opGetattr;
  ops.readlink = opReadlink;
  ops.opendir = opOpendir;
  ops.readdir = opReaddir;
  ops.readdirplus = opReaddirplus;
  ops.open = opOpen;
  ops.read = opRead;
  ops.release = opRelease;
  ops.getxattr = opGetxattr;
  ops.listxattr = opListxattr;
  ops.statfs = opStatfs;
  return ops;
}

// RAII over the libfuse objects, torn down in reverse order.
struct FuseArgs {
  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  ~FuseArgs() { fuse_opt_free_args(&args); }
};
using FuseSession = CPtr<fuse_session, fuse_session_destroy>;
using FuseLoopConfig = CPtr<fuse_loop_config, fuse_loop_cfg_destroy>;

// Serves requests until the session ends; the loop's config is gone when this returns.
int runLoop(fuse_session* se, const MountOptions& options) {
  FuseLoopConfig config(fuse_loop_cfg_create());
  fuse_loop_cfg_set_clone_fd(config.get(), 1);
  fuse_loop_cfg_set_max_threads(config.get(), options.maxThreads);
  fuse_loop_cfg_set_idle_threads(config.get(), options.maxThreads / 2);
  return fuse_session_loop_mt(se, config.get());
}

}  // namespace

int serveView(View& view, const MountOptions& options) {
  // Build the first snapshot before mounting, so a broken store fails here, not later.
  view.snapshot();
  ViewFs state(view, options);
  FuseArgs fa;
  std::string mountOptions = "ro,default_permissions,fsname=regfs,subtype=regfs";
  for (const std::string& o : options.fuseOptions) mountOptions += "," + o;
  for (const char* arg : {"regfs-mount", "-o", mountOptions.c_str()})
    fuse_opt_add_arg(&fa.args, arg);
  if (options.debug) fuse_opt_add_arg(&fa.args, "-d");

  // Resolved now: once mounted, a look at the mount point is a request to this daemon.
  std::error_code ec;
  std::string mountpoint = std::filesystem::canonical(options.mountpoint, ec).string();
  if (ec) mountpoint = options.mountpoint;
  fuse_lowlevel_ops ops = makeOps();
  // Destroyed last, after the teardown below has unmounted it.
  FuseSession session(fuse_session_new(&fa.args, &ops, sizeof ops, &state));
  if (!session) return 2;  // libfuse has printed the reason (an unknown option)
  fuse_session* se = session.get();
  int status = 1;
  if (fuse_set_signal_handlers(se) == 0) {
    if (fuse_session_mount(se, options.mountpoint.c_str()) == 0) {
      // With the kernel's 128 KiB read-ahead, a sequential read through the daemon waits for
      // a round trip every 128 KiB. Best effort: only root may raise it.
      std::string why;
      if (options.readAheadKib > 0 && !setReadAhead(mountpoint, options.readAheadKib, why) &&
          options.debug) {
        std::fprintf(stderr, "regfs-mount: read-ahead stays the kernel's: %s\n", why.c_str());
      }
      fuse_daemonize(options.foreground ? 1 : 0);
      view.startBackground();  // threads only now, in the process that serves
      if (options.opens != MountOptions::Opens::kKernel) {
        // Before the loop reads the kernel's INIT request.
        fuse_custom_io io{};
        io.read = ioRead;
        io.writev = ioWritev;
        io.splice_send = ioSplice;
        if (fuse_session_custom_io(se, &io, fuse_session_fd(se)) != 0) {
          std::fprintf(stderr, "regfs-mount: reads go through the daemon (no passthrough)\n");
        }
      }
      state.attach(se);
      view.onRebuild([&state](const Snapshot& before, const Snapshot& after) {
        state.invalidateChanges(before, after);
      });
      int rc = runLoop(se, options);
      // In this order: an invalidation in progress may wait for a request nobody will
      // read now; unmounting ends those requests, and with them the wait.
      state.detach();
      fuse_session_unmount(se);
      state.stop();
      view.onRebuild(nullptr);
      // A signal ends the loop with its number: that is the normal way to stop.
      status = rc < 0 ? 1 : 0;
    } else {
      std::fprintf(stderr, "regfs-mount: cannot mount at %s\n", options.mountpoint.c_str());
    }
    fuse_remove_signal_handlers(se);
  }
  return status;
}

}  // namespace regfs::view
