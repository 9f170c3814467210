#pragma once
// RAII for what C libraries and the system hand out: a handle freed by its library's own
// function (CPtr<SSL_CTX, SSL_CTX_free>, CPtr<DIR, closedir>), and a temporary file that
// removes itself unless it was committed.

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
// (it was renamed or linked into place, or is to stay).
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!committed_) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  void commit() { committed_ = true; }

 private:
  std::string path_;
  bool committed_ = false;
};

}  // namespace regfs
