#pragma once
// The libfuse adapter's state, shared by its two files: fuse_ops.cc (the view's nodes, the
// session) and contents_ops.cc (the files inside images). The inode table with the kernel's
// lookup counts, open files, and how one operation fails. For fs/ only: the rest of regfs sees
// fuse_ops.h.

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#endif
#include <fuse_lowlevel.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/layers/file_reader.h"
#include "common/unique_fd.h"
#include "fs/fuse_ops.h"
#include "fs/passthrough.h"
#include "fs/prefetch.h"
#include "fs/stat_habits.h"
#include "fs/view.h"

namespace regfs::view {

inline constexpr std::string_view kUserXattrPrefix = "user.";

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
        passthrough_(options.opens != MountOptions::Opens::kKernel),
        opens_(options.opens),
        readAheadBytes_(options.readAheadKib * 1024),
        timeout_(std::chrono::duration<double>(options.cacheTimeout).count()),
        stableTimeout_(std::chrono::duration<double>(options.stableCacheTimeout).count()),
        prefetcher_(PrefetchOptions{.files = options.prefetchFiles}),
        uid_(::getuid()),
        gid_(::getgid()) {}

  View& view() { return view_; }
  Passthrough& passthrough() { return passthrough_; }
  unsigned readAheadBytes() const { return readAheadBytes_; }
  bool noOpendir = false;  // set once, in init, before any other request

  // In init: whether the kernel can open files alone (MountOptions::Opens).
  void initOpens(bool supported) {
    openInKernelSupported_ = supported;
    if (supported && opens_ == MountOptions::Opens::kKernel) noOpen_ = true;
  }
  // Asked by an OPEN (of a file inside an image when `contents`): true when the kernel is to
  // open files alone from now on, which the OPEN says by answering ENOSYS. With opens=auto,
  // from the kOpensPerSecond-th open of files inside images within a second on.
  bool openInKernel(bool contents) {
    if (noOpen_.load(std::memory_order_relaxed)) return true;
    if (!contents || !openInKernelSupported_ || opens_ != MountOptions::Opens::kAuto) return false;
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (now - opensSince_ > std::chrono::seconds(1)) {
      opensSince_ = now;
      contentsOpens_ = 0;
    }
    if (++contentsOpens_ < kOpensPerSecond) return false;
    if (!noOpen_.exchange(true)) {
      std::fprintf(stderr,
                   "regfs-mount: a program reads a tree of files inside an image: files open in "
                   "the kernel alone from now on (no passthrough for blobs opened from now on)\n");
    }
    return true;
  }
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
  StatHabits& statHabits() { return statHabits_; }

  // Open files: the kernel holds each as fi->fh until it sends RELEASE. A RELEASE still in
  // flight when the session ends never comes, so the file system owns them and frees those
  // left when it goes. `hold` before replying to OPEN, `drop` on RELEASE (or a failed reply).
  OpenFile* hold(std::unique_ptr<OpenFile> file) {
    std::lock_guard lock(openMutex_);
    OpenFile* raw = file.get();
    open_.emplace(raw, std::move(file));
    return raw;
  }
  void drop(OpenFile* file) {
    std::unique_ptr<OpenFile> gone;  // freed outside the lock
    std::lock_guard lock(openMutex_);
    if (auto it = open_.find(file); it != open_.end()) {
      gone = std::move(it->second);
      open_.erase(it);
    }
  }

