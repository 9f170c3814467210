#include "api/registry/index_builds.h"

#include <spdlog/spdlog.h>

#include <exception>

#include "common/layers/layer_index.h"

namespace regfs::api {

bool IndexBuilds::pending(const std::vector<Digest>& layers,
                          std::vector<std::shared_ptr<const layers::LayerIndex>>& held) {
  bool waiting = false;
  for (const Digest& layer : layers) {
    if (auto index = trees_->indexes().find(layer)) {
      held.push_back(std::move(index));
      continue;
    }
    std::lock_guard lock(mu_);
    if (queued_.count(layer)) {
      waiting = true;
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    std::erase_if(failed_, [&](const auto& f) { return now - f.second > kFailureKept; });
    if (failed_.count(layer) || queue_.size() >= kMaxQueued) return false;
    queue_.push_back(layer);
    queued_.insert(layer);
    waiting = true;
  }
  if (waiting) {
    if (!worker_.started()) worker_.start([this] { run(); });
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
  } catch (const std::exception& e) {
    spdlog::warn("layer indexing: cannot index {} for a request: {}", layer.str(), e.what());
    std::lock_guard lock(mu_);
    failed_[layer] = std::chrono::steady_clock::now();
  }
}

}  // namespace regfs::api
