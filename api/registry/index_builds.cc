#include "api/registry/index_builds.h"

#include <spdlog/spdlog.h>

#include <exception>

#include "common/layers/layer_index.h"

namespace regfs::api {

bool IndexBuilds::pending(const std::vector<Digest>& layers,
                          std::vector<std::shared_ptr<const layers::LayerIndex>>& held) {
  bool waiting = false;
  bool queued = false;
  for (const Digest& layer : layers) {
    if (auto index = trees_->indexes().find(layer)) {
      held.push_back(std::move(index));
      continue;
    }
    std::lock_guard lock(mu_);
    waiting = true;
    if (queued_.count(layer)) continue;
    auto now = std::chrono::steady_clock::now();
    std::erase_if(failed_, [&](const auto& f) { return now - f.second.at > kFailureKept; });
    if (auto failed = failed_.find(layer); failed != failed_.end())
      throw Error(failed->second.kind, failed->second.message);
    if (queue_.size() >= kMaxQueued || worker_.stopping()) continue;
    queue_.push_back(layer);
    queued_.insert(layer);
    queued = true;
  }
  if (queued) {
    {
      std::lock_guard lock(mu_);
      if (!started_) {
        started_ = true;
        worker_.start([this] { run(); });
      }
    }
    worker_.wake();
  }
  return waiting;
}

void IndexBuilds::run() {
  while (!worker_.stopping()) {
    std::optional<Digest> layer;
    {
      std::lock_guard lock(mu_);
      if (!queue_.empty()) {
        layer = queue_.front();
        queue_.pop_front();
      }
    }
    if (!layer) {
      if (!worker_.wait()) break;
      continue;
    }
    build(*layer);
    std::lock_guard lock(mu_);
    queued_.erase(*layer);
  }
}

void IndexBuilds::build(const Digest& layer) {
  auto started = std::chrono::steady_clock::now();
  try {
    auto index = trees_->indexes().get(layer, &worker_.stopFlag());
    spdlog::info("layer indexing: indexed {} for a request ({} entries) in {:.3f} s", layer.str(),
                 index->entries.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  } catch (const layers::IndexCancelled&) {
    // Stopping: nothing was stored.
  } catch (const Error& e) {
    spdlog::warn("layer indexing: cannot index {} for a request: {}", layer.str(), e.what());
    std::lock_guard lock(mu_);
    failed_[layer] = Failure{std::chrono::steady_clock::now(), e.kind(), e.what()};
  } catch (const std::exception& e) {
    spdlog::warn("layer indexing: cannot index {} for a request: {}", layer.str(), e.what());
    std::lock_guard lock(mu_);
    failed_[layer] = Failure{std::chrono::steady_clock::now(), ErrorKind::kIo, e.what()};
  }
}

}  // namespace regfs::api
