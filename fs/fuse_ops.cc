// fuse_lowlevel_ops over the view model, in the manner of libfuse's passthrough_hp:
// an inode table with lookup/forget counts, capabilities negotiated once in init, and
// reads answered by splicing straight from the blob's data file.

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include "fs/fuse_ops.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <memory>
#include <unordered_map>

#include "common/error.h"

namespace regfs::view {
namespace {

constexpr std::string_view kDigestXattr = "user.oci.digest";
constexpr std::string_view kMediaTypeXattr = "user.oci.mediaType";
constexpr double kFreshnessBound = 0.6;  // seconds

// What the kernel knows about one inode: how many lookups it holds and what the node
// was when last seen, so a file or symlink the store dropped meanwhile still answers
// until the kernel forgets it (both are immutable under their number).
struct InodeEntry {
  uint64_t nlookup = 0;
  Node node;  // without children
};

// An open directory: the snapshot it was listed from, so offsets stay meaningful.
struct DirHandle {
  std::shared_ptr<const Snapshot> snapshot;
  const Node* dir;
};

class ViewFs {
 public:
  ViewFs(View& view, const MountOptions& options)
      : view_(view), timeout_(std::chrono::duration<double>(options.cacheTimeout).count()),
        uid_(::getuid()), gid_(::getgid()) {}

  View& view() { return view_; }
  // How long the kernel may cache what `snap` says: never past kFreshnessBound after the
  // walk that built it started, so a change shows within that bound even when a request
  // was answered from a snapshot that predates it.
  double timeout(const Snapshot& snap) const {
    double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - snap.builtAt()).count();
    return std::clamp(kFreshnessBound - age, 0.0, timeout_);
  }
  struct stat attr(const Node& n) const { return statOf(n, uid_, gid_); }

  fuse_entry_param entry(const Node& n, const Snapshot& snap) {
    fuse_entry_param e;
    std::memset(&e, 0, sizeof e);
    e.ino = n.ino;
    e.attr = attr(n);
    e.attr_timeout = timeout(snap);
    e.entry_timeout = e.attr_timeout;
    return e;
  }

  // Counts one lookup of `n` by the kernel.
  void remember(const Node& n) {
    std::lock_guard lock(mutex_);
    InodeEntry& e = inodes_[n.ino];
    ++e.nlookup;
    if (e.nlookup == 1 || n.kind != NodeKind::kDirectory) copyWithoutChildren(n, e.node);
  }

  void forget(uint64_t ino, uint64_t n) {
    std::lock_guard lock(mutex_);
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) return;
    it->second.nlookup = it->second.nlookup > n ? it->second.nlookup - n : 0;
    if (it->second.nlookup == 0) inodes_.erase(it);
  }

  // Directory handles are owned here: the kernel sends no releasedir for those still open
  // when the session ends, and they are freed with the file system.
  DirHandle* openDir(std::shared_ptr<const Snapshot> snapshot, const Node* dir) {
    auto h = std::make_unique<DirHandle>(DirHandle{std::move(snapshot), dir});
    DirHandle* raw = h.get();
    std::lock_guard lock(mutex_);
    dirs_.emplace(raw, std::move(h));
    return raw;
  }
  void releaseDir(DirHandle* h) {
    std::lock_guard lock(mutex_);
    dirs_.erase(h);
  }

  // The node as the current snapshot has it, else as last seen for immutable kinds.
  std::optional<Node> find(uint64_t ino) {
    auto snap = view_.snapshot();
    if (const Node* n = snap->node(ino)) {
      Node out;
      copyWithoutChildren(*n, out);
      return out;
    }
    std::lock_guard lock(mutex_);
    auto it = inodes_.find(ino);
    if (it == inodes_.end() || it->second.node.kind == NodeKind::kDirectory) return std::nullopt;
    return it->second.node;
  }

 private:
  static void copyWithoutChildren(const Node& from, Node& to) {
    to.ino = from.ino;
    to.kind = from.kind;
    to.size = from.size;
    to.mtime = from.mtime;
    to.nlink = from.nlink;
    to.target = from.target;
    to.digest = from.digest;
    to.mediaType = from.mediaType;
  }

  View& view_;
  double timeout_;
  uid_t uid_;
  gid_t gid_;
  std::mutex mutex_;
  std::unordered_map<uint64_t, InodeEntry> inodes_;
  std::unordered_map<const DirHandle*, std::unique_ptr<DirHandle>> dirs_;
};

ViewFs& fs(fuse_req_t req) { return *static_cast<ViewFs*>(fuse_req_userdata(req)); }

// Runs one operation; a store failure becomes EIO (logged) instead of a dead daemon.
template <typename F>
void guarded(fuse_req_t req, const char* op, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "regfs-mount: %s: %s\n", op, e.what());
    fuse_reply_err(req, EIO);
  }
}

void opInit(void* userdata, fuse_conn_info* conn) {
  (void)userdata;
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
}

void opLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "lookup", [&] {
    ViewFs& f = fs(req);
    auto snap = f.view().snapshot();
    const Node* n = snap->child(parent, name);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    fuse_entry_param e = f.entry(*n, *snap);
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

void opGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  guarded(req, "getattr", [&] {
    ViewFs& f = fs(req);
    auto n = f.find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    struct stat st = f.attr(*n);
    fuse_reply_attr(req, &st, f.timeout(*f.view().snapshot()));
  });
}

