// StorageDriver on the local file system. Atomic writes are: a temporary file in the
// destination directory, fsync, rename over the destination, fsync of the directory.
// New directories are fsynced into their parents so a crash cannot lose a committed path.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iterator>
#include <random>

#include "common/driver.h"
#include "common/error.h"
#include "common/layout.h"

namespace regfs {
namespace {

void fsyncPath(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throwErrno("open", path, errno);
  if (::fsync(fd.get()) != 0) throwErrno("fsync", path, errno);
}

// mkdir -p, fsyncing the parent of every directory it creates.
void makeDirs(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throwErrno("mkdir", path, ENOTDIR);
    return;
  }
  std::string parent = layout::parentPath(path);
  if (parent != path) makeDirs(parent);
  if (::mkdir(path.c_str(), 0755) != 0) {
    if (errno == EEXIST) return;
    throwErrno("mkdir", path, errno);
  }
  fsyncPath(parent);
}

// A failed read: a directory is no file (kNotFound, as on object storage).
[[noreturn]] void throwRead(const std::string& path, int err) {
  if (err == EISDIR) {
    throw Error(ErrorKind::kNotFound, "read " + path + ": a directory, not a file");
  }
  throwErrno("read", path, err);
}

std::string randomSuffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(12, 'x');
  for (char& c : s) c = kChars[rng() % (sizeof(kChars) - 1)];
  return s;
}

