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

// An entry's st_blksize and the unit of its st_blocks, as on a local file system.
constexpr uint32_t kEntryBlockSize = 4096;

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

struct stat contentsStat(const FileTree& tree, uint32_t n, uint64_t ino,
                         const timespec& impliedMtime) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = ino;
  st.st_nlink = tree.tree.inode(n).nlink;
  st.st_blksize = kEntryBlockSize;
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
  if (S_ISDIR(st.st_mode)) st.st_size = kEntryBlockSize;
  st.st_ctim = st.st_mtim;
  st.st_atim = st.st_mtim;
  // A sparse file takes the blocks of its data only.
  uint64_t stored = e && e->type == layers::EntryType::kRegular ? layers::storedSize(*e)
                                                                : static_cast<uint64_t>(st.st_size);
  st.st_blocks = static_cast<blkcnt_t>((stored + kEntryBlockSize - 1) / kEntryBlockSize *
                                       (kEntryBlockSize / 512));
  return st;
}

}  // namespace regfs::view
