#pragma once
// A layer blob as a stream of tar bytes: what compression it has, one sequential pass that
// decompresses it and records where a later read may start (seek points), and random reads
// of the uncompressed stream from those points.
//
//   gzip   zlib's zran approach: at deflate block boundaries at least `span` bytes of output
//          apart, a checkpoint keeps the input bit position and the last 32 KiB of output
//          (the window, stored compressed); a read inflates from the checkpoint at or before
//          it, so it inflates about one span before its first byte. Checkpoints spread out
//          where the windows would pass their share of the output (data that compresses
//          badly has windows that do too), so the index stays small. Several gzip
//          members one after another (concatenated .gz) are one stream.
//   zstd   a checkpoint at a frame start at least `span` of output past the last (so a
//          stream of tiny frames cannot grow the index past one point per span); a
//          single-frame layer has only the start, so a read there decompresses from the
//          beginning (StreamReader keeps its position, so reads that go forward continue
//          where the last one stopped).
//   none   the tar itself: reads are ranged reads of the blob.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace regfs {
class Store;
class Digest;
}  // namespace regfs

namespace regfs::layers {

enum class Compression : uint8_t { kNone, kGzip, kZstd };

// By the magic bytes at the start of a blob (gzip 1f 8b, zstd 28 b5 2f fd or a skippable
// frame's 5? 2a 4d 18); anything else is taken as a plain tar.
Compression detectCompression(std::string_view head);
std::string_view compressionName(Compression compression);  // "none", "gzip", "zstd"

// Where a layer's bytes come from. Thread-safe: readAt() may be called from several threads.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  virtual uint64_t size() const = 0;
  // Up to `length` bytes at `offset` into `buffer`; fewer only at the end of the blob.
  // Throws Error(kIo) when storage fails.
  virtual size_t readAt(uint64_t offset, void* buffer, size_t length) const = 0;
};
// A blob of the store: pread on the local file when there is one, ranged reads otherwise.
// Throws Error(kBlobUnknown) when the blob is not there. `store` must outlive the source.
std::unique_ptr<BlobSource> openBlobSource(const Store& store, const Digest& blob);
// Bytes in memory (tests, fuzzers); `bytes` must outlive the source.
std::unique_ptr<BlobSource> memorySource(std::string_view bytes);

struct Checkpoint {
  uint64_t out = 0;    // offset in the uncompressed stream
  uint64_t in = 0;     // offset in the blob of the first byte to feed (gzip: holding `bits`)
  uint8_t bits = 0;    // gzip: bits of the byte before `in` that belong to the next block (0-7)
  std::string window;  // gzip: the 32 KiB (or fewer, near the start) before `out`, compressed
  bool operator==(const Checkpoint&) const = default;
};

struct SeekPoints {
  Compression compression = Compression::kNone;
  uint64_t compressedSize = 0;          // the blob's size
  uint64_t uncompressedSize = 0;        // the stream's size
  std::vector<Checkpoint> checkpoints;  // ascending by out; the first at out 0 (but for kNone)
  bool operator==(const SeekPoints&) const = default;
};

struct ScanOptions {
  uint64_t span = 1 << 20;  // output between checkpoints, at least (gzip and zstd)
  // gzip: the stored windows stay under this share of the output (plus one window); where
  // they would not, checkpoints are further apart than `span`.
  double windowShare = 0.01;
  // A layer that inflates to more than this is refused (a gzip bomb): Error(kSizeInvalid).
  uint64_t maxUncompressed = uint64_t{64} << 30;
};

// Decompresses `blob` from start to end, handing the uncompressed bytes in order to `sink`
// (in pieces of any size), and returns where later reads may start. Throws
// Error(kInvalidArgument) for a corrupt or truncated stream (a gzip whose CRC or length does
// not match, trailing garbage that is not another member), Error(kSizeInvalid) past
// maxUncompressed, and what `sink` throws.
SeekPoints scanStream(const BlobSource& blob, const std::function<void(std::string_view)>& sink,
                      const ScanOptions& options = {});

// Random reads of the uncompressed stream. One reader per sequence of reads (an open file):
// not thread-safe, but readers over the same blob and points are independent. `blob` and
// `points` must outlive the reader.
class StreamReader {
 public:
  StreamReader(const BlobSource& blob, const SeekPoints& points);
  ~StreamReader();
  // Up to `length` bytes at `offset` of the uncompressed stream into `buffer`; fewer only at
  // its end. A read that starts where the previous one ended continues without seeking.
  // Throws Error(kIo) when the blob does not decompress as it did when it was scanned.
  size_t read(uint64_t offset, void* buffer, size_t length);
  // True when a read at `offset` would continue from where this reader stands, decompressing
  // only what lies between (no seek back to a checkpoint).
  bool continuesTo(uint64_t offset) const;
  // Where the last read ended (0 before the first).
  uint64_t position() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The readers of one layer's stream, shared by everything that reads files of it: a read goes
// to the reader that can continue to it (files read one after another in tar order cost one
// pass over the layer, not a seek each), else to a fresh one. Thread-safe: each read has a
// reader of its own while it lasts; at most `keep` idle readers are kept. A read that could
// continue where a read in progress will end waits for that one rather than decompress from
// a checkpoint (two threads reading neighbouring files: a reader and a read-ahead).
class StreamReaderPool {
 public:
  StreamReaderPool(const BlobSource& blob, const SeekPoints& points, size_t keep = 2);
  ~StreamReaderPool();
  size_t read(uint64_t offset, void* buffer, size_t length);

 private:
  const BlobSource& blob_;
  const SeekPoints& points_;
  size_t keep_;
  std::mutex mutex_;
  std::condition_variable returned_;                 // a busy reader went back to idle_
  std::vector<std::unique_ptr<StreamReader>> idle_;  // guarded by mutex_; least recent first
  std::vector<uint64_t> busyEnds_;                   // guarded by mutex_: where reads will end
};

}  // namespace regfs::layers
