#pragma once
// RAII for what C libraries and the system hand out: a handle freed by its library's own
// function (CPtr<SSL_CTX, SSL_CTX_free>, CPtr<DIR, closedir>), and a temporary file that
// removes itself unless it was committed.

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

namespace regfs {

template <typename T, auto Free>
struct CFree {
  void operator()(T* p) const { Free(p); }
};

// A unique_ptr that frees its handle with `Free`.
template <typename T, auto Free>
using CPtr = std::unique_ptr<T, CFree<T, Free>>;

// A file at `path` that is unlinked when this goes out of scope, unless commit() was called
// (it was renamed or linked into place, or is to stay). `path` is relative to the directory
// `dirFd` when one is given, which must stay open as long as this.
class TempFile {
 public:
  explicit TempFile(std::string path, int dirFd = AT_FDCWD)
      : path_(std::move(path)), dirFd_(dirFd) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!committed_) ::unlinkat(dirFd_, path_.c_str(), 0);
  }
  const std::string& path() const { return path_; }
  void commit() { committed_ = true; }

 private:
  std::string path_;
  int dirFd_;
  bool committed_ = false;
};

}  // namespace regfs
