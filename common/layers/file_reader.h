#pragma once
// Reads one file inside a layer: its entry's data from the layer's uncompressed stream, with a
// sparse file's holes read as zeros. What the view, the HTTP extension and export read files
// with.

#include <cstdint>
#include <memory>

#include "common/layers/entry.h"
#include "common/layers/stream.h"

namespace regfs::layers {

class FileReader {
 public:
  // `blob`, `points` and `entry` (a regular file) must outlive the reader.
  FileReader(const BlobSource& blob, const SeekPoints& points, const Entry& entry);
  // Reads through the layer's shared readers (`pool` and `entry` outlive the reader).
  FileReader(StreamReaderPool& pool, const Entry& entry);
  // Reads through `stream`, a reader of the file's layer that outlives this one and is used by
  // one FileReader at a time: files read in stream order (export) then continue where the last
  // one stopped, instead of decompressing from a checkpoint each.
  FileReader(StreamReader& stream, const Entry& entry);
  // Up to `length` bytes at `offset` of the file into `buffer`; fewer only at its end. Not
  // thread-safe. Throws Error(kIo) when the layer no longer reads as it was indexed.
  size_t read(uint64_t offset, void* buffer, size_t length);
  uint64_t size() const { return entry_.size; }

 private:
  // Reads exactly `length` stream bytes at `offset` (kIo if the stream ends first).
  void readStream(uint64_t offset, char* buffer, size_t length);
  const Entry& entry_;
  std::unique_ptr<StreamReader> own_;  // the first constructor's
  StreamReader* stream_ = nullptr;     // own_, or the one given
  StreamReaderPool* pool_ = nullptr;
};

// The bytes of a file's data in the stream (a sparse file's runs, summed).
uint64_t storedSize(const Entry& entry);

}  // namespace regfs::layers
