#include "common/store/write_behind.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "common/worker.h"

namespace regfs {

StageBuffer::StageBuffer(size_t capacity)
    : data_(static_cast<char*>(std::aligned_alloc(
          FileWriter::kDirectAlign, (capacity + FileWriter::kDirectAlign - 1) /
                                        FileWriter::kDirectAlign * FileWriter::kDirectAlign))),
      capacity_(capacity) {
  if (!data_) throw std::bad_alloc();
}

size_t StageBuffer::fill(std::string_view bytes) {
  size_t n = std::min(bytes.size(), capacity_ - size_);
  if (n > 0) std::memcpy(data_.get() + size_, bytes.data(), n);
  size_ += n;
  return n;
}

WriteBehind::WriteBehind(UploadWriter& writer, Hasher* hasher)
    : writer_(writer), hasher_(hasher), writerThread_(namedThread("write-behind", [this] {
        consume(written_, [this](const StageBuffer& b) { writer_.write(b.data(), b.size()); });
      })) {
  if (hasher_) {
    hasherThread_ = namedThread("hash-behind", [this] {
      consume(hashed_, [this](const StageBuffer& b) { hasher_->update(b.data(), b.size()); });
    });
  }
}

WriteBehind::~WriteBehind() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  writerThread_.join();
  if (hasherThread_.joinable()) hasherThread_.join();
}

void WriteBehind::write(StageBuffer buffer) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return error_ || queue_.size() < kDepth; });
  if (error_) std::rethrow_exception(error_);
  queue_.push_back(std::move(buffer));
  changed_.notify_all();
}

StageBuffer WriteBehind::spare(size_t capacity) {
  std::lock_guard lock(mu_);
  while (!spares_.empty()) {
    StageBuffer b = std::move(spares_.back());
    spares_.pop_back();
    if (b.capacity() == capacity) return b;
  }
  return StageBuffer(capacity);
}

void WriteBehind::drain() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return queue_.empty(); });
  if (error_) std::rethrow_exception(error_);
}

void WriteBehind::consume(uint64_t& next, const std::function<void(const StageBuffer&)>& use) {
  std::unique_lock lock(mu_);
  while (true) {
    changed_.wait(lock, [&] { return stop_ || next < base_ + queue_.size(); });
    if (next == base_ + queue_.size()) return;  // stopped, and nothing left
    // A deque keeps its elements in place while others are added at the back, and the
    // front is not released before this consumer is done with it.
    const StageBuffer& buffer = queue_[next - base_];
    bool skip = error_ != nullptr;  // after a failure nothing more is written or hashed
    lock.unlock();
    std::exception_ptr failed;
    try {
      if (!skip) use(buffer);
    } catch (...) {
      failed = std::current_exception();
    }
    lock.lock();
    if (failed && !error_) error_ = failed;
    ++next;
    release();
    changed_.notify_all();
  }
}

void WriteBehind::release() {
  uint64_t done = hasher_ ? std::min(written_, hashed_) : written_;
  while (base_ < done) {
    StageBuffer b = std::move(queue_.front());
    queue_.pop_front();
    ++base_;
    b.clear();
    if (spares_.size() < kDepth) spares_.push_back(std::move(b));
  }
}

}  // namespace regfs
