#pragma once
// An image's root file system as one tar stream (what `docker export` and `crane export`
// give): the merged tree of FileTrees written out entry by entry, file data read through each
// layer's index in chunks, so the stream never holds more than a chunk of the rootfs.
//
// The stream is POSIX PAX (GNU tar, bsdtar, Go's archive/tar and umoci read it):
//  - Tree order: a directory before its children, children by name bytewise, so the same
//    image gives the same bytes. No entry for the root itself (as docker export): names are
//    relative, "bin/", "etc/passwd"; directories end in '/'.
//  - Regular files with their bytes (a sparse file written whole, holes as zeros); a
//    non-directory with several names is a file under the first name in tree order and a
//    hardlink ('1') to it under each later one, so its data is written once.
//  - Symlinks (target verbatim), FIFOs, character and block devices, directories. Implied
//    directories (no layer lists them) are 0755, 0:0, mtime 0, as the tree has them.
//  - Mode with setuid, setgid and sticky; numeric uid and gid (no user or group names).
//  - A PAX 'x' header before an entry when a ustar field cannot say it: a path or link target
//    past 100 bytes, a sub-second or negative mtime, a size, uid, gid or mtime past the
//    octal field, xattrs (SCHILY.xattr.<name>). Device numbers past the field are base-256.
//  - No whiteouts: the tree is merged, nothing in it hides anything.

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/layers/file_trees.h"
#include "common/layers/image.h"
#include "common/layers/platform.h"
#include "common/manifest.h"
#include "common/store/store.h"

namespace regfs::layers {

// Takes the next bytes of the stream (pieces of up to about a MiB); may throw to stop it.
using TarSink = std::function<void(std::string_view)>;

struct ExportStats {
  uint64_t entries = 0;    // tar members written (PAX headers not counted)
  uint64_t hardlinks = 0;  // of them, hardlinks to a name written before
  uint64_t bytes = 0;      // the stream's length
};

// Writes `tree` to `sink` as a tar stream, file data read from `store`'s blobs. Throws
// Error(kUnsupported) naming the layer when the tree could not be built (FileTree::error),
// before writing anything; Error(kBlobUnknown) when a layer's blob is gone and Error(kIo) when
// one no longer reads as indexed, midway (what was written stays written); what `sink` throws.
ExportStats exportTree(const Store& store, const FileTree& tree, const TarSink& sink);

// The layers (base first) of the image `ref` names; NAME alone means NAME:latest. An index's
// child is picked by `platform` (its os and architecture, and its variant when given), by
// hostPlatform() when nullopt. Throws Error(kNameUnknown / kManifestUnknown) when `ref` names
// nothing, Error(kManifestUnknown) listing the index's platforms when none matches, and
// Error(kUnsupported) saying why for a manifest with no root file system (imageLayers).
std::vector<Digest> rootfsLayers(const Store& store, const ImageReference& ref,
                                 const std::optional<Platform>& platform);

}  // namespace regfs::layers
