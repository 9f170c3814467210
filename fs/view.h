#pragma once
// The view model: a store seen as a tree of plain files. Pure: no FUSE here; the
// libfuse adapter (fs/fuse_ops.h) only translates requests into calls on this.
//
//   <repo…>/<tag>                         symlink -> @sha256:<hex>
//   <repo…>/@sha256:<hex>/manifest.json   the manifest's exact bytes (every revision)
//                        config.json      the config blob, when the manifest has one
//                        layers/NN-<hex><ext>   every other blob, in manifest order
//                        platforms/<os>-<arch>[-<variant>] -> ../../@sha256:<child>  (indexes)
//                        rootfs/, layer-contents/NN-<hex>/   inside the image (contents.h)
//
// A tag and a nested repository may share a name (repository "a/b" with tag "c", and
// repository "a/b/c"). Then the directory wins: "a/b/c" is the repository, and the tag
// is reachable as the symlink "a/b/@tag:c". No tag or repository component can start
// with "@", so "@tag:" and "@<alg>:" names never collide with anything else.
//
// A Snapshot is an immutable tree built from the store at one moment; View keeps the
// current one and rebuilds it when it is older than the caller allows, so pushes, tag
// moves and deletes show up without remounting. A rebuild is incremental: it lists every
// repository's revisions and stats its tag links, but reads only the tag links whose
// metadata changed, and reuses the manifest directories of a repository whose revisions
// did not change (node for node, shared with the previous snapshot), so its cost grows
// with the number of tags and revisions, not with what lies below them.

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/digest.h"
#include "common/store/store.h"
#include "common/worker.h"
#include "fs/contents.h"

namespace regfs::view {

// ---------------------------------------------------------------------------------------
// Inode numbers: the one place they are defined. They derive from the store alone, so
// they are the same across remounts.
//
//   1                              the root directory
//   2^62 | first 62 bits of blob   a file: one inode per blob, wherever it appears
//   first 62 bits of sha256(...)   a directory: sha256("d\0" + path)
//                                  a symlink:   sha256("l\0" + path + "\0" + target)
//
// Bits 63 and 62 are clear for directories and symlinks (values below 2 are moved up),
// so the classes never collide. A symlink's number includes its target: a tag that moves
// is a new inode, so the kernel may cache symlink targets forever.
inline constexpr uint64_t kRootIno = 1;
uint64_t fileIno(const Digest& blob);
uint64_t directoryIno(std::string_view path);
uint64_t symlinkIno(std::string_view path, std::string_view target);

enum class NodeKind { kDirectory, kFile, kSymlink };

struct Node {
  uint64_t ino = 0;
  NodeKind kind = NodeKind::kDirectory;
  uint64_t size = 0;             // file: blob size; symlink: target length
  timespec mtime{};              // from the store, never "now"
  uint32_t nlink = 0;            // file: places it appears; directory: 2 + subdirectories
  std::string target;            // symlink
  std::optional<Digest> digest;  // file: the blob
  std::string mediaType;         // file: as the first manifest that lists it says
  // A directory whose entries are files inside images (contents.h): what it shows. The
  // snapshot holds the directory alone, with no children.
  std::shared_ptr<const ContentsRoot> contents;
  // A manifest directory and everything below it: its name never changes while the
  // directory that lists it exists, nor (for a directory) its entries, nor any attribute
  // but a file's st_nlink, which changes only in a snapshot that reports it
  // (Snapshot::changedSince). Caches may keep these long. Not stable: the root, namespace
  // and repository directories and the tags.
  bool stable = false;
  // Directory entries, sorted by name.
  std::vector<std::pair<std::string, uint64_t>> children;
};

// stat data of a node; `uid`/`gid` own everything.
struct stat statOf(const Node& node, uid_t uid, gid_t gid);

// The whole tree at one moment. Immutable once built; shared between threads.
class Snapshot {
 public:
  const Node* node(uint64_t ino) const;
  const Node* child(uint64_t parentIno, std::string_view name) const;
  // The node at a "/"-separated path from the root ("" is the root).
  const Node* resolve(std::string_view path) const;
  size_t size() const { return nodes_.size(); }
  // True if `other` holds this very node object (not a copy): a rebuild shares what did
  // not change with the snapshot before it.
  bool shares(const Snapshot& other, uint64_t ino) const;
  // Nodes that `before` has too, with other stat data, target or entries: what a cache
  // filled from `before` must drop. (Nodes `before` lacks are new to any cache.)
  std::vector<uint64_t> changedSince(const Snapshot& before) const;
  // When the walk of the store that built it started. (A later walk that finds nothing
  // changed keeps the snapshot as it is.)
  std::chrono::steady_clock::time_point builtAt() const { return builtAt_; }

