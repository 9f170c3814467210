#pragma once
// Layers applied in order, as image-spec layer.md says, into a tree of inodes: the image's
// root file system. Also one layer on its own, whiteouts shown as the files they are.
//
//  - Within one layer the last entry of a path wins (as tar extracting does).
//  - A whiteout ".wh.<name>" hides <name> of the layers below only; ".wh..wh..opq" hides
//    every child its directory has in the layers below, wherever it stands in the tar; a
//    path whited out and added again in one layer is there.
//  - A directory over a directory takes the new attributes and keeps the children; any other
//    entry replaces what was there (a file becomes a directory and back).
//  - A hardlink is another name for the inode its target names at that point (this layer's
//    earlier entries or the layers below); one whose target is missing or a directory is
//    dropped and counted.
//  - A path whose parent directories no layer lists gets them, with mode 0755, owner 0:0 and
//    the mtime 0 (`implied`), as tar extracting makes them (but with a fixed mtime, so
//    inodes stay the same across builds).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/layers/entry.h"

namespace regfs::layers {

struct Inode {
  // The entry that supplied it: layer (0 = lowest) and entry number in that layer's table.
  // For an implied directory, `layer` is the layer that first needed it and `entry` is kNone.
  static constexpr uint32_t kNone = UINT32_MAX;
  uint32_t layer = 0;
  uint32_t entry = kNone;
  uint32_t nlink = 1;  // names it has in the tree (directories: 2 + subdirectories)
  // Directories: entries sorted bytewise by name, each with its inode number in this tree.
  std::vector<std::pair<std::string, uint32_t>> children;
};

class FsTree {
 public:
  // `layers` bottom first: each the entry table of one layer, in tar order.
  static FsTree merge(const std::vector<const std::vector<Entry>*>& layers);
  // One layer as it is: whiteouts are plain entries, nothing is hidden.
  static FsTree single(const std::vector<Entry>& layer);

  static constexpr uint32_t kRoot = 0;
  const Inode& inode(uint32_t number) const { return inodes_[number]; }
  size_t size() const { return inodes_.size(); }
  // The child of directory `dir` named `name`; Inode::kNone if none.
  uint32_t child(uint32_t dir, std::string_view name) const;
  // The inode at a cleaned path ("" is the root); Inode::kNone if none.
  uint32_t resolve(std::string_view path) const;
  uint64_t droppedHardlinks() const { return droppedHardlinks_; }

 private:
  std::vector<Inode> inodes_;
  uint64_t droppedHardlinks_ = 0;
};

}  // namespace regfs::layers
