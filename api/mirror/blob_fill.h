#pragma once
// One upstream fetch per blob, however many clients ask at once. The first request starts a
// fill: a thread that GETs the blob from the upstream into an upload session of the store,
// hashing it as it streams. Every client, the first included, is sent the bytes as they
// land, read back from the growing file by its connection (bounded memory, whatever the
// size, and no thread per client); on remote storage (S3), which cannot read an upload back,
// from a spool file the fill also writes in the temporary directory. The blob is committed
// and linked into the repository, as a push would, only when its size and digest match;
// otherwise nothing is kept, every client is cut short of its Content-Length, and the next
// request fetches again.

#include <atomic>
#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/mirror/mirror.h"
#include "api/mirror/upstream.h"
#include "common/error.h"
#include "common/store/store.h"
#include "common/unique_fd.h"
#include "common/worker.h"

namespace regfs::api::mirror {

// The state of one fill, shared by its thread and the clients it is sent to: a file that
// grows (the upload's, or the spool), which the connection layer sends from as it does a
// stored blob's, as far as the fill says it may.
class BlobFill : public GrowingFile {
 public:
  // Until the size is known; throws why the fill failed before that.
  uint64_t waitForSize();
  // The file the bytes land in, opened anew for one client (its offsets are its own).
  UniqueFd openSource() const;
  // GrowingFile: the bytes landed; throws Error(kUnavailable) once the fill failed.
  uint64_t readable(uint64_t offset, std::function<void()> wake) override;

  // The fill thread's side.
  void setSource(UniqueFd fd);
  void setSize(uint64_t size);
  void landed(uint64_t bytes);  // that many more bytes are in the file
  void succeed();
  void fail(ErrorKind kind, std::string why);

 private:
  // Calls the clients waiting for more (outside mu_: a wake queues work on their connection).
  static void wakeAll(std::vector<std::function<void()>> waiting);

  mutable std::mutex mu_;
  std::condition_variable changed_;
  UniqueFd source_;               // the upload's file or the spool, set before the size
  std::optional<uint64_t> size_;  // under mu_
  uint64_t landed_ = 0;           // under mu_
  bool done_ = false;             // committed, under mu_
  std::optional<Error> failure_;  // under mu_
  std::vector<std::function<void()>> waiting_;  // clients to wake when more lands, under mu_
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
