#pragma once
// Inside images: what the view shows under an image manifest's directory besides its blobs.
// Pure, as view.h is: no FUSE here.
//
//   @sha256:<m>/rootfs/…                     the image's file system: its layers applied in order
//   @sha256:<m>/layer-contents/NN-<hex>/…    one layer's own files, whiteouts shown as files
//
// The snapshot (view.h) holds the rootfs/ and layer-contents/NN-<hex>/ directories themselves,
// each with the layers::TreeSource it shows; what lies below them comes from
// common/layers/file_trees.h on first access (building a missing layer index). Everything
// below is immutable: it derives from digests alone.
//
// Inode numbers below a contents directory (the rest of the scheme is in view.h): inode n of
// the tree (common/layers/rootfs.h numbers them the same way in every build) shown under the
// directory with inode `base` is 2^63 | mix(base, n), n = 0 (the tree's root) being the
// directory itself. Bit 63 is clear in every other class, so the classes never collide; a
// tree shown in two places (one image in two repositories) has other numbers in each, so no
// directory has two parents.

#include <sys/stat.h>

#include <cstdint>

#include "common/layers/file_reader.h"
#include "common/layers/file_trees.h"

namespace regfs::view {

using ContentsRoot = layers::TreeSource;
using FileTree = layers::FileTree;

inline constexpr uint64_t kContentsBit = uint64_t{1} << 63;
uint64_t contentsIno(uint64_t base, uint32_t n);
inline bool isContentsIno(uint64_t ino) { return (ino & kContentsBit) != 0; }

// stat data of inode `n` of `tree` shown as `ino`: type, mode, owner, size, times and device
// numbers from its tar entry; an implied directory is 0755 root:root with `impliedMtime`.
struct stat contentsStat(const FileTree& tree, uint32_t n, uint64_t ino,
                         const timespec& impliedMtime);

}  // namespace regfs::view
