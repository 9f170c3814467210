#include "fs/contents.h"

#include <spdlog/spdlog.h>
#include <sys/sysmacros.h>

#include <cstring>

namespace regfs::view {
namespace {

// splitmix64's finalizer: every input bit moves every output bit.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr uint32_t kBlockSize = 4096;

mode_t typeBits(layers::EntryType type) {
  switch (type) {
    case layers::EntryType::kRegular:
    case layers::EntryType::kHardlink:  // never an inode's entry: the tree resolves links
      return S_IFREG;
    case layers::EntryType::kDirectory:
      return S_IFDIR;
    case layers::EntryType::kSymlink:
      return S_IFLNK;
    case layers::EntryType::kCharDevice:
      return S_IFCHR;
    case layers::EntryType::kBlockDevice:
      return S_IFBLK;
    case layers::EntryType::kFifo:
      return S_IFIFO;
  }
  return S_IFREG;
}

}  // namespace

uint64_t contentsIno(uint64_t base, uint32_t n) {
  if (n == layers::FsTree::kRoot) return base;
  return kContentsBit | mix(base ^ mix(uint64_t{n} + 1));
}

const layers::Entry* FileTree::entry(uint32_t n) const {
  const layers::Inode& inode = tree.inode(n);
  if (inode.entry == layers::Inode::kNone) return nullptr;
  return &indexes[inode.layer]->entries[inode.entry];
}

struct stat contentsStat(const FileTree& tree, uint32_t n, uint64_t ino,
                         const timespec& impliedMtime) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = ino;
  st.st_nlink = tree.tree.inode(n).nlink;
  st.st_blksize = kBlockSize;
  const layers::Entry* e = tree.entry(n);
  if (!e) {
    st.st_mode = S_IFDIR | 0755;
    st.st_mtim = impliedMtime;
  } else {
    st.st_mode = typeBits(e->type) | e->mode;
    st.st_uid = e->uid;
    st.st_gid = e->gid;
    st.st_mtim = {static_cast<time_t>(e->mtimeSec), static_cast<long>(e->mtimeNsec)};
    if (e->type == layers::EntryType::kRegular) st.st_size = static_cast<off_t>(e->size);
    if (e->type == layers::EntryType::kSymlink)
      st.st_size = static_cast<off_t>(e->linkTarget.size());
    if (e->type == layers::EntryType::kCharDevice || e->type == layers::EntryType::kBlockDevice)
      st.st_rdev = makedev(e->devMajor, e->devMinor);
  }
  if (S_ISDIR(st.st_mode)) st.st_size = kBlockSize;
  st.st_ctim = st.st_mtim;
  st.st_atim = st.st_mtim;
  // A sparse file takes the blocks of its data only.
  uint64_t stored = e && e->type == layers::EntryType::kRegular ? layers::storedSize(*e)
                                                                : static_cast<uint64_t>(st.st_size);
  st.st_blocks = static_cast<blkcnt_t>((stored + kBlockSize - 1) / kBlockSize * (kBlockSize / 512));
  return st;
}

Contents::Contents(Store store, layers::IndexLimits limits, size_t cachedTrees)
    : indexes_(std::move(store), std::move(limits)), cachedTrees_(cachedTrees) {}

std::shared_ptr<const FileTree> Contents::tree(const ContentsRoot& root) {
  std::shared_ptr<std::mutex> building;
  {
    std::lock_guard lock(mutex_);
    for (auto it = recent_.begin(); it != recent_.end(); ++it) {
      if ((*it)->root == root) {
        recent_.splice(recent_.begin(), recent_, it);
        return recent_.front();
      }
    }
    std::erase_if(building_, [](const auto& item) { return item.second.expired(); });
    building = building_[root].lock();
    if (!building) building_[root] = building = std::make_shared<std::mutex>();
  }
  std::lock_guard buildLock(*building);
  {
    std::lock_guard lock(mutex_);  // built by the access this one waited for?
    for (const auto& t : recent_) {
      if (t->root == root) return t;
    }
  }
  auto tree = build(root);
  std::lock_guard lock(mutex_);
  recent_.push_front(tree);
  if (recent_.size() > cachedTrees_) recent_.pop_back();
  return tree;
}

std::shared_ptr<const FileTree> Contents::build(const ContentsRoot& root) {
  auto out = std::make_shared<FileTree>();
  out->root = root;
  std::vector<const std::vector<layers::Entry>*> tables;
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
  if (root.merged) {
    out->tree = layers::FsTree::merge(tables);
  } else {
    out->tree = layers::FsTree::single(*tables.at(0));
  }
  return out;
}

}  // namespace regfs::view
