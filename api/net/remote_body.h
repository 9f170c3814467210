#pragma once
// Blob bodies on remote storage (S3): each is read by a thread of its own into a small
// queue that the connection's reactor thread sends from, and the server owns those threads.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace regfs::api {

// A body arrives from its one streamed read in pieces of this size, at most kRemoteQueued
// of them waiting to be sent.
constexpr size_t kRemotePiece = 1 << 20;
constexpr size_t kRemoteQueued = 4;

// A file on remote storage, read by a thread of its own into a small queue that the
// reactor sends from. Neither side waits for the other's thread: the reader blocks only
// when the queue is full, and a reactor that finds it empty parks; the reader's next piece
// wakes it.
class RemoteBody {
 public:
  // Called on the reader thread to get the reactor going again after it parked.
  using Wake = std::function<void()>;

  // Queues a piece, waiting for room; false once cancelled.
  bool push(std::string piece, const Wake& wake);

  // The reader is done: all queued, or `failure` says why not.
  void finish(std::string failure, const Wake& wake);

  // The download is over on the reactor's side: the reader stops at its next piece.
  void cancel();

  enum class Next { kPiece, kParked, kEnd };
  // On the reactor: the next piece, or kParked (the reader wakes it), or kEnd (then
  // `failure` says whether the reader failed).
  Next take(std::string& piece, std::string& failure);

 private:
  void wakeIfParked(std::unique_lock<std::mutex>& lock, const Wake& wake);

  std::mutex mutex_;
  std::condition_variable room_;
  std::deque<std::string> pieces_;
  bool done_ = false;
  bool cancelled_ = false;
  bool parked_ = false;
  std::string failure_;
};

// The reader threads of every remote body being sent. stopAll() (at the drain, or when
// the server goes) cancels every read in progress and joins its thread, so none outlives
// the connection handlers it wakes; a read blocked in the storage ends at its next piece
// or at the storage client's timeout.
class RemoteReaders {
 public:
  RemoteReaders() = default;
  ~RemoteReaders() { stopAll(); }
  RemoteReaders(const RemoteReaders&) = delete;
  RemoteReaders& operator=(const RemoteReaders&) = delete;

  // Runs `read`, which fills `body`, on a thread of its own; after stopAll() it only
  // cancels `body`.
  void start(std::shared_ptr<RemoteBody> body, std::function<void()> read);
  void stopAll();

 private:
  struct Reader {
    std::shared_ptr<RemoteBody> body;
    std::shared_ptr<std::atomic<bool>> done;
    std::thread thread;
  };
  // Joins the readers that are done. Holds mu_.
  void reap();
  std::mutex mu_;
  std::list<Reader> readers_;  // under mu_
  bool stopped_ = false;       // under mu_
};

}  // namespace regfs::api
