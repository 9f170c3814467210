// fuse_lowlevel_ops over the view model, in the manner of libfuse's passthrough_hp:
// an inode table with lookup/forget counts, capabilities negotiated once in init, and
// reads of a local blob handed to the kernel (passthrough), else answered by splicing
// straight from the blob's data file.

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include "fs/fuse_ops.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "common/error.h"
#include "common/layers/file_reader.h"
#include "common/unique_fd.h"
#include "fs/passthrough.h"
#include "fs/prefetch.h"
#include "fs/read_ahead.h"

namespace regfs::view {
namespace {

constexpr std::string_view kUserXattrPrefix = "user.";
constexpr std::string_view kDigestXattr = "user.oci.digest";
constexpr std::string_view kMediaTypeXattr = "user.oci.mediaType";
// Inside images: the layer that supplied an entry, and the entry's own extended attributes
// from its tar header: "user.*" as they are, every other one (security.capability, trusted.*)
// under this prefix, since the mount stores and enforces none of them.
constexpr std::string_view kLayerXattr = "user.oci.layer";
constexpr std::string_view kForeignXattrPrefix = "user.regfs.xattr.";

// The name an entry's tar xattr `name` has on the mount.
std::string shownXattrName(const std::string& name) {
  if (name.starts_with(kUserXattrPrefix)) return name;
  return std::string(kForeignXattrPrefix) + name;
}

// A file inside an image, open: read through its layer's index.
struct ContentsFile {
  std::shared_ptr<const FileTree> tree;  // holds the layer's index and readers
  std::unique_ptr<layers::FileReader> reader;
  std::mutex mutex;  // one read at a time: the reader keeps its place in the stream
};

// An open layer file: a local file spliced from, or a blob on remote storage read in
// ranges, the last window kept (kReadAhead bytes: the one cache a handle holds).
struct OpenFile {
  static constexpr uint64_t kReadAhead = 4 << 20;

  UniqueFd fd;
  uint64_t passthroughIno = 0;   // nonzero: the kernel reads it from a backing file
  const Store* store = nullptr;  // the view's, which outlives every open file
  std::optional<Digest> digest;
  std::mutex mutex;
  uint64_t windowStart = 0;
  std::string window;
  std::unique_ptr<ContentsFile> contents;  // a file inside an image

  std::string read(uint64_t offset, size_t size) {
    std::lock_guard lock(mutex);
    bool inside = offset >= windowStart && offset + size <= windowStart + window.size();
    if (!inside) {
      window = store->readBlobRange(*digest, offset, std::max<uint64_t>(size, kReadAhead));
      windowStart = offset;
    }
    if (offset - windowStart >= window.size()) return {};
    return window.substr(offset - windowStart, size);
  }
};

// What the kernel knows about one inode: how many lookups it holds and what the node
// was when last seen, so a file or symlink the store dropped meanwhile still answers
// until the kernel forgets it (both are immutable under their number).
struct InodeEntry {
  uint64_t nlookup = 0;
  Node node;  // without children
};

class ViewFs {
 public:
  ViewFs(View& view, const MountOptions& options)
      : view_(view),
        passthrough_(options.passthrough),
        readAheadBytes_(options.readAheadKib * 1024),
        timeout_(std::chrono::duration<double>(options.cacheTimeout).count()),
        stableTimeout_(std::chrono::duration<double>(options.stableCacheTimeout).count()),
        uid_(::getuid()),
        gid_(::getgid()) {}

  View& view() { return view_; }
  Passthrough& passthrough() { return passthrough_; }
  unsigned readAheadBytes() const { return readAheadBytes_; }
  bool noOpendir = false;  // set once, in init, before any other request
  // How long the kernel may cache what we say of `n`: long for a stable node, briefly for
  // the others. Either way, what a rebuild finds changed is invalidated at once
  // (invalidateChanges); the view keeps rebuilding while the kernel may hold a brief
  // answer (ViewOptions::pollAfterAccess), and a stable one can change only in a file's
  // st_nlink. A manifest directory's name can go (a delete), yet it is cached long too:
  // with default_permissions every lookup in a directory first refreshes the directory's
  // attributes once they expire (a second for a repository), so after an idle spell the
  // first lookup there starts with a GETATTR of the directory, which waits until the rebuild
  // it asked for has invalidated the names that went (opGetattr).
  double timeout(const Node& n) const { return n.stable ? stableTimeout_ : timeout_; }
  struct stat attr(const Node& n) const {
    return statOf(n, uid_, gid_);
  }

