#pragma once
// Layer indexes that a request for the files inside an image needs and the store lacks,
// built on a thread of their own, so that no request waits for a build (a 1 GiB gzip layer
// takes seconds): the files API answers 503 INDEX_PENDING with Retry-After meanwhile, and the
// client asks again (the web UI does). One build at a time, at normal priority, beside
// regfs.indexing's idle-priority thread for pushes (api/ops/layer_indexer.h); a layer both want
// is built once (LayerIndexes). The queue is bounded (past it a request waits like the others,
// its layer queued when it asks again), and a layer whose build failed is not queued again for
// a while: its requests answer why it failed.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/error.h"
#include "common/layers/file_trees.h"
#include "common/worker.h"

namespace regfs::api {

class IndexBuilds {
 public:
  static constexpr size_t kMaxQueued = 64;
  static constexpr std::chrono::seconds kFailureKept{60};

  explicit IndexBuilds(std::shared_ptr<layers::FileTrees> trees) : trees_(std::move(trees)) {}
  ~IndexBuilds() { stop(); }
  IndexBuilds(const IndexBuilds&) = delete;
  IndexBuilds& operator=(const IndexBuilds&) = delete;

  // Whether a request for a tree of `layers` is to wait for indexes being built (answer
  // INDEX_PENDING): true when one of them has no index to read yet, which is then queued (if
  // it was not, and the queue has room) or being built. False when every index is there:
  // `held` keeps them loaded until the request's tree is built. Throws the error of a layer
  // whose build failed in the last kFailureKept (Error(kBlobUnknown) for a blob gone).
  bool pending(const std::vector<Digest>& layers,
               std::vector<std::shared_ptr<const layers::LayerIndex>>& held);

  // Cancels the build in progress (at its next read of the blob) and ends the thread.
  void stop() { worker_.stop(); }

 private:
  void run();
  void build(const Digest& layer);

  std::shared_ptr<layers::FileTrees> trees_;
  std::mutex mu_;
  std::deque<Digest> queue_;  // under mu_
  std::set<Digest> queued_;   // what queue_ holds and the one being built; under mu_
  struct Failure {
    std::chrono::steady_clock::time_point at;
    ErrorKind kind;
    std::string message;
  };
  std::map<Digest, Failure> failed_;  // under mu_
  bool started_ = false;              // under mu_
  Worker worker_{"index-builds"};     // started on the first build; last: stopped first
};

}  // namespace regfs::api
