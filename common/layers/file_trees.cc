#include "common/layers/file_trees.h"

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace regfs::layers {
namespace {

// "sha256:…, sha256:…" for messages.
std::string describe(const TreeSource& source) {
  std::string out;
  for (const Digest& layer : source.layers) out += (out.empty() ? "" : ", ") + layer.str();
  return out;
}

}  // namespace

const Entry* FileTree::entry(uint32_t n) const {
  const Inode& inode = tree.inode(n);
  if (inode.entry == Inode::kNone) return nullptr;
  return &indexes[inode.layer]->entries[inode.entry];
}

FileTrees::FileTrees(Store store, IndexLimits limits, size_t cachedTrees, size_t cachedInodes)
    : indexes_(std::move(store), std::move(limits)),
      cachedTrees_(cachedTrees),
      cachedInodes_(cachedInodes) {}

std::shared_ptr<const FileTree> FileTrees::recentLocked(const TreeSource& source) {
  for (auto it = recent_.begin(); it != recent_.end(); ++it) {
    if ((*it)->source == source) {
      recent_.splice(recent_.begin(), recent_, it);
      return recent_.front();
    }
  }
  return nullptr;
}

std::shared_ptr<const FileTree> FileTrees::cached(const TreeSource& source) {
  std::lock_guard lock(mutex_);
  return recentLocked(source);
}

std::shared_ptr<const FileTree> FileTrees::tree(const TreeSource& root) {
  std::shared_ptr<std::mutex> building;
  {
    std::lock_guard lock(mutex_);
    if (auto tree = recentLocked(root)) return tree;
    std::erase_if(building_, [](const auto& item) { return item.second.expired(); });
    building = building_[root].lock();
    if (!building) building_[root] = building = std::make_shared<std::mutex>();
  }
  std::lock_guard buildLock(*building);
  {
    std::lock_guard lock(mutex_);  // built by the access this one waited for?
    if (auto tree = recentLocked(root)) return tree;
  }
  auto tree = build(root);
  std::lock_guard lock(mutex_);
  recent_.push_front(tree);
  size_t inodes = 0;
  for (const auto& t : recent_) inodes += t->tree.size();
  while (recent_.size() > 1 && (recent_.size() > cachedTrees_ || inodes > cachedInodes_)) {
    inodes -= recent_.back()->tree.size();
    recent_.pop_back();
  }
  return tree;
}

std::shared_ptr<const FileTree> FileTrees::build(const TreeSource& root) {
  auto out = std::make_shared<FileTree>();
  out->source = root;
  std::vector<const std::vector<Entry>*> tables;
  for (const Digest& layer : root.layers) {
    auto index = indexes_.get(layer);
    if (index->failure) {
      out->error = "layer " + layer.str() + " cannot be read: " + index->failure->message;
      spdlog::error("{}", out->error);
      out->indexes.clear();
      return out;
    }
    out->indexes.push_back(index);
    tables.push_back(&index->entries);
  }
  for (size_t i = 0; i < root.layers.size(); ++i)
    out->streams.push_back(streamOf(root.layers[i], out->indexes[i]));
  try {
    out->tree = root.merged ? FsTree::merge(tables) : FsTree::single(*tables.at(0));
  } catch (const Error& e) {  // a limit: the layers cannot be shown, now or later
    out->error = "the layers " + describe(root) + " cannot be applied: " + e.what();
    spdlog::error("{}", out->error);
  }
  return out;
}

std::shared_ptr<FileTree::LayerStream> FileTrees::streamOf(
    const Digest& layer, const std::shared_ptr<const LayerIndex>& index) {
  {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(layer);
    auto shared = it == streams_.end() ? nullptr : it->second.lock();
    if (shared && shared->index == index) return shared;
  }
  auto stream = std::make_shared<FileTree::LayerStream>();
  stream->index = index;
  stream->blob = openBlobSource(indexes_.store(), layer);
  stream->pool = std::make_unique<StreamReaderPool>(*stream->blob, index->stream);
  std::lock_guard lock(mutex_);
  std::erase_if(streams_, [](const auto& item) { return item.second.expired(); });
  streams_[layer] = stream;
  return stream;
}

}  // namespace regfs::layers