  fuse_entry_param entry(const Node& n) {
    fuse_entry_param e;
    std::memset(&e, 0, sizeof e);
    e.ino = n.ino;
    e.attr = attr(n);
    e.attr_timeout = timeout(n);
    e.entry_timeout = e.attr_timeout;
    return e;
  }

  // The snapshot to list directory `ino` from. A listing comes in chunks, and the offset
  // of the next chunk is an index into the directory's entries, so the chunks after the
  // first use the snapshot the first one used. (Without OPENDIR there is no handle to keep
  // it in; the most recent listings' snapshots are kept here.)
  std::shared_ptr<const Snapshot> listing(uint64_t ino, off_t offset) {
    if (offset > 0) {
      std::lock_guard lock(mutex_);
      if (auto it = listings_.find(ino); it != listings_.end()) return it->second;
    }
    auto snap = view_.snapshot();
    std::lock_guard lock(mutex_);
    if (listings_.size() >= kMaxListings) listings_.clear();  // abandoned listings
    listings_[ino] = snap;
    return snap;
  }
  void endListing(uint64_t ino) {
    std::lock_guard lock(mutex_);
    listings_.erase(ino);
  }

  // Once mounted, rebuilds of the view tell the kernel what changed.
  void attach(fuse_session* se) {
    session_.store(se);
    passthrough_.attach(se);
    prefetcher_.attach(se);
  }
  // Before unmounting: nothing is sent to the kernel from now on.
  void detach() {
    session_.store(nullptr);
    passthrough_.attach(nullptr);
    prefetcher_.release();
  }
  // After unmounting, before the session goes: the threads that send to it have ended.
  void stop() { prefetcher_.stop(); }
  FilePrefetcher& prefetcher() { return prefetcher_; }

  // Drops what the kernel caches of nodes that changed between two snapshots: the
  // attributes of files and symlinks (their content is immutable under their inode
  // number); the attributes and cached listing of a directory, and its names that now
  // lead elsewhere or nowhere (a moved tag, a deleted manifest).
  void invalidateChanges(const Snapshot& before, const Snapshot& after) {
    fuse_session* se = session_.load();
    if (!se) return;
    struct Change {
      uint64_t ino;
      bool isDirectory;
      std::vector<std::string> goneNames;
    };
    std::vector<Change> known;
    {
      std::lock_guard lock(mutex_);
      for (uint64_t ino : after.changedSince(before)) {
        if (ino != kRootIno && !inodes_.contains(ino)) continue;  // the kernel has not seen it
        const Node& now = *after.node(ino);
        Change c{ino, now.kind == NodeKind::kDirectory, {}};
        if (c.isDirectory) {
          for (const auto& [name, childIno] : before.node(ino)->children) {
            const Node* child = after.child(ino, name);
            if (!child || child->ino != childIno) c.goneNames.push_back(name);
          }
        }
        known.push_back(std::move(c));
      }
    }
    // Outside the lock: the kernel may wait for requests in progress that need it.
    for (const Change& c : known) {
      for (const std::string& name : c.goneNames) {
        fuse_lowlevel_notify_inval_entry(se, c.ino, name.c_str(), name.size());
      }
      fuse_lowlevel_notify_inval_inode(se, c.ino, c.isDirectory ? 0 : -1, 0);
    }
  }

  // A place inside a tree of files from layers (contents.h) the kernel may ask about.
  struct ContentsPlace {
    std::shared_ptr<const ContentsRoot> root;
    uint64_t base = 0;  // the snapshot directory showing the tree
    uint32_t n = 0;     // the inode in the tree
    timespec impliedMtime{};
    // Where the kernel found it: child number `position` of directory `parent` (kNone for
    // a tree's root).
    uint32_t parent = layers::Inode::kNone;
    uint32_t position = 0;
  };

  // The contents place `ino` is: a snapshot directory showing a tree (its root), or an inode
  // below one that the kernel holds. nullopt for everything else.
  std::optional<ContentsPlace> contentsPlace(const Snapshot& snap, uint64_t ino) {
    if (!isContentsIno(ino)) {
      const Node* n = snap.node(ino);
      if (!n || !n->contents) return std::nullopt;
      return ContentsPlace{n->contents, ino, layers::FsTree::kRoot, n->mtime};
    }
    std::lock_guard lock(mutex_);
    auto it = contentsInodes_.find(ino);
    if (it == contentsInodes_.end()) return std::nullopt;
    return it->second.second;
  }