void writeAll(int fd, const void* data, size_t size, const std::string& path) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("write", path, errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// Appends. Writes that are aligned (FileWriter::kDirectAlign) go to the disk by direct I/O
// from the caller's memory: copying an upload into fresh page-cache pages was measured to
// cost more CPU than hashing it (on a virtual machine), and buffered writeback sustained a
// third of what the same disk takes by direct I/O. The rest is written through the page
// cache, starting the disk write of every kWritebackStep bytes as soon as they are written,
// so the disk works while the rest arrives and sync() waits only for the tail. Either way
// sync() is what makes the bytes durable (direct I/O may still sit in the disk's cache, and
// the file size is metadata).
class FsWriter : public FileWriter {
 public:
  static constexpr uint64_t kWritebackStep = 8 << 20;

  FsWriter(UniqueFd fd, UniqueFd direct, std::string path, uint64_t size)
      : fd_(std::move(fd)),
        direct_(std::move(direct)),
        path_(std::move(path)),
        size_(size),
        writebackFrom_(size) {}
  void write(const void* data, size_t size) override {
    if (direct_ && size > 0 && size % kDirectAlign == 0 && size_ % kDirectAlign == 0 &&
        reinterpret_cast<uintptr_t>(data) % kDirectAlign == 0 && writeDirect(data, size)) {
      size_ += size;
      writebackFrom_ = size_;
      return;
    }
    writeAll(fd_.get(), data, size, path_);
    size_ += size;
    if (size_ - writebackFrom_ >= kWritebackStep) {
      // Only a head start: an error here shows again, and is reported, at sync().
      (void)::sync_file_range(fd_.get(), static_cast<off_t>(writebackFrom_),
                              static_cast<off_t>(size_ - writebackFrom_), SYNC_FILE_RANGE_WRITE);
      writebackFrom_ = size_;
    }
  }
  uint64_t size() const override { return size_; }
  void sync() override {
    if (::fdatasync(fd_.get()) != 0) throwErrno("fsync", path_, errno);
  }

 private:
  // False, having written nothing, if the file system refuses direct I/O after all; then
  // every later write goes through the page cache.
  bool writeDirect(const void* data, size_t size) {
    auto* p = static_cast<const char*>(data);
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::pwrite(direct_.get(), p + done, size - done, static_cast<off_t>(size_ + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL && done == 0) {
        direct_.reset();
        return false;
      }
      if (n < 0) throwErrno("write", path_, errno);
      done += static_cast<size_t>(n);
      if (done < size && done % kDirectAlign != 0) {
        // A short write (a full disk) that left the offset unaligned: the rest the plain way.
        writeAll(fd_.get(), p + done, size - done, path_);
        return true;
      }
    }
    return true;
  }

  UniqueFd fd_;
  UniqueFd direct_;  // the same file opened for direct I/O; none where the file system cannot
  std::string path_;
  uint64_t size_;
  uint64_t writebackFrom_;  // where the bytes not yet handed to the disk start
};

class FsDriver : public StorageDriver {
 public:
  explicit FsDriver(std::filesystem::path root) : root_(std::move(root)) {
    std::string r = root_.string();
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    root_ = r;
  }

  std::optional<FileInfo> stat(const std::string& path) const override {
    struct stat st;
    std::string full = fullPath(path);
    if (::stat(full.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
      throwErrno("stat", full, errno);
    }
    return FileInfo{static_cast<uint64_t>(st.st_size), st.st_mtim, S_ISDIR(st.st_mode)};
  }

  std::string read(const std::string& path) const override {
    std::string full = fullPath(path);
    UniqueFd fd(::open(full.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throwErrno("open", full, errno);
    std::string out;
    char buf[65536];
    while (true) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        throwRead(full, errno);
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  std::string readRange(const std::string& path, uint64_t offset, uint64_t length) const override {
    std::string full = fullPath(path);
    UniqueFd fd(::open(full.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throwErrno("open", full, errno);
    std::string out;
    out.resize(length);
    size_t got = 0;
    while (got < length) {
      ssize_t n = ::pread(fd.get(), out.data() + got, length - got, static_cast<off_t>(offset + got));
      if (n < 0) {
        if (errno == EINTR) continue;
        throwRead(full, errno);
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    out.resize(got);
    return out;
  }

  void writeAtomic(const std::string& path, std::string_view bytes) override {
    std::string full = fullPath(path);
    std::string dir = layout::parentPath(full);
    makeDirs(dir);
    std::string temp = dir + "/" + std::string(kAtomicTempPrefix) + randomSuffix();
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) throwErrno("create", temp, errno);
    try {
      writeAll(fd.get(), bytes.data(), bytes.size(), temp);
      if (::fdatasync(fd.get()) != 0) throwErrno("fsync", temp, errno);
      fd.reset();
      if (::rename(temp.c_str(), full.c_str()) != 0) throwErrno("rename", full, errno);
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
    fsyncPath(dir);
  }

  std::unique_ptr<FileWriter> openAppend(const std::string& path) override {
    std::string full = fullPath(path);
    makeDirs(layout::parentPath(full));
    UniqueFd fd(::open(full.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd) throwErrno("open", full, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throwErrno("stat", full, errno);
    // Not O_APPEND: direct writes go where the writer's size says, which is the end.
    UniqueFd direct(::open(full.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));
    return std::make_unique<FsWriter>(std::move(fd), std::move(direct), full,
                                      static_cast<uint64_t>(st.st_size));
  }

  std::vector<std::string> list(const std::string& path) const override {
    std::vector<std::string> names;
    std::string full = fullPath(path);
    DIR* dir = ::opendir(full.c_str());
    if (!dir) {
      if (errno == ENOENT || errno == ENOTDIR) return names;
      throwErrno("opendir", full, errno);
    }
    while (dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::vector<std::pair<std::string, FileInfo>> listTree(const std::string& dir) const override {
    std::vector<std::pair<std::string, FileInfo>> files;
    for (const std::string& name : list(dir)) {
      std::string path = dir + "/" + name;
      auto info = stat(path);
      if (!info) continue;  // removed while we looked
      if (!info->isDirectory) {
        files.emplace_back(std::move(path), *info);
        continue;
      }
      auto below = listTree(path);
      std::move(below.begin(), below.end(), std::back_inserter(files));
    }
    return files;
  }

  void move(const std::string& from, const std::string& to) override {
    std::string src = fullPath(from), dst = fullPath(to);
    std::string dir = layout::parentPath(dst);
    makeDirs(dir);
    if (::rename(src.c_str(), dst.c_str()) != 0) throwErrno("rename", src, errno);
    fsyncPath(dir);
  }

  void remove(const std::string& path) override {
    std::string full = fullPath(path);
    std::error_code ec;
    std::filesystem::remove_all(full, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) throwErrno("remove", full, ec.value());
  }

  std::optional<std::filesystem::path> localPath(const std::string& path) const override {
    return fullPath(path);
  }

 private:
  // Driver paths come from common/layout.h and always start with '/'.
  std::string fullPath(const std::string& path) const { return root_.string() + path; }

  std::filesystem::path root_;
};

}  // namespace

std::shared_ptr<StorageDriver> makeFsDriver(const std::filesystem::path& rootdirectory) {
  return std::make_shared<FsDriver>(rootdirectory);
}

}  // namespace regfs
