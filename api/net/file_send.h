#pragma once
// A response body being sent from a file: a local one read in pieces on the reactor thread
// (read ahead of the send by the kernel, or as far as it has grown), or a remote one arriving
// through a RemoteBody.

#include <fcntl.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "api/http/response.h"
#include "api/net/remote_body.h"
#include "common/unique_fd.h"

namespace regfs::api {

// How far ahead of what is sent a local file is read into the page cache.
constexpr off_t kReadAheadWindow = 16 << 20;

struct FileSend {
  UniqueFd fd;
  off_t offset = 0;
  uint64_t left = 0;
  uint64_t length = 0;                   // the body's size
  std::shared_ptr<RemoteBody> remote;    // a file on remote storage instead of fd
  std::shared_ptr<GrowingFile> growing;  // fd is still being written: how far it may be read
  uint64_t grownTo = 0;                  // how far it could be read when last asked
  off_t readAheadTo = 0;                 // where the read-ahead asked of the kernel ends
  // The request stays in flight until the body is out or cut short (or the connection is
  // gone and nothing holds this any more): then this runs, once, with the bytes sent.
  std::function<void(uint64_t sent)> finished;

  FileSend() = default;
  FileSend(const FileSend&) = delete;
  FileSend& operator=(const FileSend&) = delete;
  ~FileSend() { finish(); }

  void finish() {
    if (auto f = std::exchange(finished, nullptr)) f(length - left);
  }

  // Asks the kernel to read the file ahead of what is sent, in the background: without it
  // a file that is not in the page cache (a blob written by direct I/O, or long unread)
  // is read in the default read-ahead's small steps, each one blocking the reactor thread
  // inside pread. For a cached file this only checks the cache.
  void readAhead() {
    if (growing) return;  // being written: in the page cache already
    if (readAheadTo - offset >= kReadAheadWindow / 2) return;
    off_t end = offset + static_cast<off_t>(std::min<uint64_t>(left, kReadAheadWindow));
    if (end <= readAheadTo) return;
    off_t from = std::max(readAheadTo, offset);
    (void)::posix_fadvise(fd.get(), from, end - from, POSIX_FADV_WILLNEED);
    readAheadTo = end;
  }
};

}  // namespace regfs::api
