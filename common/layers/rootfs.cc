#include "common/layers/rootfs.h"

#include "common/error.h"

#include <algorithm>
#include <functional>

namespace regfs::layers {
namespace {

constexpr uint32_t kNone = Inode::kNone;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";
// Symlinks followed while resolving one path, as securejoin and containerd allow.
constexpr int kMaxSymlinks = 255;

bool isCleanName(std::string_view name) { return !name.empty() && name != "." && name != ".."; }

// A path's parent ("" for a top-level name) and last name.
std::pair<std::string_view, std::string_view> splitLast(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// Calls fn(name) for every '/'-separated name of `path` ("" has none) until fn returns false.
template <class Fn>
bool eachName(std::string_view path, Fn&& fn) {
  while (!path.empty()) {
    size_t slash = path.find('/');
    if (!fn(path.substr(0, slash))) return false;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty() && !fn(path)) return false;  // a trailing '/': an empty name
  }
  return true;
}

// (directory key, name) -> node. The names sit in one array in the order they were added,
// so a directory's children come out in tar order (already sorted, for most layers); an open
// addressing table with linear probing indexes them. No allocation per name.
class ChildTable {
 public:
  explicit ChildTable(size_t expected) {
    names_.reserve(expected);
    resize(capacityFor(expected));
  }

  // The node of (dirKey, name); kNone if none.
  uint32_t find(uint32_t dirKey, std::string_view name) const {
    uint64_t slot = slots_[probe(dirKey, name, hashOf(dirKey, name))];
    return slot > kErased ? names_[(slot & 0xffffffff) - kFirst].node : kNone;
  }
  // The node of (dirKey, name), made with `make()` when there is none (then `added`). The
  // reference lasts until the next findOrAdd.
  template <class Make>
  uint32_t& findOrAdd(uint32_t dirKey, std::string_view name, bool& added, Make&& make) {
    if ((filled_ + 1) * 4 > slots_.size() * 3) resize(capacityFor(size_ + 1));
    uint64_t hash = hashOf(dirKey, name);
    uint64_t& slot = slots_[probe(dirKey, name, hash)];
    added = slot <= kErased;
    if (added) {
      if (slot == kEmpty) ++filled_;
      ++size_;
      slot = (hash << 32) | (names_.size() + kFirst);
      names_.push_back({name.data(), static_cast<uint32_t>(name.size()), dirKey, kNone});
      names_.back().node = make();
    }
    return names_[(slot & 0xffffffff) - kFirst].node;
  }
  void erase(uint32_t dirKey, std::string_view name) {
    uint64_t& slot = slots_[probe(dirKey, name, hashOf(dirKey, name))];
    if (slot <= kErased) return;
    names_[(slot & 0xffffffff) - kFirst].node = kNone;
    slot = kErased;
    --size_;
  }

  size_t size() const { return size_; }
  // fn(dirKey, name, node) for every name held, in the order they were added.
  template <class Fn>
  void forEach(Fn&& fn) const {
    for (const Name& n : names_) {
      if (n.node != kNone) fn(n.dirKey, std::string_view(n.data, n.size), n.node);
    }
  }

 private:
  struct Name {
    const char* data;
    uint32_t size;
    uint32_t dirKey;
    uint32_t node;  // kNone once erased
  };
  // A slot: 0 empty, 1 erased, else the hash's low half (in the high bits) and kFirst + the
  // index in names_.
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kErased = 1;
  static constexpr uint64_t kFirst = 2;

  static size_t capacityFor(size_t count) {
    size_t capacity = 16;
    while (capacity * 3 < count * 4 + 4) capacity *= 2;
    return capacity;
  }
  static uint64_t hashOf(uint32_t dirKey, std::string_view name) {
    return std::hash<std::string_view>()(name) ^ (uint64_t{dirKey} + 1) * 0x9e3779b97f4a7c15ULL;
  }
  static size_t start(uint64_t hash, size_t mask) { return (hash ^ (hash >> 29)) & mask; }