 private:
  friend class SnapshotBuilder;
  friend class View;
  std::unordered_map<uint64_t, std::shared_ptr<const Node>> nodes_;
  std::chrono::steady_clock::time_point builtAt_{};
};

struct ViewOptions {
  // A snapshot older than this is rebuilt on the next access.
  std::chrono::milliseconds maxAge{250};
  // Rebuild on a background thread (from View::startBackground() on): an access to a stale
  // snapshot asks for a rebuild and goes on with the stale one while it is younger than
  // visibleWithin, so a busy mount never waits for a rebuild of a big store; an older one (the
  // first access after an idle spell) waits until the thread publishes a fresh one. The access
  // never rebuilds itself: the listener (onRebuild) may wait for kernel locks that the access
  // holds. The thread spends at most half its time rebuilding. Without it, the accessing
  // thread rebuilds (tests rely on that to see a change at once).
  bool background = false;
  // In background mode, also rebuild every maxAge for this long after the last access,
  // although no access asks: a cache filled from snapshots (the kernel's) may still be
  // answering from them, and only a rebuild's listener (onRebuild) can tell it what changed.
  std::chrono::milliseconds pollAfterAccess{0};
  // The promise: a change to the store shows in every snapshot handed out this long after it.
  // In background mode an access never gets a snapshot whose walk of the store started
  // longer ago than this (but when the rebuild it waits for fails): see `background`.
  std::chrono::milliseconds visibleWithin{1000};
  // Show what is inside images (rootfs/, layer-contents/); off for a mount that only backs up.
  bool contents = true;
};

class View {
 public:
  explicit View(Store store, ViewOptions options = {});
  ~View();

  // Starts the background thread of ViewOptions::background; until then the view rebuilds
  // as without it. Not in the constructor: regfs-mount builds its first snapshot, then forks
  // into the background (fuse_daemonize), and a fork keeps only the calling thread, with
  // any mutex another thread held then locked for good.
  void startBackground();

  // The current snapshot, rebuilt first if it is older than maxAge (or, in background
  // mode, after a rebuild is requested; see ViewOptions::background for when the access
  // waits). While one thread rebuilds, the others go on with the previous snapshot. The
  // first call always builds one.
  std::shared_ptr<const Snapshot> snapshot();
  // Rebuilds now and returns the new snapshot: the current one when the store shows
  // nothing new.
  std::shared_ptr<const Snapshot> refresh();
  // Called after every rebuild with the snapshot before it and the new one, on the
  // rebuilding thread, once the new one is published (so an access waiting for it does not
  // wait for the listener); calls come one at a time, in the order of the rebuilds. A null
  // function removes the listener (and waits for a call in progress). The first snapshot has
  // no predecessor and calls nothing.
  using Listener = std::function<void(const Snapshot& before, const Snapshot& after)>;
  void onRebuild(Listener listener);
  // Waits until the listener has returned from its call for `snapshot` (or a later one), at
  // most `bound`; true if it has. For an access that must not be answered from what a cache
  // held before `snapshot`, and that holds nothing the listener may wait for.
  bool awaitListener(const Snapshot& snapshot, std::chrono::milliseconds bound);

  const Store& store() const { return store_; }
  // What is inside images, below the snapshot's contents directories.
  layers::FileTrees& contents() { return contents_; }

 private:
  struct Cache;
  friend class SnapshotBuilder;
  using Clock = std::chrono::steady_clock;
  // Rebuilds and publishes (`rebuild` holds rebuildMutex_), then releases `rebuild` and
  // tells the listener.
  std::shared_ptr<const Snapshot> rebuildLocked(std::unique_lock<std::mutex>& rebuild);
  // Background mode: asks for a rebuild; returns the current snapshot once its walk started
  // at most visibleWithin before `now`. `lock` holds currentMutex_.
  std::shared_ptr<const Snapshot> awaitFreshLocked(std::unique_lock<std::mutex>& lock,
                                                   Clock::time_point now);

  Store store_;
  ViewOptions options_;
  std::mutex rebuildMutex_;  // one rebuild at a time; guards cache_
  std::unique_ptr<Cache> cache_;
  layers::FileTrees contents_;
  std::mutex listenerMutex_;  // one listener call at a time; taken before rebuildMutex_ is left
  Listener listener_;         // guarded by listenerMutex_
  mutable std::mutex currentMutex_;
  std::condition_variable published_;  // with currentMutex_: builtAt_, toldAt_ or failedAt_ moved
  std::shared_ptr<const Snapshot> current_;
  Clock::time_point builtAt_{};  // when the walk that found current_ still true started
  Clock::time_point toldAt_{};   // the builtAt() of the last snapshot the listener was told of

  // Background mode.
  void refreshLoop();
  bool refreshWanted_ = false;        // guarded by currentMutex_
  Clock::time_point lastAccess_{};    // guarded by currentMutex_
  Clock::time_point failedAt_{};      // guarded by currentMutex_: start of the last failed rebuild
  Worker refresher_{"view-refresh"};  // started by startBackground(); last: stopped first
};

}  // namespace regfs::view
