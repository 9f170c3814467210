#pragma once
// The storage seam. The store (common/store/store.h) reaches storage only through this
// interface, with driver paths from common/store/layout.h ("/docker/registry/v2/...").
// The local file system is one implementation (FsDriver); an object store can be another
// (S3, s3_driver.h). tests/common/storage/driver_contract.h holds every driver to what this
// header promises.
//
// A driver path is absolute and plain: '/'-separated names, none empty, "." or "..". The
// store builds every one in layout.h from names it validated; drivers do not check again
// (a ".." would take FsDriver above its root: RESOLVE_NO_SYMLINKS does not stop it).
//
// Where a file system and an object store differ, the contract says so:
//  - An object store has no directories of its own: a directory is there while something
//    is below it, and a write makes the directories above it by being there.
//  - A file being appended to (openAppend, until FileWriter::commit) is, on an object store,
//    an upload in progress: stat() and openAppend() see its flushed bytes; statFile(),
//    read(), list() and listTree() see nothing until it is committed. On a file system the
//    bytes are in the file as they are written.

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace regfs {

// Names of the temporary files writeAtomic() creates beside its destination start with this;
// one that outlives its write is a leftover of a crash (fsck removes it).
inline constexpr std::string_view kAtomicTempPrefix = ".regfs-tmp-";

// The parent of a driver path ("/a/b/c" -> "/a/b", "/a" -> "/").
inline std::string parentPath(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

struct FileInfo {
  uint64_t size = 0;
  timespec mtime{};
  bool isDirectory = false;
};

// A modification time as a point on the system clock (to compare with cutoffs).
inline std::chrono::system_clock::time_point toTimePoint(const timespec& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

// Appends to one file. Nothing is durable until sync() returns.
class FileWriter {
 public:
  // Writes whose memory, length and file offset are all multiples of this may bypass the
  // page cache (the file system driver does); others are written the ordinary way.
  static constexpr size_t kDirectAlign = 4096;

  virtual ~FileWriter() = default;
  virtual void write(const void* data, size_t size) = 0;
  virtual uint64_t size() const = 0;  // bytes in the file, including what was there before
  virtual void sync() = 0;
  // Hands what is buffered to storage (a remote driver buffers up to one part in memory);
  // what a writer has not flushed is lost with it.
  virtual void flush() {}
  // Makes everything written one complete file that read(), readRange() and move() see;
  // no more writes follow.
  virtual void commit() { sync(); }
  // True when write() only copies the bytes into memory of the writer's own and storage
  // takes them in the background (a remote driver's parts): a caller then needs no
  // write-behind stage of its own, which would only copy every byte once more.
  virtual bool writesBehind() const { return false; }
};

class StorageDriver {
 public:
  virtual ~StorageDriver() = default;

  // Metadata of a file or directory; nullopt if it does not exist.
  virtual std::optional<FileInfo> stat(const std::string& path) const = 0;
  // Metadata of a file written whole (by writeAtomic, or moved into place); nullopt for
  // anything else: nothing there, a directory, a file still being appended to (where the
  // storage can tell: an object store). On object storage one request where stat may take
  // three.
  virtual std::optional<FileInfo> statFile(const std::string& path) const {
    auto info = stat(path);
    if (info && info->isDirectory) return std::nullopt;
    return info;
  }
  // The whole file; throws Error(kNotFound) if it does not exist (or is a directory).
  virtual std::string read(const std::string& path) const = 0;
  // Up to `length` bytes from `offset`; fewer at the end of the file, none at or past it.
  // Throws Error(kNotFound) for a missing file, as read() does.
  virtual std::string readRange(const std::string& path, uint64_t offset,
                                uint64_t length) const = 0;
  // Hands `length` bytes from `offset` to `sink` as they arrive, in pieces of any size,
  // and returns once all were handed over or `sink` returned false (stop). Throws
  // Error(kNotFound) for a missing file, Error(kIo) when the file is shorter or the storage
  // fails midway (after some pieces). This default reads ranges of 4 MiB.
  virtual void readStream(const std::string& path, uint64_t offset, uint64_t length,
                          const std::function<bool(std::string_view)>& sink) const;
  // Replaces the file with `bytes` atomically and durably: a crash leaves the old
  // content or the new, never a torn file. Creates parent directories.
  virtual void writeAtomic(const std::string& path, std::string_view bytes) = 0;
  // Opens the file for appending, creating it (and its parents) if needed; the writer's
  // size() starts at the bytes already there, whoever wrote them (another process too).
  virtual std::unique_ptr<FileWriter> openAppend(const std::string& path) = 0;
  // Creates the file holding `bytes` unless it exists: true when this call created it,
  // false when it was there, whoever made it, even a moment before from another process or
  // host on the same storage (O_EXCL on a file system, CephFS included; a conditional PUT,
  // If-None-Match: *, on S3). A retried request whose first answer was lost finds its own
  // `bytes` there and counts as the creator, so callers pass bytes unique to them. Not
  // durable. Creates no directories: throws kNotFound when the parent is missing on
  // storage that has directories.
  virtual bool createExclusive(const std::string& path, std::string_view bytes) = 0;
  // Names of a directory's entries, sorted bytewise; empty if it does not exist.
  virtual std::vector<std::string> list(const std::string& path) const = 0;
  // Every file under `dir`, at any depth, with its metadata, in no particular order; empty
  // if it does not exist. An object store answers it in one listing (paged), so walks of
  // the whole store use this rather than list() and stat() per directory.
  virtual std::vector<std::pair<std::string, FileInfo>> listTree(const std::string& dir) const = 0;
  // Moves a file, or a directory with everything under it, to `to` (a file there is
  // replaced), atomically where the storage allows, creating parents. Throws
  // Error(kNotFound) when nothing is at `from`.
  virtual void move(const std::string& from, const std::string& to) = 0;
  // Removes a file (one being appended to too) or a whole directory tree; a missing path
  // is not an error.
  virtual void remove(const std::string& path) = 0;
  // Removes the directory at `path` if it is empty, and nothing else (what is created in it
  // meanwhile stays, with it): true when it did. Storage without directories of its own (an
  // object store) has none to remove: false.
  virtual bool removeEmptyDirectory(const std::string&) { return false; }

  // True when `path` is itself a symbolic link. Every other call treats one as nothing there
  // (see makeFsDriver); fsck reports them. Storage without symlinks answers false.
  virtual bool isSymlink(const std::string&) const { return false; }

  // The local file behind a path, when there is one, to name it to people; nullopt for
  // remote storage. Reads go through openLocal, which follows no symlink.
  virtual std::optional<std::filesystem::path> localPath(const std::string& path) const = 0;
  // The local file opened for reading, for reads that bypass the driver (a blob GET reads it
  // in place, the view splices it or hands it to the kernel by FUSE passthrough); an empty
  // UniqueFd for remote storage. Throws Error(kNotFound) if there is no such file, as for
  // read().
  virtual UniqueFd openLocal(const std::string&) const { return UniqueFd(); }
  // A URL clients may fetch the file from directly for a while (a presigned GET), when the
  // storage offers one and redirects are on; nullopt: serve the bytes.
  virtual std::optional<std::string> redirectUrl(const std::string&) const { return std::nullopt; }
};

inline void StorageDriver::readStream(const std::string& path, uint64_t offset, uint64_t length,
                                      const std::function<bool(std::string_view)>& sink) const {
  constexpr uint64_t kPiece = 4 << 20;
  while (length > 0) {
    uint64_t want = std::min(length, kPiece);
    std::string piece = readRange(path, offset, want);
    if (piece.size() != want)
      throw Error(ErrorKind::kIo, "reading " + path + ": the file is shorter");
    if (!sink(piece)) return;
    offset += want;
    length -= want;
  }
}

// The local file system under `rootdirectory`; directories are created on first write.
// Nothing below `rootdirectory` is reached through a symbolic link, so no read, walk, write or
// removal leaves the store: a symlink anywhere on a path is nothing there to stat, read and
// list, a write through one fails (kIo), and remove() takes away the link itself and nothing
// it points at. `rootdirectory` itself may be a symlink; it is resolved once, here.
std::shared_ptr<StorageDriver> makeFsDriver(const std::filesystem::path& rootdirectory);

}  // namespace regfs
