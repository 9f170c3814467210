#include <spdlog/spdlog.h>

#include "common/layers/layer_index.h"
#include "common/store/layout.h"

namespace regfs::layers {
namespace {

// A blob whose reads stop once `cancel` is set: the scan ends at its next read.
class CancellableSource : public BlobSource {
 public:
  CancellableSource(const BlobSource& blob, const std::atomic<bool>& cancel)
      : blob_(blob), cancel_(cancel) {}
  uint64_t size() const override { return blob_.size(); }
  size_t readAt(uint64_t offset, void* buffer, size_t length) const override {
    if (cancel_.load(std::memory_order_relaxed)) throw IndexCancelled("indexing cancelled");
    return blob_.readAt(offset, buffer, length);
  }

 private:
  const BlobSource& blob_;
  const std::atomic<bool>& cancel_;
};

}  // namespace

LayerIndexes::LayerIndexes(Store store, IndexLimits limits)
    : store_(std::move(store)), limits_(std::move(limits)) {}

std::shared_ptr<const LayerIndex> LayerIndexes::load(const Digest& blob) const {
  const std::string path = layout::layerIndexFile(blob);
  std::string why;
  try {
    auto info = store_.driver().statFile(path);
    if (!info) return nullptr;
    if (info->size > limits_.maxIndexBytes) {
      why = "the file is over the size limit";
    } else {
      auto index =
          std::make_shared<LayerIndex>(decodeIndex(store_.driver().read(path), blob, limits_));
      if (!index->failure || index->failure->kind != ErrorKind::kSizeInvalid ||
          index->failure->limits == limits_.fingerprint())
        return index;
      return nullptr;  // it hit a limit that has changed since: try again
    }
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return nullptr;
    if (e.kind() != ErrorKind::kInvalidArgument) throw;
    why = e.what();
  }
  std::lock_guard lock(loggedMutex_);
  if (!logged_[blob])
    spdlog::warn("the index of layer {} cannot be trusted ({}); it will be built again", blob.str(),
                 why);
  logged_[blob] = true;
  return nullptr;
}

std::shared_ptr<const LayerIndex> LayerIndexes::build(const Digest& blob,
                                                      const std::atomic<bool>* cancel) {
  auto source = openBlobSource(store_, blob);
  std::optional<CancellableSource> cancellable;
  if (cancel) cancellable.emplace(*source, *cancel);
  const BlobSource& read = cancellable ? static_cast<const BlobSource&>(*cancellable) : *source;
  auto index = std::make_shared<LayerIndex>(buildIndex(read, blob, limits_));
  std::string bytes = encodeIndex(*index);
  if (bytes.size() > limits_.maxIndexBytes) {
    std::string message = "its index would take " + std::to_string(bytes.size()) +
                          " bytes, over the limit of " + std::to_string(limits_.maxIndexBytes);
    *index = LayerIndex{blob};
    index->failure = LayerIndex::Failure{ErrorKind::kSizeInvalid, message, limits_.fingerprint()};
    bytes = encodeIndex(*index);
  }
  store_.driver().writeAtomic(layout::layerIndexFile(blob), bytes);
  {
    std::lock_guard lock(loggedMutex_);
    logged_.erase(blob);
  }
  return index;
}

std::shared_ptr<const LayerIndex> LayerIndexes::find(const Digest& blob) {
  if (auto index = shared(blob)) return index;
  if (auto index = load(blob)) return share(index);
  return nullptr;
}

std::shared_ptr<const LayerIndex> LayerIndexes::get(const Digest& blob,
                                                    const std::atomic<bool>* cancel) {
  if (auto index = shared(blob)) return index;
  if (auto index = load(blob)) return share(index);
  std::shared_ptr<std::mutex> building;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(building_, [](const auto& item) { return item.second.expired(); });
    building = building_[blob].lock();
    if (!building) {
      building = std::make_shared<std::mutex>();
      building_[blob] = building;
    }
  }
  std::lock_guard lock(*building);
  if (auto index = shared(blob)) return index;  // built by the get() this one waited for
  if (auto index = load(blob)) return share(index);
  return share(build(blob, cancel));
}

std::shared_ptr<const LayerIndex> LayerIndexes::shared(const Digest& blob) {
  std::lock_guard lock(mutex_);
  auto it = loaded_.find(blob);
  return it == loaded_.end() ? nullptr : it->second.lock();
}

std::shared_ptr<const LayerIndex> LayerIndexes::share(std::shared_ptr<const LayerIndex> index) {
  std::lock_guard lock(mutex_);
  std::erase_if(loaded_, [](const auto& item) { return item.second.expired(); });
  loaded_[index->blob] = index;
  return index;
}

void LayerIndexes::remove(const Digest& blob) {
  store_.driver().remove(layout::layerIndexDir(blob));
}

}  // namespace regfs::layers
