#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include "fs/prefetch.h"

#include <cerrno>
#include <cstdio>

#include "common/error.h"
#include "common/layers/file_reader.h"

namespace regfs::view {
namespace {

// Directories whose windows are remembered; past it they are all forgotten (a tree walk
// leaves each directory behind for good).
constexpr size_t kDirectoriesRemembered = 1024;
// Items waiting at most: past it the oldest go (the reader has moved on from them).
constexpr size_t kQueued = 4096;

}  // namespace

void FilePrefetcher::attach(fuse_session* se) {
  if (options_.files == 0 || worker_.started()) return;
  session_.store(se);
  worker_.start([this] { run(); });
}

void FilePrefetcher::opened(const std::shared_ptr<const FileTree>& tree, uint64_t base,
                            uint32_t dir, uint32_t position) {
  if (!worker_.started() || !tree->error.empty() || dir >= tree->tree.size()) return;
  const auto& children = tree->tree.inode(dir).children;
  std::lock_guard lock(mutex_);
  if (ahead_.size() >= kDirectoriesRemembered) ahead_.clear();
  size_t& next = ahead_[{base, dir}];
  next = std::max<size_t>(next, size_t{position} + 1);
  // Queue more once the reader is past the middle of what is queued ahead of it.
  if (next > position + 1 + options_.files / 2) return;
  size_t end = std::min(children.size(), size_t{position} + 1 + options_.files);
  uint64_t bytes = 0;
  for (; next < end && bytes < options_.bytes; ++next) {
    uint32_t n = children[next].second;
    const layers::Entry* e = tree->entry(n);
    if (!e || e->type != layers::EntryType::kRegular || e->size == 0 ||
        e->size > options_.fileBytes)
      continue;
    bytes += e->size;
    queue_.push_back(Item{tree, base, n});
  }
  while (queue_.size() > kQueued) queue_.pop_front();
  worker_.wake();
}

void FilePrefetcher::run() {
  std::string buffer;
  while (worker_.wait()) {
    for (;;) {
      Item item;
      {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) break;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      if (worker_.stopping()) return;
      store(item, buffer);
    }
  }
}

void FilePrefetcher::store(const Item& item, std::string& buffer) {
  fuse_session* se = session_.load();
  const layers::Entry* e = item.tree->entry(item.n);
  if (!se || !e || worker_.stopping()) return;
  buffer.resize(e->size);
  try {
    layers::FileReader reader(item.tree->streamOf(item.n), *e);
    size_t got = 0;
    while (got < buffer.size()) {
      size_t n = reader.read(got, buffer.data() + got, buffer.size() - got);
      if (n == 0) return;  // shorter than its entry: the READ will say so
      got += n;
    }
  } catch (const Error&) {
    return;  // the READ of the file reports it (EIO and a log line)
  }
  fuse_bufvec data{};  // FUSE_BUFVEC_INIT, a C compound literal, spelled out
  data.count = 1;
  data.buf[0].size = buffer.size();
  data.buf[0].mem = buffer.data();
  // ENOENT: the kernel no longer holds the inode; nothing to store. Copied, not spliced: a
  // store of two pages or more sent through libfuse's splice path never completes.
  int rc =
      fuse_lowlevel_notify_store(se, contentsIno(item.base, item.n), 0, &data, FUSE_BUF_NO_SPLICE);
  if (rc == 0) stored_.fetch_add(1);
}

}  // namespace regfs::view