  // The tree a place is in; throws Error(kIo) (EIO) for one that cannot be shown.
  std::shared_ptr<const FileTree> treeOf(const ContentsPlace& place) {
    auto tree = view_.contents().tree(*place.root);
    if (!tree->error.empty()) throw Error(ErrorKind::kIo, tree->error);
    return tree;
  }

  fuse_entry_param contentsEntry(const FileTree& tree, const ContentsPlace& place) {
    fuse_entry_param e;
    std::memset(&e, 0, sizeof e);
    e.ino = contentsIno(place.base, place.n);
    e.attr = contentsStat(tree, place.n, e.ino, place.impliedMtime);
    e.attr_timeout = stableTimeout_;  // contents derive from digests alone
    e.entry_timeout = stableTimeout_;
    return e;
  }

  // Counts one lookup of a place inside a tree by the kernel.
  void rememberContents(uint64_t ino, const ContentsPlace& place) {
    std::lock_guard lock(mutex_);
    auto& [nlookup, known] = contentsInodes_[ino];
    if (nlookup++ == 0) known = place;
  }

  double stableTimeout() const { return stableTimeout_; }

  // Counts one lookup of `n` by the kernel.
  void remember(const Node& n) {
    std::lock_guard lock(mutex_);
    InodeEntry& e = inodes_[n.ino];
    ++e.nlookup;
    if (e.nlookup == 1 || n.kind != NodeKind::kDirectory) copyWithoutChildren(n, e.node);
  }

  void forget(uint64_t ino, uint64_t n) {
    std::lock_guard lock(mutex_);
    if (isContentsIno(ino)) {
      auto it = contentsInodes_.find(ino);
      if (it == contentsInodes_.end()) return;
      it->second.first = it->second.first > n ? it->second.first - n : 0;
      if (it->second.first == 0) contentsInodes_.erase(it);
      return;
    }
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) return;
    it->second.nlookup = it->second.nlookup > n ? it->second.nlookup - n : 0;
    if (it->second.nlookup == 0) inodes_.erase(it);
  }