  // Once files open in the kernel alone (openInKernel) a READ names the inode only: the blob file
  // of `ino`, kept for the reads that follow (the most recently read kCachedBlobFiles), else made
  // by `open` (nullptr when `open` made none).
  template <typename Open>
  std::shared_ptr<OpenFile> blobFile(uint64_t ino, Open&& open) {
    {
      std::lock_guard lock(openMutex_);
      if (auto it = blobFiles_.find(ino); it != blobFiles_.end()) {
        it->second.lastRead = ++blobReads_;
        return it->second.file;
      }
    }
    std::shared_ptr<OpenFile> file = open();
    if (!file) return nullptr;          // nothing to keep
    std::shared_ptr<OpenFile> evicted;  // closed outside the lock
    std::lock_guard lock(openMutex_);
    if (blobFiles_.size() >= kCachedBlobFiles) {
      auto oldest = std::min_element(blobFiles_.begin(), blobFiles_.end(), [](auto& a, auto& b) {
        return a.second.lastRead < b.second.lastRead;
      });
      evicted = std::move(oldest->second.file);
      blobFiles_.erase(oldest);
    }
    return blobFiles_.try_emplace(ino, CachedBlobFile{file, ++blobReads_}).first->second.file;
  }

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
    const ContentsInode& known = it->second;
    const ContentsShown& shown = *known.shown;
    return ContentsPlace{shown.root,         shown.base,   known.n,
                         shown.impliedMtime, known.parent, known.position};
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
    ContentsInode& known = contentsInodes_[ino];
    if (known.nlookup++ > 0) return;
    auto& shown = shownTrees_[place.base];
    if (!shown) shown = std::make_unique<ContentsShown>(place.root, place.base, place.impliedMtime);
    known.shown = shown.get();
    known.n = place.n;
    known.parent = place.parent;
    known.position = place.position;
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
    std::unique_lock lock(mutex_);
    if (isContentsIno(ino)) {
      auto it = contentsInodes_.find(ino);
      if (it == contentsInodes_.end()) return;
      uint64_t& nlookup = it->second.nlookup;
      nlookup = nlookup > n ? nlookup - n : 0;
      if (nlookup == 0) contentsInodes_.erase(it);
      return;
    }
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) return;
    it->second.nlookup = it->second.nlookup > n ? it->second.nlookup - n : 0;
    if (it->second.nlookup > 0) return;
    inodes_.erase(it);
    lock.unlock();
    std::shared_ptr<OpenFile> gone;  // closed outside the lock
    std::lock_guard openLock(openMutex_);
    if (auto cached = blobFiles_.find(ino); cached != blobFiles_.end()) {
      gone = std::move(cached->second.file);
      blobFiles_.erase(cached);
    }
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
  MountOptions::Opens opens_;
  bool openInKernelSupported_ = false;  // set in init
  std::atomic<bool> noOpen_{false};     // files open in the kernel alone: fi->fh 0 in READs
  // Opens of files inside images since opensSince_ (opens=auto); guarded by mutex_.
  static constexpr int kOpensPerSecond = 32;
  std::chrono::steady_clock::time_point opensSince_;
  int contentsOpens_ = 0;
  unsigned readAheadBytes_;
  double timeout_;
  double stableTimeout_;
  std::atomic<fuse_session*> session_{nullptr};
  FilePrefetcher prefetcher_;
  StatHabits statHabits_;
  uid_t uid_;
  gid_t gid_;
  std::mutex mutex_;
  std::unordered_map<uint64_t, InodeEntry> inodes_;
  std::mutex openMutex_;  // guards open_, blobFiles_ and blobReads_
  std::unordered_map<OpenFile*, std::unique_ptr<OpenFile>> open_;
  struct CachedBlobFile {
    std::shared_ptr<OpenFile> file;
    uint64_t lastRead = 0;
  };
  // Few: a blob on remote storage keeps its read window (OpenFile::kReadAhead), and an open
  // local blob the store deleted keeps its disk space until it goes (or its inode is
  // forgotten).
  static constexpr size_t kCachedBlobFiles = 16;
  std::unordered_map<uint64_t, CachedBlobFile> blobFiles_;
  uint64_t blobReads_ = 0;
  // What a tree shown under a snapshot directory shares with every inode of it below, so the
  // kernel's inodes take 32 bytes each (a find over 20 images of 30,000 files holds 600,000).
  struct ContentsShown {
    ContentsShown(std::shared_ptr<const ContentsRoot> root, uint64_t base, timespec mtime)
        : root(std::move(root)), base(base), impliedMtime(mtime) {}
    std::shared_ptr<const ContentsRoot> root;
    uint64_t base;
    timespec impliedMtime;
  };
  struct ContentsInode {
    uint64_t nlookup = 0;
    const ContentsShown* shown = nullptr;  // in shownTrees_, which keeps every one it made
    uint32_t n = 0;
    uint32_t parent = layers::Inode::kNone;
    uint32_t position = 0;
  };
  // Guarded by mutex_: the inodes inside trees the kernel holds, with its lookup count, and
  // the trees they are in, by snapshot directory (one per rootfs/ or layer directory seen).
  std::unordered_map<uint64_t, ContentsInode> contentsInodes_;
  std::unordered_map<uint64_t, std::unique_ptr<ContentsShown>> shownTrees_;
  static constexpr size_t kMaxListings = 256;
  std::unordered_map<uint64_t, std::shared_ptr<const Snapshot>> listings_;
};

inline ViewFs& fs(fuse_req_t req) { return *static_cast<ViewFs*>(fuse_req_userdata(req)); }

// One line on stderr for an operation that failed with `e`: the kernel hears only EIO.
inline void logFailure(const char* op, const std::exception& e) {
  std::fprintf(stderr, "regfs-mount: %s: %s\n", op, e.what());
}

// Runs one operation; a store failure becomes EIO (logged) instead of a dead daemon.
template <typename F>
void guarded(fuse_req_t req, const char* op, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    logFailure(op, e);
    fuse_reply_err(req, EIO);
  }
}

inline void replyXattr(fuse_req_t req, std::string_view value, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, value.size());
  } else if (size < value.size()) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

}  // namespace regfs::view
