#pragma once
// Inside images: what the view shows under an image manifest's directory besides its blobs.
// Pure, as view.h is: no FUSE here.
//
//   @sha256:<m>/rootfs/…                     the image's file system: its layers applied in order
//   @sha256:<m>/layer-contents/NN-<hex>/…    one layer's own files, whiteouts shown as files
//
// The snapshot (view.h) holds the rootfs/ and layer-contents/NN-<hex>/ directories themselves,
// each with the ContentsRoot it shows; what lies below them is read from the layer indexes
// (common/layers/layer_index.h) on first access, building an index that is missing, and kept
// in a cache bounded by count. Everything below is immutable: it derives from digests alone.
//
// Inode numbers below a contents directory (the rest of the scheme is in view.h): inode n of
// the tree (common/layers/rootfs.h numbers them the same way in every build) shown under the
// directory with inode `base` is 2^63 | mix(base, n), n = 0 (the tree's root) being the
// directory itself. Bit 63 is clear in every other class, so the classes never collide; a
// tree shown in two places (one image in two repositories) has other numbers in each, so no
// directory has two parents.

#include <sys/stat.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/layers/file_reader.h"
#include "common/layers/layer_index.h"
#include "common/layers/rootfs.h"
#include "common/store/store.h"

namespace regfs::view {

// What a contents directory shows: the merged layers of an image, or one layer alone.
struct ContentsRoot {
  std::vector<Digest> layers;  // bottom first; one for a layer's own files
  bool merged = true;          // false: the one layer as it is (whiteouts shown)
  bool operator==(const ContentsRoot&) const = default;
  auto operator<=>(const ContentsRoot&) const = default;
};

inline constexpr uint64_t kContentsBit = uint64_t{1} << 63;
uint64_t contentsIno(uint64_t base, uint32_t n);
inline bool isContentsIno(uint64_t ino) { return (ino & kContentsBit) != 0; }

// One tree of files read from layers.
struct FileTree {
  ContentsRoot root;
  std::vector<std::shared_ptr<const layers::LayerIndex>> indexes;  // as root.layers
  layers::FsTree tree;
  // Why the tree cannot be shown (a layer regfs cannot read): every access answers EIO. Empty
  // when it can.
  std::string error;
  // The entry behind inode `n`; nullptr for a directory no layer lists (implied).
  const layers::Entry* entry(uint32_t n) const;
  // The layer that supplied inode `n`.
  const Digest& layerOf(uint32_t n) const { return root.layers[tree.inode(n).layer]; }
};

// stat data of inode `n` of `tree` shown as `ino`: type, mode, owner, size, times and device
// numbers from its tar entry; an implied directory is 0755 root:root with `impliedMtime`.
struct stat contentsStat(const FileTree& tree, uint32_t n, uint64_t ino,
                         const timespec& impliedMtime);

class Contents {
 public:
  explicit Contents(Store store, layers::IndexLimits limits = {}, size_t cachedTrees = 16);

  // The tree of `root`, from the cache or built now (reading, or building, the indexes of its
  // layers). A layer that cannot be read gives a tree with `error` set, logged once; storage
  // errors are thrown (Error(kIo), Error(kBlobUnknown)) and not cached.
  std::shared_ptr<const FileTree> tree(const ContentsRoot& root);

  layers::LayerIndexes& indexes() { return indexes_; }

 private:
  std::shared_ptr<const FileTree> build(const ContentsRoot& root);

  layers::LayerIndexes indexes_;
  size_t cachedTrees_;
  std::mutex mutex_;                                   // guards the cache
  std::list<std::shared_ptr<const FileTree>> recent_;  // most recently used first
  // Per root, a lock held while it is built, so concurrent first accesses build it once.
  std::map<ContentsRoot, std::weak_ptr<std::mutex>> building_;
};

}  // namespace regfs::view
