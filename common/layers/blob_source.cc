// openBlobSource: the store's blobs as BlobSources (apart from stream.cc, which knows nothing
// of the store, so the fuzz build compiles the stream without it).
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "common/digest.h"
#include "common/error.h"
#include "common/layers/stream.h"
#include "common/store/store.h"
#include "common/unique_fd.h"

namespace regfs::layers {
namespace {

class LocalBlob : public BlobSource {
 public:
  LocalBlob(UniqueFd fd, uint64_t size, std::string name)
      : fd_(std::move(fd)), size_(size), name_(std::move(name)) {}
  uint64_t size() const override { return size_; }
  size_t readAt(uint64_t offset, void* buffer, size_t length) const override {
    size_t done = 0;
    while (done < length) {
      ssize_t got = ::pread(fd_.get(), static_cast<char*>(buffer) + done, length - done,
                            static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throwErrno("pread", name_, errno);
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

 private:
  UniqueFd fd_;
  uint64_t size_;
  std::string name_;
};

// Object storage: every read is a ranged request.
class RemoteBlob : public BlobSource {
 public:
  RemoteBlob(const Store& store, const Digest& blob, uint64_t size)
      : store_(store), blob_(blob), size_(size) {}
  uint64_t size() const override { return size_; }
  size_t readAt(uint64_t offset, void* buffer, size_t length) const override {
    size_t done = 0;
    while (done < length && offset + done < size_) {
      std::string piece = store_.readBlobRange(blob_, offset + done, length - done);
      if (piece.empty()) break;
      size_t n = std::min(piece.size(), length - done);
      std::memcpy(static_cast<char*>(buffer) + done, piece.data(), n);
      done += n;
    }
    return done;
  }

 private:
  const Store& store_;
  Digest blob_;
  uint64_t size_;
};

}  // namespace

std::unique_ptr<BlobSource> openBlobSource(const Store& store, const Digest& blob) {
  if (UniqueFd fd = store.openLocalBlob(blob)) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throwErrno("fstat", blob.str(), errno);
    return std::make_unique<LocalBlob>(std::move(fd), static_cast<uint64_t>(st.st_size),
                                       blob.str());
  }
  std::optional<BlobInfo> info = store.statBlob(blob);
  if (!info) throw Error(ErrorKind::kBlobUnknown, "blob unknown: " + blob.str());
  return std::make_unique<RemoteBlob>(store, blob, info->size);
}

}  // namespace regfs::layers