  // The node as the current snapshot has it, else as last seen for immutable kinds.
  std::optional<Node> find(uint64_t ino) { return find(*view_.snapshot(), ino); }
  // The same in `snap`.
  std::optional<Node> find(const Snapshot& snap, uint64_t ino) {
    if (const Node* n = snap.node(ino)) {
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
    to.stable = from.stable;
  }

  View& view_;
  Passthrough passthrough_;
  unsigned readAheadBytes_;
  double timeout_;
  double stableTimeout_;
  std::atomic<fuse_session*> session_{nullptr};
  FilePrefetcher prefetcher_;
  uid_t uid_;
  gid_t gid_;
  std::mutex mutex_;
  std::unordered_map<uint64_t, InodeEntry> inodes_;
  // Places inside trees of files the kernel holds, with its lookup count; guarded by mutex_.
  std::unordered_map<uint64_t, std::pair<uint64_t, ContentsPlace>> contentsInodes_;
  static constexpr size_t kMaxListings = 256;
  std::unordered_map<uint64_t, std::shared_ptr<const Snapshot>> listings_;
};

ViewFs& fs(fuse_req_t req) { return *static_cast<ViewFs*>(fuse_req_userdata(req)); }

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

// The largest READ the kernel sends. libfuse splices a reply through a pipe it grows to the
// reply plus three pages, rounded up to a power of two: 2 MiB for the 1 MiB default, past
// pipe-max-size (1 MiB) unless the daemon is root of the initial user namespace, and past
// that limit libfuse copies each reply through a buffer of its own instead.
constexpr unsigned kMaxReadRequest = 512 << 10;

void opInit(void* userdata, fuse_conn_info* conn) {
  ViewFs& f = *static_cast<ViewFs*>(userdata);
  f.noOpendir = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
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

// LOOKUP below a contents directory: a name in the tree of files from layers.
void contentsLookup(fuse_req_t req, ViewFs& f, const ViewFs::ContentsPlace& parent,
                    const char* name) {
  auto tree = f.treeOf(parent);
  const auto& children = tree->tree.inode(parent.n).children;
  std::string_view wanted(name);
  auto it = std::lower_bound(children.begin(), children.end(), wanted,
                             [](const auto& child, std::string_view n) { return child.first < n; });
  if (it == children.end() || it->first != wanted) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  ViewFs::ContentsPlace place = parent;
  place.n = it->second;
  place.parent = parent.n;
  place.position = static_cast<uint32_t>(it - children.begin());
  fuse_entry_param e = f.contentsEntry(*tree, place);
  f.rememberContents(e.ino, place);
  if (fuse_reply_entry(req, &e) != 0) f.forget(e.ino, 1);
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
      auto place = f.contentsPlace(*snap, ino);
      if (!place) {
        fuse_reply_err(req, ENOENT);
        return;
      }
      fuse_entry_param e = f.contentsEntry(*f.treeOf(*place), *place);
      fuse_reply_attr(req, &e.attr, e.attr_timeout);
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
      auto place = f.contentsPlace(*f.view().snapshot(), ino);
      if (!place) {
        fuse_reply_err(req, ENOENT);
        return;
      }
      auto tree = f.treeOf(*place);
      const layers::Entry* e = tree->entry(place->n);
      if (!e || e->type != layers::EntryType::kSymlink) {
        fuse_reply_err(req, EINVAL);
      } else {
        fuse_reply_readlink(req, e->linkTarget.c_str());
      }
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

// READDIR(PLUS) of a directory in a tree of files from layers. The tree never changes, so
// every chunk of a listing reads the same entries.
void contentsReaddir(fuse_req_t req, ViewFs& f, const ViewFs::ContentsPlace& dir, size_t size,
                     off_t offset, bool plus) {
  auto tree = f.treeOf(dir);
  const layers::Inode& inode = tree->tree.inode(dir.n);
  const layers::Entry* e = tree->entry(dir.n);
  if (e && e->type != layers::EntryType::kDirectory) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  std::vector<char> buf(size);
  size_t used = 0;
  for (size_t i = static_cast<size_t>(std::max<off_t>(offset, 0)); i < inode.children.size(); ++i) {
    ViewFs::ContentsPlace place = dir;
    place.n = inode.children[i].second;
    place.parent = dir.n;
    place.position = static_cast<uint32_t>(i);
    fuse_entry_param entry = f.contentsEntry(*tree, place);
    const char* name = inode.children[i].first.c_str();
    size_t room = size - used;
    off_t next = static_cast<off_t>(i + 1);
    size_t len;
    if (plus) {
      len = fuse_add_direntry_plus(req, buf.data() + used, room, name, &entry, next);
      if (len > room) break;
      f.rememberContents(entry.ino, place);
    } else {
      len = fuse_add_direntry(req, buf.data() + used, room, name, &entry.attr, next);
      if (len > room) break;
    }
    used += len;
  }
  fuse_reply_buf(req, buf.data(), used);
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

// OPEN of a file inside an image: a reader of its layer's stream, from the layer's index.
void contentsOpen(fuse_req_t req, ViewFs& f, fuse_ino_t ino, fuse_file_info* fi) {
  auto place = f.contentsPlace(*f.view().snapshot(), ino);
  if (!place) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  auto file = std::make_unique<ContentsFile>();
  file->tree = f.treeOf(*place);
  const layers::Entry* e = file->tree->entry(place->n);
  if (!e || e->type != layers::EntryType::kRegular) {
    fuse_reply_err(req, e && e->type == layers::EntryType::kDirectory ? EISDIR : EACCES);
    return;
  }
  file->reader = std::make_unique<layers::FileReader>(file->tree->streamOf(place->n), *e);
  auto handle = std::make_unique<OpenFile>();
  handle->contents = std::move(file);
  fi->fh = reinterpret_cast<uint64_t>(handle.get());
  fi->keep_cache = 1;  // immutable under its inode number
  fi->noflush = 1;
  std::shared_ptr<const FileTree> tree = handle->contents->tree;
  if (fuse_reply_open(req, fi) != 0) return;
  static_cast<void>(handle.release());
  if (place->parent != layers::Inode::kNone)
    f.prefetcher().opened(tree, place->base, place->parent, place->position);
}

void opOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "open", [&] {
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
      fuse_reply_err(req, EROFS);
      return;
    }
    ViewFs& f = fs(req);
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
    auto handle = std::make_unique<OpenFile>();
    int32_t backingId = 0;
    if (f.view().store().localBlobPath(*n->digest)) {
      try {
        handle->fd = f.view().store().openLocalBlob(*n->digest);
      } catch (const Error& e) {
        fuse_reply_err(req, e.kind() == ErrorKind::kBlobUnknown ? ENOENT : EIO);
        return;
      }
      backingId = f.passthrough().acquire(ino, handle->fd.get());
      if (backingId > 0) handle->passthroughIno = ino;
    } else {
      // Remote storage: ranged reads through the driver, with a read-ahead window.
      if (!f.view().store().statBlob(*n->digest)) {
        fuse_reply_err(req, ENOENT);
        return;
      }
      handle->store = &f.view().store();
      handle->digest = *n->digest;
    }
    fi->fh = reinterpret_cast<uint64_t>(handle.get());
    // Content is immutable under its inode number. (A passthrough file has no pages of
    // its own: the kernel reads the blob's.)
    fi->keep_cache = backingId > 0 ? 0 : 1;
    fi->noflush = 1;
    if (Passthrough::replyOpen(req, fi, backingId) == 0) {
      static_cast<void>(handle.release());  // the kernel holds it as fi->fh until opRelease
    } else if (backingId > 0) {
      f.passthrough().release(ino);
    }
  });
}

void opRead(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  auto* file = reinterpret_cast<OpenFile*>(fi->fh);
  if (file->contents) {
    guarded(req, "read", [&] {
      ContentsFile& c = *file->contents;
      std::vector<char> buf(size);
      size_t n;
      {
        std::lock_guard lock(c.mutex);
        n = c.reader->read(static_cast<uint64_t>(offset), buf.data(), size);
      }
      fuse_reply_buf(req, buf.data(), n);
    });
    return;
  }
  if (file->store) {
    guarded(req, "read", [&] {
      std::string piece = file->read(static_cast<uint64_t>(offset), size);
      fuse_reply_buf(req, piece.data(), piece.size());
    });
    return;
  }
  // FUSE_BUFVEC_INIT is a C compound literal; spelled out so C++ compilers accept it.
  fuse_bufvec buf{};
  buf.count = 1;
  buf.buf[0].size = size;
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = file->fd.get();
  buf.buf[0].pos = offset;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void opRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  auto* file = reinterpret_cast<OpenFile*>(fi->fh);
  if (file->passthroughIno) fs(req).passthrough().release(file->passthroughIno);
  delete file;
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

// The extended attributes of an entry inside an image, by the names the mount shows.
std::vector<std::pair<std::string, std::string>> contentsXattrs(ViewFs& f, fuse_ino_t ino) {
  auto place = f.contentsPlace(*f.view().snapshot(), ino);
  if (!place) throw Error(ErrorKind::kNotFound, "no such inode");
  auto tree = f.treeOf(*place);
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back(kLayerXattr, tree->layerOf(place->n).str());
  if (const layers::Entry* e = tree->entry(place->n)) {
    for (const auto& [name, value] : e->xattrs) out.emplace_back(shownXattrName(name), value);
  }
  return out;
}

void opGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  guarded(req, "getxattr", [&] {
    if (isContentsIno(ino) && !std::string_view(name).starts_with(kUserXattrPrefix)) {
      fuse_reply_err(req, EOPNOTSUPP);  // as for the rest of the view
      return;
    }
    if (isContentsIno(ino)) {
      for (const auto& [shown, value] : contentsXattrs(fs(req), ino)) {
        if (shown == name) return replyXattr(req, value, size);
      }
      fuse_reply_err(req, ENODATA);
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
      std::string names;
      for (const auto& [shown, value] : contentsXattrs(fs(req), ino))
        names.append(shown).push_back('\0');
      replyXattr(req, names, size);
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
  fuse_session* se = fuse_session_new(&fa.args, &ops, sizeof ops, &state);
  if (!se) return 2;  // libfuse has printed the reason (an unknown option)
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
      if (options.passthrough) {
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
      fuse_loop_config* config = fuse_loop_cfg_create();
      fuse_loop_cfg_set_clone_fd(config, 1);
      fuse_loop_cfg_set_max_threads(config, options.maxThreads);
      fuse_loop_cfg_set_idle_threads(config, options.maxThreads / 2);
      int rc = fuse_session_loop_mt(se, config);
      fuse_loop_cfg_destroy(config);
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
  fuse_session_destroy(se);
  return status;
}

}  // namespace regfs::view
