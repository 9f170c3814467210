#include "api/net/remote_body.h"

#include <atomic>
#include <utility>

#include "common/worker.h"

namespace regfs::api {

bool RemoteBody::push(std::string piece, const Wake& wake) {
  std::unique_lock lock(mutex_);
  room_.wait(lock, [&] { return pieces_.size() < kRemoteQueued || cancelled_; });
  if (cancelled_) return false;
  pieces_.push_back(std::move(piece));
  wakeIfParked(lock, wake);
  return true;
}

void RemoteBody::finish(std::string failure, const Wake& wake) {
  std::unique_lock lock(mutex_);
  done_ = true;
  failure_ = std::move(failure);
  wakeIfParked(lock, wake);
}

void RemoteBody::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  pieces_.clear();
  room_.notify_all();
}

RemoteBody::Next RemoteBody::take(std::string& piece, std::string& failure) {
  std::lock_guard lock(mutex_);
  if (!pieces_.empty()) {
    piece = std::move(pieces_.front());
    pieces_.pop_front();
    room_.notify_one();
    return Next::kPiece;
  }
  if (done_) {
    failure = failure_;
    return Next::kEnd;
  }
  parked_ = true;
  return Next::kParked;
}

void RemoteBody::wakeIfParked(std::unique_lock<std::mutex>& lock, const Wake& wake) {
  bool parked = std::exchange(parked_, false);
  lock.unlock();
  if (parked) wake();
}

void RemoteReaders::start(std::shared_ptr<RemoteBody> body, std::function<void()> read) {
  std::lock_guard lock(mu_);
  reap();
  if (stopped_) {
    body->cancel();
    return;
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread thread = namedThread("remote-body", [read = std::move(read), done] {
    read();
    *done = true;
  });
  readers_.push_back(Reader{std::move(body), std::move(done), std::move(thread)});
}

void RemoteReaders::reap() {
  for (auto it = readers_.begin(); it != readers_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = readers_.erase(it);
    } else {
      ++it;
    }
  }
}

void RemoteReaders::stopAll() {
  std::list<Reader> readers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    readers.swap(readers_);
  }
  for (Reader& r : readers) r.body->cancel();
  for (Reader& r : readers) r.thread.join();
}

}  // namespace regfs::api
