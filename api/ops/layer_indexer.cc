#include "api/ops/layer_indexer.h"

#include <linux/ioprio.h>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "api/ops/metrics.h"
#include "common/layers/image.h"
#include "common/manifest.h"

namespace regfs::api {
namespace {

// This thread only: SCHED_IDLE and nice 19 for the CPU, the idle class for the disk, so
// indexing takes what requests leave. Each is best effort (a container may refuse one).
void lowerThisThreadsPriority() {
  pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  sched_param param{};
  if (::sched_setscheduler(0, SCHED_IDLE, &param) != 0)
    spdlog::debug("layer indexing: SCHED_IDLE refused: {}", std::strerror(errno));
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), 19) != 0)
    spdlog::debug("layer indexing: nice 19 refused: {}", std::strerror(errno));
  if (::syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) !=
      0)
    spdlog::debug("layer indexing: idle I/O class refused: {}", std::strerror(errno));
}

double secondsOf(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

LayerIndexer::LayerIndexer(std::shared_ptr<layers::FileTrees> trees, size_t maxQueue)
    : trees_(std::move(trees)), indexes_(trees_->indexes()), maxQueue_(maxQueue) {
  worker_.start([this] { run(); });
}

LayerIndexer::~LayerIndexer() { stop(); }

void LayerIndexer::stop() { worker_.stop(); }

bool LayerIndexer::enqueueLocked(std::deque<Digest>& queue, const Digest& digest) {
  if (queued_.count(digest)) return true;
  if (queued_.size() >= maxQueue_) {
    dropped_++;
    // One line when the queue fills up, not one per push while it stays full.
    if (!full_) {
      spdlog::warn(
          "layer indexing: {} manifests and layers are waiting; {} and what comes next while "
          "the queue is full are not indexed now (the view indexes layers on first access)",
          queued_.size(), digest.str());
    }
    full_ = true;
    return false;
  }
  full_ = false;
  queue.push_back(digest);
  queued_.insert(digest);
  return true;
}

void LayerIndexer::manifestPushed(const Digest& manifest) {
  {
    std::lock_guard lock(mu_);
    if (!enqueueLocked(manifests_, manifest)) return;
  }
  worker_.wake();
}

void LayerIndexer::run() {
  ::pthread_setname_np(::pthread_self(), "layer-indexer");
  lowerThisThreadsPriority();
  while (!worker_.stopping()) {
    // Manifests first: reading one is cheap, and it tells which layers wait.
    std::optional<Digest> manifest, layer;
    {
      std::lock_guard lock(mu_);
      if (!manifests_.empty()) {
        manifest = manifests_.front();
        manifests_.pop_front();
      } else if (!layers_.empty()) {
        layer = layers_.front();
      }
    }
    if (manifest) {
      expand(*manifest);
      std::lock_guard lock(mu_);
      queued_.erase(*manifest);
    } else if (layer) {
      index(*layer);
      // Popped only now, so that a push of the same layer meanwhile is not queued again.
      std::lock_guard lock(mu_);
      layers_.pop_front();
      queued_.erase(*layer);
    } else if (!worker_.wait()) {
      break;
    }
  }
}

void LayerIndexer::expand(const Digest& manifest) {
  try {
    layers::ImageLayers image =
        layers::imageLayers(parseStoredManifest(indexes_.store().readBlob(manifest)));
    if (!image.why.empty()) {
      spdlog::debug("layer indexing: {} has no layers to index: {}", manifest.str(), image.why);
      return;
    }
    for (const Descriptor& layer : image.layers) {
      if (indexes_.load(layer.digest)) continue;
      std::lock_guard lock(mu_);
      enqueueLocked(layers_, layer.digest);
    }
  } catch (const std::exception& e) {
    // Deleted since, or not what its push said: nothing to index.
    spdlog::warn("layer indexing: cannot read manifest {}: {}", manifest.str(), e.what());
  }
}

void LayerIndexer::index(const Digest& layer) {
  auto started = std::chrono::steady_clock::now();
  auto took = [&] { return std::chrono::steady_clock::now() - started; };
  try {
    auto built = indexes_.get(layer, &worker_.stopFlag());
    if (built->failure) {
      spdlog::info("layer indexing: {} cannot be read as a tar layer: {}", layer.str(),
                   built->failure->message);
      count(Result::kUnreadable, took());
    } else {
      spdlog::info("layer indexing: indexed {} ({} entries) in {:.3f} s", layer.str(),
                   built->entries.size(), secondsOf(took()));
      count(Result::kOk, took());
    }
  } catch (const layers::IndexCancelled&) {
    spdlog::info("layer indexing: stopped while indexing {}; it is indexed on first access",
                 layer.str());
  } catch (const std::exception& e) {
    spdlog::warn("layer indexing: cannot index {}: {}", layer.str(), e.what());
    count(Result::kError, took());
  }
}

void LayerIndexer::count(Result result, std::chrono::nanoseconds took) {
  std::lock_guard lock(mu_);
  results_[static_cast<size_t>(result)]++;
  seconds_ += secondsOf(took);
}

void LayerIndexer::collect(std::string& out) const {
  std::lock_guard lock(mu_);
  appendMetricHeader(out, "regfs_layer_index_queue_length", "gauge",
                     "Pushed manifests and their layers waiting to be indexed, by kind.");
  appendSample(out, "regfs_layer_index_queue_length", {{"kind", "manifest"}},
               static_cast<double>(manifests_.size()));
  appendSample(out, "regfs_layer_index_queue_length", {{"kind", "layer"}},
               static_cast<double>(layers_.size()));
  appendMetricHeader(out, "regfs_layer_index_dropped_total", "counter",
                     "Pushed manifests and layers not indexed because the queue was full.");
  appendSample(out, "regfs_layer_index_dropped_total", {}, static_cast<double>(dropped_));
  appendMetricHeader(out, "regfs_layer_indexes_built_total", "counter",
                     "Layers indexed after a push, by result (ok; unreadable: not a tar layer, "
                     "corrupt or past a limit, recorded as such; error: storage failed).");
  const char* labels[] = {"ok", "unreadable", "error"};
  for (size_t i = 0; i < 3; ++i)
    appendSample(out, "regfs_layer_indexes_built_total", {{"result", labels[i]}},
                 static_cast<double>(results_[i]));
  appendMetricHeader(out, "regfs_layer_index_build_duration_seconds", "summary",
                     "Time spent indexing layers after pushes.");
  appendSample(out, "regfs_layer_index_build_duration_seconds_sum", {}, seconds_);
  appendSample(out, "regfs_layer_index_build_duration_seconds_count", {},
               static_cast<double>(results_[0] + results_[1] + results_[2]));
}

}  // namespace regfs::api
