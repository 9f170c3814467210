#pragma once
// The tar parser: a layer's uncompressed stream in, its entries out. Push-style, so one
// sequential pass over a compressed blob can decompress and parse at once (stream.h) and
// hostile input costs a bounded amount: the parser keeps only the current header and its
// extended records in memory, never file data.
//
// Reads the formats image layers are written in: ustar (with its name prefix), POSIX PAX
// (path, linkpath, size, uid, gid, mtime with sub-second digits, SCHILY.xattr.*, and the
// GNU.sparse.* records of PAX sparse formats 0.0, 0.1 and 1.0), GNU (long names 'L' and long
// link names 'K', old sparse 'S', base-256 numbers) and v7. Names are cleaned as Entry::path
// says; an entry whose name or hardlink target would leave the root ("a/../../x", "..") is
// dropped and counted, never emitted. The stream ends at the end-of-archive blocks (bytes
// after them are ignored) or, as GNU tar accepts, at the end of the input on a block boundary.
//
// Where tars disagree, the parser decides so:
//  - The first zero block ends the archive (GNU tar stops there too, warning when no second
//    follows; Go's archive/tar refuses a non-zero block after it).
//  - An unknown typeflag is a regular file, its data skipped (GNU tar extracts it so); 'D' (a
//    GNU dump directory) is a directory; 'V', 'M' and 'N' members are skipped, not emitted.
//    A regular type ('0', '\0', '7') named with a trailing '/' is a directory.
//  - Hardlinks, symlinks, devices, fifos and directories have no data, whatever their size
//    field says (as Go's archive/tar, which docker and containerd extract with, reads them).
//  - A member named as the root ("./", "/") that is not a directory, and a hardlink naming the
//    root, are dropped and counted like names that leave it.
//  - Global PAX headers ('g') apply to every later member (POSIX, GNU tar); a member's own
//    record overrides them; an empty value in an 'x' record means the header's own field.
//  - A sparse file gets Entry::sparse non-empty even when it is all hole (one empty extent at
//    its end), so it never reads as a file stored whole; its extents must be in order, within
//    its size, and add up to the bytes stored.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/layers/entry.h"

namespace regfs::layers {

// What one layer may cost; past a limit the parser throws Error(kSizeInvalid) naming it.
struct TarLimits {
  uint64_t maxEntries = 2'000'000;    // members emitted or dropped
  size_t maxPathBytes = 16 * 1024;    // a cleaned path, a link target
  size_t maxDepth = 1024;             // components of a path
  size_t maxExtendedBytes = 1 << 20;  // one PAX or GNU long-name record
  size_t maxXattrBytes = 64 * 1024;   // all xattrs of one entry
  size_t maxSparseExtents = 100'000;  // of one file
};

class TarParser {
 public:
  using EntrySink = std::function<void(Entry&&)>;
  explicit TarParser(EntrySink sink, TarLimits limits = {});
  ~TarParser();
  TarParser(TarParser&&) noexcept;
  TarParser& operator=(TarParser&&) noexcept;

  // Takes the next bytes of the stream (any split, empty included) and emits every entry
  // whose header is complete. Throws Error(kInvalidArgument) for a malformed archive (a bad
  // header checksum, a number that does not parse, a PAX record that does not add up) and
  // Error(kSizeInvalid) past a limit; the parser is unusable after a throw.
  void feed(std::string_view bytes);
  // The stream ended. Throws Error(kInvalidArgument) if it ended inside a header or inside
  // an entry's data (a truncated layer).
  void finish();

  bool ended() const;                                    // the end-of-archive blocks were seen
  uint64_t offset() const;                               // bytes of the stream taken so far
  uint64_t entries() const;                              // entries emitted
  uint64_t dropped() const;                              // entries dropped for leaving the root
  const std::vector<std::string>& droppedNames() const;  // the first few, for a log line

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Cleans a tar name as Entry::path says: drops "." and empty components and leading
// slashes, applies ".."; nullopt when ".." would leave the root.
std::optional<std::string> cleanPath(std::string_view name);

}  // namespace regfs::layers
