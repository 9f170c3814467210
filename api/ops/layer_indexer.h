#pragma once
// regfs.indexing: the server indexes the tar layers of each pushed image
// (common/layers/layer_index.h) right after the push, so browsing the image (regfs-mount, the
// files API) finds its indexes ready. One thread does it, one layer at a time, at idle CPU
// and I/O priority; its memory is what one build takes (IndexLimits bound it).
//
// A pushed manifest waits in a bounded queue; the thread reads it and queues those of its
// layers that have no index yet (an index or an artifact has none of its own: imageLayers).
// Past the bound a manifest is dropped with a log line: the mount builds a missing index on
// first access anyway. stop() cancels the build in progress at its next read of the blob;
// nothing half-built is stored.

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>

#include "common/digest.h"
#include "common/layers/file_trees.h"
#include "common/layers/layer_index.h"
#include "common/store/store.h"
#include "common/worker.h"

namespace regfs::api {

class LayerIndexer {
 public:
  // Manifests and layers waiting, at most.
  static constexpr size_t kDefaultMaxQueue = 10000;

  // Builds through `trees`' layer indexes, which the server's requests use too: a layer a
  // request and the indexer both want is built once.
  explicit LayerIndexer(std::shared_ptr<layers::FileTrees> trees,
                        size_t maxQueue = kDefaultMaxQueue);
  ~LayerIndexer();  // stop()
  LayerIndexer(const LayerIndexer&) = delete;
  LayerIndexer& operator=(const LayerIndexer&) = delete;

  // The manifest `manifest` was pushed: queued for the thread (at once; never throws).
  void manifestPushed(const Digest& manifest);
  // Cancels the build in progress and waits for the thread to end. Idempotent.
  void stop();
  // The regfs_layer_index_* metrics.
  void collect(std::string& out) const;

 private:
  enum class Result { kOk, kUnreadable, kError };
  void run();
  // Queues `digest` on `queue` unless it is there already; false (counted, logged once) when
  // the queues are full. Under mu_.
  bool enqueueLocked(std::deque<Digest>& queue, const Digest& digest);
  void expand(const Digest& manifest);
  void index(const Digest& layer);
  void count(Result result, std::chrono::nanoseconds took);

  std::shared_ptr<layers::FileTrees> trees_;
  layers::LayerIndexes& indexes_;  // trees_'s
  size_t maxQueue_;
  mutable std::mutex mu_;
  std::deque<Digest> manifests_;    // pushed, not read yet; under mu_
  std::deque<Digest> layers_;       // to index; under mu_
  std::set<Digest> queued_;         // what both queues hold; under mu_
  bool full_ = false;               // the queues were full at the last enqueue; under mu_
  uint64_t dropped_ = 0;            // manifests not queued; under mu_
  uint64_t results_[3] = {};        // builds by Result; under mu_
  double seconds_ = 0;              // time spent building; under mu_
  Worker worker_{"layer-indexer"};  // last: stopped first
};

}  // namespace regfs::api
