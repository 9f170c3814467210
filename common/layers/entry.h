#pragma once
// The layer-contents room: what is inside a layer blob (a tar stream, compressed with gzip,
// zstd or not at all), read in place. This header is the model every part shares: one entry
// of a layer's tar stream, as the layer index keeps it.
//
//   entry.h     an entry of a layer (this file)
//   tar.h       the tar parser: an uncompressed stream -> entries
//   stream.h    the compressed stream: one sequential pass that records seek points, and
//               random reads of the uncompressed stream from them
//   rootfs.h    layers applied in order (image-spec layer.md) -> a tree of inodes
//
// Nothing here writes to the store but the index files of layer_index.h.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace regfs::layers {

enum class EntryType : uint8_t {
  kRegular,
  kDirectory,
  kSymlink,
  kHardlink,  // another name for an earlier entry (of this layer or a lower one)
  kCharDevice,
  kBlockDevice,
  kFifo,
};

// A run of data in a sparse file: `length` bytes at `offset` of the file. The runs are stored
// back to back in the tar stream from Entry::dataOffset; everything between them reads as zeros.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const Extent&) const = default;
};

struct Entry {
  // Cleaned: relative, '/'-separated, no empty, "." or ".." component, no trailing '/'.
  // "" is the root directory itself (a tar's "./"). Names are bytes: not necessarily UTF-8,
  // and may hold anything but '/' and NUL (newlines included).
  std::string path;
  EntryType type = EntryType::kRegular;
  uint32_t mode = 0;  // permission bits with setuid, setgid and sticky (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtimeSec = 0;
  uint32_t mtimeNsec = 0;   // PAX sub-second mtime; 0 otherwise
  uint64_t size = 0;        // a regular file's size (a sparse file's full size); 0 for the rest
  uint64_t dataOffset = 0;  // regular file: where its data starts in the uncompressed stream
  // Symlink: the target, verbatim (never cleaned or resolved). Hardlink: the cleaned path of
  // the entry it names.
  std::string linkTarget;
  uint32_t devMajor = 0;  // character and block devices
  uint32_t devMinor = 0;
  // PAX "SCHILY.xattr.<name>" records: <name> and its value (bytes), in header order.
  std::vector<std::pair<std::string, std::string>> xattrs;
  // A sparse file's data runs, in order; empty for a file stored whole.
  std::vector<Extent> sparse;

  bool operator==(const Entry&) const = default;
};

}  // namespace regfs::layers