void opReadlink(fuse_req_t req, fuse_ino_t ino) {
  guarded(req, "readlink", [&] {
    auto n = fs(req).find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
    } else if (n->kind != NodeKind::kSymlink) {
      fuse_reply_err(req, EINVAL);
    } else {
      fuse_reply_readlink(req, n->target.c_str());
    }
  });
}

void opOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "opendir", [&] {
    auto snap = fs(req).view().snapshot();
    const Node* dir = snap->node(ino);
    if (!dir) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (dir->kind != NodeKind::kDirectory) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    DirHandle* h = fs(req).openDir(snap, dir);
    fi->fh = reinterpret_cast<uint64_t>(h);
    fi->cache_readdir = 0;
    if (fuse_reply_open(req, fi) != 0) fs(req).releaseDir(h);
  });
}

void readdirCommon(fuse_req_t req, size_t size, off_t offset, fuse_file_info* fi, bool plus) {
  guarded(req, plus ? "readdirplus" : "readdir", [&] {
    ViewFs& f = fs(req);
    auto* h = reinterpret_cast<DirHandle*>(fi->fh);
    std::vector<char> buf(size);
    size_t used = 0;
    const auto& children = h->dir->children;
    // Entry i carries offset i + 1: the offset of the entry after it.
    for (size_t i = static_cast<size_t>(std::max<off_t>(offset, 0)); i < children.size(); ++i) {
      const Node* n = h->snapshot->node(children[i].second);
      if (!n) continue;
      const char* name = children[i].first.c_str();
      size_t room = size - used;
      off_t next = static_cast<off_t>(i + 1);
      size_t len;
      if (plus) {
        fuse_entry_param e = f.entry(*n, *h->snapshot);
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
    fuse_reply_buf(req, buf.data(), used);
  });
}

void opReaddir(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  readdirCommon(req, size, offset, fi, false);
}

void opReaddirplus(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  readdirCommon(req, size, offset, fi, true);
}

void opReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fs(req).releaseDir(reinterpret_cast<DirHandle*>(fi->fh));
  fuse_reply_err(req, 0);
}

void opOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "open", [&] {
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
      fuse_reply_err(req, EROFS);
      return;
    }
    ViewFs& f = fs(req);
    auto n = f.find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (n->kind != NodeKind::kFile) {
      fuse_reply_err(req, n->kind == NodeKind::kDirectory ? EISDIR : ELOOP);
      return;
    }
    auto path = f.view().store().localBlobPath(*n->digest);
    if (!path) {
      fuse_reply_err(req, EOPNOTSUPP);  // remote storage: no local file to splice from
      return;
    }
    int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fuse_reply_err(req, errno == ENOENT ? ENOENT : EIO);
      return;
    }
    fi->fh = static_cast<uint64_t>(fd);
    fi->keep_cache = 1;  // content is immutable under its inode number
    fi->noflush = 1;
    if (fuse_reply_open(req, fi) != 0) ::close(fd);
  });
}

void opRead(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  // FUSE_BUFVEC_INIT is a C compound literal; spelled out so C++ compilers accept it.
  fuse_bufvec buf{};
  buf.count = 1;
  buf.buf[0].size = size;
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = static_cast<int>(fi->fh);
  buf.buf[0].pos = offset;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void opRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ::close(static_cast<int>(fi->fh));
  fuse_reply_err(req, 0);
}

void replyXattr(fuse_req_t req, std::string_view value, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, value.size());
  } else if (size < value.size()) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

void opGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  guarded(req, "getxattr", [&] {
    auto n = fs(req).find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
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
  ops.releasedir = opReleasedir;
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

}  // namespace

int serveView(View& view, const MountOptions& options) {
  // Build the first snapshot before mounting, so a broken store fails here, not later.
  view.snapshot();
  ViewFs state(view, options);
  FuseArgs fa;
  std::string mountOptions = "ro,default_permissions,fsname=regfs,subtype=regfs";
  for (const std::string& o : options.fuseOptions) mountOptions += "," + o;
  for (const char* arg : {"regfs-mount", "-o", mountOptions.c_str()}) fuse_opt_add_arg(&fa.args, arg);
  if (options.debug) fuse_opt_add_arg(&fa.args, "-d");

  fuse_lowlevel_ops ops = makeOps();
  fuse_session* se = fuse_session_new(&fa.args, &ops, sizeof ops, &state);
  if (!se) return 2;  // libfuse has printed the reason (an unknown option)
  int status = 1;
  if (fuse_set_signal_handlers(se) == 0) {
    if (fuse_session_mount(se, options.mountpoint.c_str()) == 0) {
      fuse_daemonize(options.foreground ? 1 : 0);
      fuse_loop_config* config = fuse_loop_cfg_create();
      fuse_loop_cfg_set_clone_fd(config, 1);
      fuse_loop_cfg_set_max_threads(config, options.maxThreads);
      fuse_loop_cfg_set_idle_threads(config, options.maxThreads / 2);
      int rc = fuse_session_loop_mt(se, config);
      fuse_loop_cfg_destroy(config);
      fuse_session_unmount(se);
      // A signal ends the loop with its number: that is the normal way to stop.
      status = rc < 0 ? 1 : 0;
    } else {
      std::fprintf(stderr, "regfs-mount: cannot mount at %s\n", options.mountpoint.c_str());
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  return status;
}

}  // namespace regfs::view
