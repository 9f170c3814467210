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
    auto [it, added] = fills_.try_emplace(contentsIno(base, n), nullptr);
    if (!added) continue;  // queued already
    it->second = std::make_shared<Fill>();
    bytes += e->size;
    queue_.push_back(Item{tree, base, n, it->second});
  }
  while (queue_.size() > kQueued) {
    const Item& oldest = queue_.front();
    if (auto it = fills_.find(contentsIno(oldest.base, oldest.n));
        it != fills_.end() && it->second == oldest.fill)
      fills_.erase(it);
    queue_.pop_front();
  }
  worker_.wake();
}

std::shared_ptr<const std::string> FilePrefetcher::take(uint64_t ino) {
  std::unique_lock lock(mutex_);
  auto it = fills_.find(ino);
  if (it == fills_.end()) return nullptr;
  std::shared_ptr<Fill> fill = it->second;
  if (fill->state == Fill::kQueued) {
    fill->state = Fill::kTaken;  // the thread skips it
    fills_.erase(it);
    return nullptr;
  }
  fill->claimed = true;
  // The thread decompresses no more than fileBytes before it is done with this one.
  filled_.wait(lock, [&] { return fill->state == Fill::kDone || worker_.stopping(); });
  if (fill->state != Fill::kDone || fill->failed) return nullptr;
  handedOver_.fetch_add(1);
  // Never written again once kDone: shared with the thread's store, which only reads it.
  return std::shared_ptr<const std::string>(fill, &fill->data);
}

void FilePrefetcher::run() {
  while (worker_.wait()) {
    for (;;) {
      Item item;
      {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) break;
        item = std::move(queue_.front());
        queue_.pop_front();
        if (item.fill->state == Fill::kTaken) continue;
        item.fill->state = Fill::kReading;
      }
      if (worker_.stopping()) break;
      bool ok = readFile(item);
      bool claimed;
      {
        std::lock_guard lock(mutex_);
        item.fill->failed = !ok;
        item.fill->state = Fill::kDone;
        claimed = item.fill->claimed;
      }
      filled_.notify_all();
      // A READ that waited answers with the bytes: storing them would wait for that READ's
      // pages, which the kernel holds locked until the answer.
      if (ok && !claimed) store(item);
      std::lock_guard lock(mutex_);
      if (auto it = fills_.find(contentsIno(item.base, item.n));
          it != fills_.end() && it->second == item.fill)
        fills_.erase(it);
    }
  }
  // Stopping: READs still waiting give up and read for themselves.
  { std::lock_guard lock(mutex_); }
  filled_.notify_all();
}

bool FilePrefetcher::readFile(const Item& item) {
  const layers::Entry* e = item.tree->entry(item.n);
  if (!e) return false;
  std::string& buffer = item.fill->data;
  buffer.resize(e->size);
  try {
    layers::FileReader reader(item.tree->streamOf(item.n), *e);
    size_t got = 0;
    while (got < buffer.size()) {
      size_t n = reader.read(got, buffer.data() + got, buffer.size() - got);
      if (n == 0) return false;  // shorter than its entry: the READ will say so
      got += n;
    }
  } catch (const std::exception&) {
    return false;  // the READ of the file reports it (EIO and a log line)
  }
  return true;
}

void FilePrefetcher::store(const Item& item) {
  fuse_session* se = session_.load();
  if (!se || worker_.stopping()) return;
  std::string& buffer = item.fill->data;
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
