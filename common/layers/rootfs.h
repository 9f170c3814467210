#pragma once
// Layers applied in order, as image-spec layer.md says, into a tree of inodes: the image's
// root file system. Also one layer on its own, whiteouts shown as the files they are.
//
//  - Within one layer the last entry of a path wins (as tar extracting does): a later entry
//    replaces what an earlier one of the same layer made, a directory with its subtree too.
//  - A whiteout is an entry whose last name starts with ".wh.", of any type (as containerd
//    and umoci read them); it never appears in the tree. ".wh.<name>" hides <name> of the
//    layers below only, a directory with its subtree; ".wh..wh..opq" hides every child its
//    directory has in the layers below. A layer's whiteouts all apply before its other entries,
//    wherever they stand in the tar (layer.md says so of opaque ones; doing it for both keeps
//    the result independent of tar order), so a path whited out and added again in one layer
//    is there, with only this layer's children (and, if only implied again, implied: umoci
//    keeps the lower attributes when the whiteout comes after). A whiteout makes no parent
//    directory. One of something absent, or naming nothing (".wh.", ".wh..", ".wh..wh.plnk":
//    no name in the tree starts with ".wh."; umoci reads ".wh." as its own directory), does
//    nothing; so does one whose directory is not a directory below.
//  - A directory over a directory takes the new attributes (the inode's layer and entry move
//    to the new entry) and keeps the children; any other entry replaces what was there, a
//    directory's subtree with it (a file becomes a directory and back).
//  - A hardlink is another name for the inode its target names at that point (this layer's
//    earlier entries or the layers below), so a later entry replacing the target's name leaves
//    the link on the old inode, as on a real file system. Any non-directory may be linked (as
//    link(2) allows). One whose target is missing (never there, whited out, dropped, a
//    hardlink that was dropped) or a directory is dropped and counted (droppedHardlinks).
//  - A path whose parent directories no layer lists gets them, with mode 0755, owner 0:0 and
//    the mtime 0 (`implied`), as tar extracting makes them (but with a fixed mtime, so
//    inodes stay the same across builds).
//  - A symlink among an entry's parent directories is followed inside the root, as umoci
//    (securejoin) and containerd (fs.RootPath) apply layers: `lib/foo` over `lib -> usr/lib`
//    lands at `usr/lib/foo`. The parent path is walked name by name in the tree at that point;
//    a symlink's target is read in the directory holding it (an absolute one from the root),
//    `.` and empty names are skipped, and `..` takes the walk back one name, lexically (what
//    the walk holds has no symlink left), never above the root. A missing name is taken as a
//    directory still to make: parents are implied where the walk ends, not where the entry
//    named them (a symlink to nothing makes its target's directories). The entry's last name
//    is never followed: an entry over a symlink replaces the symlink, as tar does. The same
//    walk finds a whiteout's directory (through the symlinks of the layers below: a layer's
//    whiteouts apply first) and a hardlink's target (its parents followed, its last name not,
//    as umoci does: a link to a symlink is a link to the symlink).
//  - An entry whose parent cannot be resolved is dropped and counted (droppedEntries): more
//    than 255 symlinks followed for one path (a loop, a longer chain), a name below a
//    non-directory, or a resolved parent that is not a directory (a file, a device). tar,
//    containerd and umoci fail the whole extraction there; one odd entry should not hide an
//    image. So is an entry whose path is not clean (Entry::path says what clean is) and, in
//    `merge`, one whose path or resolved parent has a name that starts with ".wh." (no such
//    directory can exist).
//  - The root: an entry with path "" (a tar's "./") that is a directory sets its attributes;
//    the root is never replaced, so any other entry at "" is dropped and counted
//    (droppedEntries). With no such entry the root is implied, by layer 0.
//  - `single`: the same rules without whiteouts (a ".wh." name is a plain entry) and with
//    hardlinks and symlinked parents resolved inside the layer only (as umoci unpacks a
//    one-layer image): a link that names a lower layer's file cannot be resolved there, so it
//    is dropped and counted like any link whose target is missing.
//  - nlink: a directory's is 2 plus its subdirectories, anything else's the names it has.
//    Inode numbers are breadth-first from the root (0) in name order, so a tree built twice
//    from the same layers numbers its inodes the same.

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
  // Names read inside symlink targets while applying layers, at most: 255 links per path
  // times a long target on every entry would cost a hostile layer's reader without end.
  static constexpr uint64_t kMaxSymlinkSteps = uint64_t{1} << 24;
  // `layers` bottom first: each the entry table of one layer, in tar order. Throws
  // Error(kSizeInvalid) past `maxSymlinkSteps` (the layers cannot be shown).
  static FsTree merge(const std::vector<const std::vector<Entry>*>& layers,
                      uint64_t maxSymlinkSteps = kMaxSymlinkSteps);
  // One layer as it is: whiteouts are plain entries, nothing is hidden.
  static FsTree single(const std::vector<Entry>& layer,
                       uint64_t maxSymlinkSteps = kMaxSymlinkSteps);

  static constexpr uint32_t kRoot = 0;
  const Inode& inode(uint32_t number) const { return inodes_[number]; }
  size_t size() const { return inodes_.size(); }
  // The child of directory `dir` named `name`; Inode::kNone if none.
  uint32_t child(uint32_t dir, std::string_view name) const;
  // The inode at a cleaned path ("" is the root); Inode::kNone if none.
  uint32_t resolve(std::string_view path) const;
  uint64_t droppedHardlinks() const { return droppedHardlinks_; }
  // Entries dropped for a parent that does not resolve to a directory (symlinks followed), a
  // non-directory at the root, a path that is not clean or (merge) lies below a ".wh." name.
  uint64_t droppedEntries() const { return droppedEntries_; }

 private:
  std::vector<Inode> inodes_;
  uint64_t droppedHardlinks_ = 0;
  uint64_t droppedEntries_ = 0;
};

}  // namespace regfs::layers
