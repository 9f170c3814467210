#include "common/write_behind.h"

#include <algorithm>
#include <cstring>
#include <new>

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

WriteBehind::WriteBehind(UploadWriter& writer) : writer_(writer), thread_([this] { run(); }) {}

WriteBehind::~WriteBehind() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void WriteBehind::write(StageBuffer buffer) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return error_ || queue_.size() + (busy_ ? 1 : 0) < kDepth; });
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
  changed_.wait(lock, [&] { return queue_.empty() && !busy_; });
  if (error_) std::rethrow_exception(error_);
}

void WriteBehind::run() {
  std::unique_lock lock(mu_);
  while (true) {
    changed_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;
    StageBuffer buffer = std::move(queue_.front());
    queue_.pop_front();
    bool skip = error_ != nullptr;
    busy_ = true;
    lock.unlock();
    std::exception_ptr failed;
    if (!skip) {
      try {
        writer_.write(buffer.data(), buffer.size());
      } catch (...) {
        failed = std::current_exception();
      }
    }
    buffer.clear();
    lock.lock();
    busy_ = false;
    if (failed && !error_) error_ = failed;
    if (spares_.size() < kDepth) spares_.push_back(std::move(buffer));
    changed_.notify_all();
  }
}

}  // namespace regfs