  // The index of the slot holding (dirKey, name), or of where it would go: the first erased
  // slot on the way, else the empty one that ends the run.
  size_t probe(uint32_t dirKey, std::string_view name, uint64_t hash) const {
    size_t mask = slots_.size() - 1;
    size_t erased = SIZE_MAX;
    for (size_t i = start(hash, mask);; i = (i + 1) & mask) {
      uint64_t slot = slots_[i];
      if (slot == kEmpty) return erased != SIZE_MAX ? erased : i;
      if (slot == kErased) {
        if (erased == SIZE_MAX) erased = i;
        continue;
      }
      if ((slot >> 32) != (hash & 0xffffffff)) continue;
      const Name& n = names_[(slot & 0xffffffff) - kFirst];
      if (n.dirKey == dirKey && std::string_view(n.data, n.size) == name) return i;
    }
  }

  void resize(size_t capacity) {
    slots_.assign(capacity, kEmpty);
    filled_ = size_;
    size_t mask = capacity - 1;
    for (size_t index = 0; index < names_.size(); ++index) {
      const Name& n = names_[index];
      if (n.node == kNone) continue;
      uint64_t hash = hashOf(n.dirKey, std::string_view(n.data, n.size));
      size_t i = start(hash, mask);
      while (slots_[i] != kEmpty) i = (i + 1) & mask;
      slots_[i] = (hash << 32) | (index + kFirst);
    }
  }

  std::vector<Name> names_;
  std::vector<uint64_t> slots_;
  size_t size_ = 0;    // names held
  size_t filled_ = 0;  // slots not empty: names and erased ones
};

// The tree while layers are applied. Names are views of the entries' paths (the tables outlive
// the build). Children live in one hash table keyed by (directory key, name) rather than a
// map per directory: a directory's key is replaced to empty it at once (an opaque whiteout),
// and a replaced or whited-out subtree is simply no longer reachable, so nothing is walked
// while building. Only `finish` walks, breadth-first, what the root still reaches.
class TreeBuilder {
 public:
  TreeBuilder(size_t expectedEntries, uint64_t maxSymlinkSteps)
      : symlinkStepsLeft_(maxSymlinkSteps), children_(expectedEntries) {
    nodes_.push_back({0, kNone, newDirKey(0)});
  }

  // A layer's whiteouts, before its other entries (see rootfs.h).
  void applyWhiteouts(const std::vector<Entry>& layer) {
    forgetParent();
    for (const Entry& entry : layer) {
      auto [parentPath, name] = splitLast(entry.path);
      if (!name.starts_with(kWhiteoutPrefix) || !acceptable(entry.path, false)) continue;
      uint32_t parent = follow(parentPath, false) ? walkEnd() : kNone;
      if (parent == kNone || !isDir(parent)) continue;
      if (name == kOpaqueWhiteout) {
        nodes_[parent].dirKey = newDirKey(parent);
      } else {
        children_.erase(nodes_[parent].dirKey, name.substr(kWhiteoutPrefix.size()));
      }
    }
  }

  // `whiteouts`: ".wh." names are whiteouts (already applied), so skip them and refuse to
  // create anything below one; otherwise they are plain names.
  void addLayer(uint32_t layerNumber, const std::vector<Entry>& layer, bool whiteouts) {
    forgetParent();
    if (tables_.size() <= layerNumber) tables_.resize(layerNumber + 1);
    tables_[layerNumber] = &layer;
    for (size_t i = 0; i < layer.size(); ++i) {
      add(layerNumber, static_cast<uint32_t>(i), layer[i], whiteouts);
    }
  }

  uint64_t droppedHardlinks() const { return droppedHardlinks_; }
  uint64_t droppedEntries() const { return droppedEntries_; }

  // The inode table: what the root reaches, numbered breadth-first in name order.
  std::vector<Inode> finish();

 private:
  struct Node {
    uint32_t layer = 0;
    uint32_t entry = kNone;
    uint32_t dirKey = kNone;  // kNone: not a directory
  };
  bool isDir(uint32_t node) const { return nodes_[node].dirKey != kNone; }

  uint32_t newDirKey(uint32_t node) {
    dirOwner_.push_back(node);
    return static_cast<uint32_t>(dirOwner_.size() - 1);
  }

