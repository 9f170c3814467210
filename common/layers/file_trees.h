#pragma once
// Trees of files read from layers, as the view, the HTTP extension and export show them: the
// merged layers of an image (its root file system) or one layer on its own, each with the
// layer indexes it reads from, built on first use and kept in a small cache.

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/layers/layer_index.h"
#include "common/layers/rootfs.h"
#include "common/store/store.h"

namespace regfs::layers {

// What a tree shows: the merged layers of an image, or one layer alone.
struct TreeSource {
  std::vector<Digest> layers;  // bottom first; one for a layer's own files
  bool merged = true;          // false: the one layer as it is (whiteouts shown)
  bool operator==(const TreeSource&) const = default;
  auto operator<=>(const TreeSource&) const = default;
};

// One tree of files read from layers.
struct FileTree {
  TreeSource source;
  std::vector<std::shared_ptr<const LayerIndex>> indexes;  // as source.layers
  FsTree tree;
  // Why the tree cannot be shown (a layer regfs cannot read): every access fails (EIO, an
  // error answer). Empty when it can; then `tree` has its inodes.
  std::string error;
  // The entry behind inode `n`; nullptr for a directory no layer lists (implied).
  const Entry* entry(uint32_t n) const;
  // The layer that supplied inode `n`, and its index.
  const Digest& layerOf(uint32_t n) const { return source.layers[tree.inode(n).layer]; }
  const LayerIndex& indexOf(uint32_t n) const { return *indexes[tree.inode(n).layer]; }
  // The readers of the layer that supplied inode `n`, shared by every file read of every
  // tree that has the layer.
  StreamReaderPool& streamOf(uint32_t n) const { return *streams[tree.inode(n).layer]->pool; }

  struct LayerStream {
    std::shared_ptr<const LayerIndex> index;  // its seek points, which the pool reads by
    std::unique_ptr<BlobSource> blob;
    std::unique_ptr<StreamReaderPool> pool;
  };
  std::vector<std::shared_ptr<LayerStream>> streams;  // as source.layers
};

class FileTrees {
 public:
  // The trees kept for the next access: at most `cachedTrees`, and (the most recent always
  // kept) at most `cachedInodes` inodes in all, since a tree costs memory by its inodes (about
  // 80 bytes each): 16 images of a few thousand files, or 8 of 30,000.
  static constexpr size_t kCachedInodes = 250'000;
  explicit FileTrees(Store store, IndexLimits limits = {}, size_t cachedTrees = 16,
                     size_t cachedInodes = kCachedInodes);

  // The tree of `source`, from the cache or built now (reading, or building, the indexes of
  // its layers). A layer that cannot be read gives a tree with `error` set, logged once per
  // build; storage errors are thrown (Error(kIo), Error(kBlobUnknown)) and not cached.
  std::shared_ptr<const FileTree> tree(const TreeSource& source);

  // The tree of `source` when the cache has it, else nullptr (building nothing).
  std::shared_ptr<const FileTree> cached(const TreeSource& source);

  LayerIndexes& indexes() { return indexes_; }
  const Store& store() const { return indexes_.store(); }

 private:
  std::shared_ptr<const FileTree> build(const TreeSource& source);
  // The tree of `source` in recent_, moved to its front; nullptr if none. Under mutex_.
  std::shared_ptr<const FileTree> recentLocked(const TreeSource& source);
  // The readers of `layer`, shared with every tree alive that has it.
  std::shared_ptr<FileTree::LayerStream> streamOf(const Digest& layer,
                                                  const std::shared_ptr<const LayerIndex>& index);

  LayerIndexes indexes_;
  size_t cachedTrees_;
  size_t cachedInodes_;
  std::mutex mutex_;                                   // guards recent_ and building_
  std::list<std::shared_ptr<const FileTree>> recent_;  // most recently used first
  // Per source, a lock held while it is built, so concurrent first uses build it once.
  std::map<TreeSource, std::weak_ptr<std::mutex>> building_;
  std::map<Digest, std::weak_ptr<FileTree::LayerStream>> streams_;  // guarded by mutex_
};

}  // namespace regfs::layers
