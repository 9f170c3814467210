#include "common/layers/file_reader.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"

namespace regfs::layers {

uint64_t storedSize(const Entry& entry) {
  if (entry.sparse.empty()) return entry.size;
  uint64_t stored = 0;
  for (const Extent& x : entry.sparse) stored += x.length;
  return stored;
}

FileReader::FileReader(const BlobSource& blob, const SeekPoints& points, const Entry& entry)
    : entry_(entry), own_(std::make_unique<StreamReader>(blob, points)), stream_(own_.get()) {}

FileReader::FileReader(StreamReaderPool& pool, const Entry& entry) : entry_(entry), pool_(&pool) {}

FileReader::FileReader(StreamReader& stream, const Entry& entry)
    : entry_(entry), stream_(&stream) {}

void FileReader::readStream(uint64_t offset, char* buffer, size_t length) {
  while (length > 0) {
    size_t n = pool_ ? pool_->read(offset, buffer, length) : stream_->read(offset, buffer, length);
    if (n == 0) throw Error(ErrorKind::kIo, "the layer ends before the file's data does");
    offset += n;
    buffer += n;
    length -= n;
  }
}

size_t FileReader::read(uint64_t offset, void* buffer, size_t length) {
  if (offset >= entry_.size) return 0;
  length = static_cast<size_t>(std::min<uint64_t>(length, entry_.size - offset));
  char* out = static_cast<char*>(buffer);
  if (entry_.sparse.empty()) {
    readStream(entry_.dataOffset + offset, out, length);
    return length;
  }
  // Holes read as zeros; each run comes from where it is stored, runs back to back.
  std::memset(out, 0, length);
  uint64_t stored = entry_.dataOffset;
  for (const Extent& x : entry_.sparse) {
    uint64_t from = std::max(offset, x.offset);
    uint64_t to = std::min(offset + length, x.offset + x.length);
    if (from < to)
      readStream(stored + (from - x.offset), out + (from - offset), static_cast<size_t>(to - from));
    stored += x.length;
    if (x.offset >= offset + length) break;
  }
  return length;
}

}  // namespace regfs::layers