  uint32_t newNode(uint32_t layer, uint32_t entry, bool dir) {
    auto node = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back({layer, entry, dir ? newDirKey(node) : kNone});
    return node;
  }

  uint32_t lookup(uint32_t dir, std::string_view name) const {
    return children_.find(nodes_[dir].dirKey, name);
  }

  // The symlink entry that made `node`; nullptr if it is no symlink.
  const Entry* symlinkOf(uint32_t node) const {
    const Node& n = nodes_[node];
    if (n.dirKey != kNone || n.entry == kNone) return nullptr;
    const Entry& entry = (*tables_[n.layer])[n.entry];
    return entry.type == EntryType::kSymlink ? &entry : nullptr;
  }

  // Resolves `path` with every name on it followed where it is a symlink, as securejoin does
  // (see rootfs.h): walk_ gets the resolved names, each with its node, kNone from the first
  // missing one on (a missing name is taken as a directory still to make). False when the
  // path cannot be resolved: past kMaxSymlinks, a name below a non-directory, or (with
  // whiteouts) a resolved name that starts with ".wh.". Iterative: a symlink's target is
  // pushed onto pending_, the names still to walk, and read before the rest of the path.
  bool follow(std::string_view path, bool whiteouts) {
    walk_.clear();
    pending_.assign(1, path);
    int symlinks = 0;
    while (!pending_.empty()) {
      std::string_view& rest = pending_.back();
      if (rest.empty()) {
        pending_.pop_back();
        continue;
      }
      size_t slash = rest.find('/');
      std::string_view name = rest.substr(0, slash);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
      if (symlinks > 0 && symlinkStepsLeft_-- == 0) {
        throw Error(ErrorKind::kSizeInvalid,
                    "the layers' symlinks take too many steps to follow (a layer built to "
                    "exhaust whoever applies it?)");
      }
      if (name.empty() || name == ".") continue;
      if (name == "..") {  // lexical: what walk_ holds has no symlink left, and "/.." is "/"
        if (!walk_.empty()) walk_.pop_back();
        continue;
      }
      uint32_t dir = walkEnd();
      uint32_t node = kNone;
      if (dir != kNone) {
        if (!isDir(dir)) return false;
        node = lookup(dir, name);
      }
      if (const Entry* link = node != kNone ? symlinkOf(node) : nullptr) {
        if (++symlinks > kMaxSymlinks) return false;
        if (link->linkTarget.starts_with('/')) walk_.clear();
        pending_.push_back(link->linkTarget);  // `rest` is not used past this point
        continue;
      }
      walk_.push_back({name, node});
    }
    return !whiteouts || std::none_of(walk_.begin(), walk_.end(), [](const Step& step) {
      return step.name.starts_with(kWhiteoutPrefix);
    });
  }
  // The node `follow` ended on: the root for an empty walk, kNone if it is missing.
  uint32_t walkEnd() const { return walk_.empty() ? 0 : walk_.back().node; }

  // The node at `path` now, its parent directories followed where they are symlinks, its
  // last name not; kNone if none (a name below a non-directory included).
  uint32_t resolve(std::string_view path) {
    if (path.empty()) return 0;
    auto [parentPath, name] = splitLast(path);
    if (!follow(parentPath, false)) return kNone;
    uint32_t dir = walkEnd();
    return dir != kNone && isDir(dir) ? lookup(dir, name) : kNone;
  }

  // The directory at `path` (checked by `acceptable`) with its symlinks followed, made
  // (implied, by `layer`) where missing; kNone when it cannot be resolved or is no directory.
  // Nothing is made unless it resolves.
  uint32_t parentDir(uint32_t layer, std::string_view path, bool whiteouts) {
    if (lastParent_ != kNone && path == lastParentPath_) return lastParent_;
    if (!follow(path, whiteouts)) return kNone;
    uint32_t node = 0;
    for (const Step& step : walk_) {
      bool added = false;
      node = step.node != kNone ? step.node
                                : children_.findOrAdd(nodes_[node].dirKey, step.name, added,
                                                      [&] { return newNode(layer, kNone, true); });
    }
    if (!isDir(node)) return kNone;
    rememberParent(path, node);
    return node;
  }

