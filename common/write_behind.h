#pragma once
// Writes an upload's bytes on a thread of its own, so the thread that receives and hashes
// them does not also wait for each write(): receiving plus hashing and writing then run on
// two cores at once. At most kDepth buffers are queued or being written; a caller that gets
// that far ahead waits, so memory stays bounded whatever the disk's speed.

#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "common/store.h"

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
  void clear() { size_ = 0; }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

class WriteBehind {
 public:
  static constexpr size_t kDepth = 4;

  // `writer` is used by the thread until drain() returns or this is destroyed; nothing else
  // may touch it meanwhile.
  explicit WriteBehind(UploadWriter& writer);
  // Writes what is still queued (unless a write failed) and stops the thread.
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Queues `buffer` to be written after everything queued before it; waits while kDepth
  // buffers are in flight. Throws the first error a write met: once one failed, nothing
  // later is written, so the file never holds a gap.
  void write(StageBuffer buffer);
  // An empty buffer of `capacity` bytes to fill next: one written before when there is one.
  StageBuffer spare(size_t capacity);
  // Returns once everything queued is written; throws the first error a write met.
  void drain();

 private:
  void run();

  UploadWriter& writer_;
  std::mutex mu_;
  std::condition_variable changed_;  // the queue, busy_, error_ or stop_ changed
  std::deque<StageBuffer> queue_;
  std::vector<StageBuffer> spares_;
  bool busy_ = false;  // the thread is writing a buffer it took off the queue
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: it starts once everything above is ready
};

}  // namespace regfs
