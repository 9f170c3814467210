#pragma once
// One upstream fetch per blob, however many clients ask at once. The first request starts a
// fill: a thread that GETs the blob from the upstream into an upload session of the store,
// hashing it as it streams. Every client, the first included, is streamed the bytes as they
// land, read back from the growing file (bounded memory, whatever the size); on remote
// storage (S3), which cannot read an upload back, from a spool file the fill also writes in
// the temporary directory. The blob is committed and linked into the repository, as a push
// would, only when its size and digest match; otherwise nothing is kept and every client is
// cut short of its Content-Length (the stream throws), and the next request fetches again.

#include <atomic>
#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/mirror/mirror.h"
#include "api/mirror/upstream.h"
#include "common/error.h"
#include "common/store/store.h"
#include "common/unique_fd.h"
#include "common/worker.h"

namespace regfs::api::mirror {

// The state of one fill, shared by its thread and the clients streaming from it.
class BlobFill {
 public:
  // Until the size is known; throws why the fill failed before that.
  uint64_t waitForSize();
  // Hands `length` bytes from `offset` to `sink` as the fill brings them (StorageDriver::
  // readStream's contract); throws Error(kUnavailable) when the fill fails first.
  void streamTo(uint64_t offset, uint64_t length,
                const std::function<bool(std::string_view)>& sink);

  // The fill thread's side.
  void setSource(UniqueFd fd);
  void setSize(uint64_t size);
  void landed(uint64_t bytes);  // that many more bytes are in the file
  void succeed();
  void fail(ErrorKind kind, std::string why);

 private:
  // Waits (holding `lock`) for bytes past `pos`, the end, or a failure; throws on failure.
  uint64_t waitPast(std::unique_lock<std::mutex>& lock, uint64_t pos);

  std::mutex mu_;
  std::condition_variable changed_;
  UniqueFd source_;               // the upload's file or the spool, set before the size
  std::optional<uint64_t> size_;  // under mu_
  uint64_t landed_ = 0;           // under mu_
  bool done_ = false;             // committed, under mu_
  std::optional<Error> failure_;  // under mu_
};

// The fills running, by repository and digest, and their threads.
class BlobFills {
 public:
  BlobFills(Store store, MirrorCounters& counters)
      : store_(std::move(store)), counters_(counters) {}
  // stopAll()
  ~BlobFills();
  BlobFills(const BlobFills&) = delete;
  BlobFills& operator=(const BlobFills&) = delete;

  // The fill of `digest` into `repo`, started from `up` unless one is running.
  std::shared_ptr<BlobFill> join(const RepoName& repo, const Digest& digest,
                                 const Upstreams::Choice& up);
  // The one running, if any.
  std::shared_ptr<BlobFill> find(const RepoName& repo, const Digest& digest);
  // Stops every fill (its clients are cut short) and joins its thread; join() then throws
  // kUnavailable. Idempotent.
  void stopAll();

 private:
  struct Filler {
    std::shared_ptr<BlobFill> fill;
    std::unique_ptr<Worker> worker;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  void run(const std::shared_ptr<BlobFill>& fill, const RepoName& repo, const Digest& digest,
           const Upstreams::Choice& up, const std::atomic<bool>& stop);
  // Joins the threads whose fill ended. Holds mu_.
  void reap();

  Store store_;
  MirrorCounters& counters_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<BlobFill>> running_;  // under mu_
  std::list<Filler> fillers_;                                 // under mu_
  bool stopped_ = false;                                      // under mu_
};

}  // namespace regfs::api::mirror