  // Clean, and (with whiteouts) no directory on the way named like a whiteout: checked before
  // anything is made, so a refused path leaves no implied directory behind.
  static bool acceptable(std::string_view path, bool whiteouts) {
    return eachName(path, [&](std::string_view name) {
      return isCleanName(name) && !(whiteouts && name.starts_with(kWhiteoutPrefix));
    });
  }

  // Consecutive entries mostly share a directory: remember the last one walked to (or made).
  // Forgotten whenever a node is replaced, since that may have been it or above it.
  void rememberParent(std::string_view path, uint32_t node) {
    lastParentPath_ = path;
    lastParent_ = node;
  }
  void forgetParent() { lastParent_ = kNone; }

  void add(uint32_t layer, uint32_t index, const Entry& entry, bool whiteouts) {
    if (entry.path.empty()) {
      if (entry.type == EntryType::kDirectory) {
        nodes_[0].layer = layer;
        nodes_[0].entry = index;
      } else {
        ++droppedEntries_;
      }
      return;
    }
    auto [parentPath, name] = splitLast(entry.path);
    if (whiteouts && name.starts_with(kWhiteoutPrefix)) return;
    if (!acceptable(entry.path, whiteouts)) {
      ++droppedEntries_;
      return;
    }
    uint32_t target = kNone;
    if (entry.type == EntryType::kHardlink) {
      target = resolve(entry.linkTarget);
      if (target == kNone || isDir(target)) {
        ++droppedHardlinks_;
        return;
      }
    }
    uint32_t parent = parentDir(layer, parentPath, whiteouts);
    if (parent == kNone) {
      ++droppedEntries_;
      return;
    }
    bool added = false;
    uint32_t& slot = children_.findOrAdd(nodes_[parent].dirKey, name, added, [] { return kNone; });
    bool dir = entry.type == EntryType::kDirectory;
    // A new symlink may sit where a path remembered went through a missing name and "..".
    if (entry.type == EntryType::kSymlink) forgetParent();
    if (!added) {
      uint32_t existing = slot;
      if (dir && isDir(existing)) {
        nodes_[existing].layer = layer;
        nodes_[existing].entry = index;
        rememberParent(entry.path, existing);
        return;
      }
      forgetParent();
    }
    // `slot` stays valid: making a node does not touch the table.
    slot = target != kNone ? target : newNode(layer, index, dir);
    // Not after a replacement: the name replaced may have been a symlink on the entry's own
    // parent path (`lib/lib` over `lib -> .`), so entry.path no longer leads here.
    if (dir && added) rememberParent(entry.path, slot);
  }

  // A name `follow` resolved: a view of an entry's path or of a symlink's target.
  struct Step {
    std::string_view name;
    uint32_t node;
  };

