#pragma once
// Hashes and writes an upload's bytes on threads of their own, so the thread that receives
// them does neither: receiving, hashing (SHA-256 keeps a core busy at upload
// speeds) and writing then overlap. At most kDepth buffers are queued, being hashed or being
// written; a caller that gets that far ahead waits, so memory stays bounded whatever the disk's
// speed.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "common/digest.h"
#include "common/handles.h"
#include "common/store/store.h"

namespace regfs {

// Memory for one stage of an upload, aligned so that a file system can take it by direct
// I/O (FileWriter::kDirectAlign), filled from the front.
class StageBuffer {
 public:
  StageBuffer() = default;
  explicit StageBuffer(size_t capacity);
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Appends as much of `bytes` as fits and returns how much that was.
  size_t fill(std::string_view bytes);
  // The free space after the bytes held, and taking `n` bytes put there.
  std::span<char> space() { return {data_.get() + size_, capacity_ - size_}; }
  void grow(size_t n) { size_ += std::min(n, capacity_ - size_); }
  void clear() { size_ = 0; }

 private:
  CPtr<char, std::free> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

class WriteBehind {
 public:
  static constexpr size_t kDepth = 4;

  // `writer` (and `hasher`, when given) are used by the threads until drain() returns or
  // this is destroyed; nothing else may touch them meanwhile. The hasher is fed every
  // buffer, in order, on a thread of its own while the writer thread writes it.
  explicit WriteBehind(UploadWriter& writer, Hasher* hasher = nullptr);
  // Writes what is still queued (unless a write failed) and stops the threads.
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Queues `buffer` to be hashed and written after everything queued before it; waits while
  // kDepth buffers are in flight. Throws the first error a write met: once one failed,
  // nothing later is written, so the file never holds a gap.
  void write(StageBuffer buffer);
  // An empty buffer of `capacity` bytes to fill next: one written before when there is one.
  StageBuffer spare(size_t capacity);
  // Returns once everything queued is hashed and written; throws the first error a write met.
  void drain();

 private:
  // A consumer of the queue: takes each buffer in order, `next` counting those it is done with.
  void consume(uint64_t& next, const std::function<void(const StageBuffer&)>& use);
  // Recycles the buffers at the front that every consumer is done with. Holds mu_.
  void release();

  UploadWriter& writer_;
  Hasher* hasher_;
  std::mutex mu_;
  std::condition_variable changed_;  // the queue, a position, error_ or stop_ changed
  std::deque<StageBuffer> queue_;    // queue_[0] is buffer number `base_`
  uint64_t base_ = 0;
  uint64_t written_ = 0;  // buffers written (or skipped after an error)
  uint64_t hashed_ = 0;   // buffers hashed; stays equal to written_'s bound without a hasher
  std::vector<StageBuffer> spares_;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread writerThread_;  // last: they start once everything above is ready
  std::thread hasherThread_;
};

}  // namespace regfs