  std::vector<const std::vector<Entry>*> tables_;  // layer number -> its entries
  std::vector<Step> walk_;                         // follow's result, kept for its capacity
  std::vector<std::string_view> pending_;
  uint64_t symlinkStepsLeft_;       // names read inside symlink targets, for the whole tree
  std::vector<Node> nodes_;         // 0 is the root
  std::vector<uint32_t> dirOwner_;  // directory key -> the node it was made for
  ChildTable children_;
  std::string_view lastParentPath_;
  uint32_t lastParent_ = kNone;
  uint64_t droppedHardlinks_ = 0;
  uint64_t droppedEntries_ = 0;
};

std::vector<Inode> TreeBuilder::finish() {
  // Children grouped by directory key (a counting sort: keys are dense), the table freed
  // before the inodes are made so the two never coexist in full.
  struct Child {
    std::string_view name;
    uint32_t node;
  };
  std::vector<uint32_t> start(dirOwner_.size() + 1, 0);
  children_.forEach([&](uint32_t key, std::string_view, uint32_t) { ++start[key + 1]; });
  for (size_t k = 1; k < start.size(); ++k) start[k] += start[k - 1];
  std::vector<Child> grouped(children_.size());
  {
    std::vector<uint32_t> next(start.begin(), start.end() - 1);
    children_.forEach([&](uint32_t key, std::string_view name, uint32_t node) {
      grouped[next[key]++] = {name, node};
    });
    children_ = ChildTable(0);
  }

  // Breadth-first from the root: inode i is node order[i]. Keys no longer owned by a
  // reachable directory (emptied by an opaque whiteout, or of a replaced directory) are never
  // visited.
  std::vector<uint32_t> number(nodes_.size(), kNone);
  std::vector<uint32_t> order{0};
  std::vector<Inode> inodes(1);
  inodes.reserve(nodes_.size());
  number[0] = 0;
  inodes[0] = {nodes_[0].layer, nodes_[0].entry, 2, {}};
  for (size_t i = 0; i < order.size(); ++i) {
    const Node& dir = nodes_[order[i]];
    if (dir.dirKey == kNone) continue;
    auto first = grouped.begin() + start[dir.dirKey];
    auto last = grouped.begin() + start[dir.dirKey + 1];
    // Layers written by walking a directory (docker, buildkit) list each one sorted already.
    auto byName = [](const Child& a, const Child& b) { return a.name < b.name; };
    if (!std::is_sorted(first, last, byName)) std::sort(first, last, byName);
    std::vector<std::pair<std::string, uint32_t>> children;
    children.reserve(static_cast<size_t>(last - first));
    uint32_t subdirs = 0;
    for (auto child = first; child != last; ++child) {
      const Node& node = nodes_[child->node];
      if (number[child->node] == kNone) {
        number[child->node] = static_cast<uint32_t>(inodes.size());
        order.push_back(child->node);
        inodes.push_back({node.layer, node.entry, node.dirKey != kNone ? 2u : 0u, {}});
      }
      uint32_t n = number[child->node];
      if (node.dirKey != kNone) {
        ++subdirs;
      } else {
        ++inodes[n].nlink;
      }
      children.emplace_back(child->name, n);
    }
    inodes[i].nlink += subdirs;
    inodes[i].children = std::move(children);
  }
  return inodes;
}

size_t totalEntries(const std::vector<const std::vector<Entry>*>& layers) {
  size_t total = 0;
  for (const auto* layer : layers) total += layer ? layer->size() : 0;
  return total;
}

}  // namespace

FsTree FsTree::merge(const std::vector<const std::vector<Entry>*>& layers,
                     uint64_t maxSymlinkSteps) {
  TreeBuilder builder(totalEntries(layers), maxSymlinkSteps);
  for (size_t l = 0; l < layers.size(); ++l) {
    if (layers[l] == nullptr) continue;
    builder.applyWhiteouts(*layers[l]);
    builder.addLayer(static_cast<uint32_t>(l), *layers[l], true);
  }
  FsTree tree;
  tree.inodes_ = builder.finish();
  tree.droppedHardlinks_ = builder.droppedHardlinks();
  tree.droppedEntries_ = builder.droppedEntries();
  return tree;
}

FsTree FsTree::single(const std::vector<Entry>& layer, uint64_t maxSymlinkSteps) {
  TreeBuilder builder(layer.size(), maxSymlinkSteps);
  builder.addLayer(0, layer, false);
  FsTree tree;
  tree.inodes_ = builder.finish();
  tree.droppedHardlinks_ = builder.droppedHardlinks();
  tree.droppedEntries_ = builder.droppedEntries();
  return tree;
}

uint32_t FsTree::child(uint32_t dir, std::string_view name) const {
  if (dir >= inodes_.size()) return Inode::kNone;
  const auto& children = inodes_[dir].children;
  auto it = std::lower_bound(children.begin(), children.end(), name,
                             [](const auto& child, std::string_view n) { return child.first < n; });
  return it != children.end() && it->first == name ? it->second : Inode::kNone;
}

uint32_t FsTree::resolve(std::string_view path) const {
  uint32_t node = kRoot;
  eachName(path, [&](std::string_view name) {
    node = child(node, name);
    return node != Inode::kNone;
  });
  return node;
}

}  // namespace regfs::layers
