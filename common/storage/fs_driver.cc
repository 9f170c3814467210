// StorageDriver on the local file system. Atomic writes are: a temporary file in the
// destination directory, fsync, rename over the destination, fsync of the directory.
// New directories are fsynced into their parents so a crash cannot lose a committed path.
// Paths below the root are resolved without following symlinks (openBeneath), and writes,
// moves and removals act relative to directories opened that way.

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iterator>
#include <random>
#include <system_error>

#include "common/error.h"
#include "common/handles.h"
#include "common/storage/driver.h"

namespace regfs {
namespace {

void fsyncPath(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throwErrno("open", path, errno);
  if (::fsync(fd.get()) != 0) throwErrno("fsync", path, errno);
}

// mkdir -p, fsyncing the parent of every directory it creates. Only for the root itself,
// whose path may lead through symlinks; below it, FsDriver::openDirs.
void makeDirs(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throwErrno("mkdir", path, ENOTDIR);
    return;
  }
  std::string parent = parentPath(path);
  if (parent != path) makeDirs(parent);
  if (::mkdir(path.c_str(), 0755) != 0) {
    if (errno == EEXIST) return;
    throwErrno("mkdir", path, errno);
  }
  fsyncPath(parent);
}

bool haveOpenat2() {
  static const bool have = [] {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS;
    UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how)));
    return static_cast<bool>(fd);  // false: an old kernel, or a seccomp filter not knowing it
  }();
  return have;
}

// Opens the absolute `path` following no symbolic link on the way or at its end, so that a
// path below the root (which has none: FsDriver resolves it once) stays below it. With
// O_PATH a final symlink is opened itself; any other symlink fails with ELOOP (or ENOTDIR
// where a directory was expected). Returns -1 and sets errno on failure.
int openBeneath(const std::string& path, int flags, mode_t mode = 0) {
  flags |= O_NOFOLLOW | O_CLOEXEC;
  if (haveOpenat2()) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_NO_SYMLINKS;
    long fd;
    do {
      fd = ::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
    } while (fd < 0 && errno == EINTR);
    return static_cast<int>(fd);
  }
  // Without openat2: one component at a time.
  UniqueFd dir(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return -1;
  size_t start = 1;
  for (size_t slash; (slash = path.find('/', start)) != std::string::npos; start = slash + 1) {
    if (slash == start) continue;
    std::string name = path.substr(start, slash - start);
    UniqueFd next(::openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return -1;
    dir = std::move(next);
  }
  std::string last = start < path.size() ? path.substr(start) : ".";
  return ::openat(dir.get(), last.c_str(), flags, mode);
}

// A path that does not lead to anything in the store: missing, or through a symlink.
bool isAbsent(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP; }

// Throws for `err` from openBeneath: a symlink on the way is an Error of `kind` saying so.
[[noreturn]] void throwBeneath(ErrorKind kind, std::string_view what, const std::string& path,
                               int err) {
  if (err == ELOOP) {
    throw Error(kind,
                std::string(what) + " " + path + ": a symbolic link, which regfs does not follow");
  }
  throwErrno(what, path, err);
}

// A failed read: a directory is no file (kNotFound, as on object storage).
[[noreturn]] void throwRead(const std::string& path, int err) {
  if (err == EISDIR) {
    throw Error(ErrorKind::kNotFound, "read " + path + ": a directory, not a file");
  }
  throwErrno("read", path, err);
}

// The names in an open directory (consumed), without "." and "..", in no particular order.
std::vector<std::string> entryNames(UniqueFd fd, const std::string& path) {
  CPtr<DIR, ::closedir> dir(::fdopendir(fd.get()));
  if (!dir) throwErrno("opendir", path, errno);
  static_cast<void>(fd.release());  // the DIR owns it now
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir.get())) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  return names;
}

// Removes `name` from the directory `dirFd`, with everything below it when it is a
// directory; a symlink is removed itself, never followed. A missing entry is not an error.
// A writer that creates an entry in a directory between its listing and its removal (an
// atomic write's temp file, a link) makes the removal list it again, a few times at most:
// the writer's entry goes as if it was written before the removal began.
void removeAt(int dirFd, const std::string& name, const std::string& path) {
  if (::unlinkat(dirFd, name.c_str(), 0) == 0 || errno == ENOENT) return;
  int unlinkError = errno;  // EISDIR for a directory (EPERM on some systems)
  if (unlinkError != EISDIR && unlinkError != EPERM) throwErrno("remove", path, unlinkError);
  constexpr int kListings = 8;
  for (int listing = 1;; ++listing) {
    {
      UniqueFd dir(::openat(dirFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dir) {
        if (errno == ENOENT) return;
        throwErrno("remove", path, errno == ENOTDIR ? unlinkError : errno);
      }
      UniqueFd names(::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0));
      if (!names) throwErrno("remove", path, errno);
      for (const std::string& child : entryNames(std::move(names), path)) {
        removeAt(dir.get(), child, path + "/" + child);
      }
    }
    if (::unlinkat(dirFd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return;
    if (errno != ENOTEMPTY || listing == kListings) throwErrno("remove", path, errno);
  }
}

std::string baseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

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
// from the caller's memory: copying an upload into fresh page-cache pages cost more CPU
// than hashing it, and buffered writeback sustained a fraction of what the same disk takes
// by direct I/O (docs/benchmarks.md, uploads). The rest is written through the page
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
  explicit FsDriver(std::filesystem::path root) : shown_(stripSlashes(root.string())) {
    // Symlinks on the way to the root are resolved once, so that none is left in a path
    // below it that openBeneath would refuse.
    std::error_code ec;
    std::filesystem::path real =
        std::filesystem::weakly_canonical(std::filesystem::absolute(root), ec);
    root_ = stripSlashes(ec ? std::filesystem::absolute(root).string() : real.string());
  }

  std::optional<FileInfo> stat(const std::string& path) const override {
    UniqueFd fd(openBeneath(fullPath(path), O_PATH));
    if (!fd) {
      if (isAbsent(errno)) return std::nullopt;
      throwErrno("stat", shownPath(path), errno);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throwErrno("stat", shownPath(path), errno);
    if (S_ISLNK(st.st_mode)) return std::nullopt;
    return FileInfo{static_cast<uint64_t>(st.st_size), st.st_mtim, S_ISDIR(st.st_mode)};
  }

  bool isSymlink(const std::string& path) const override {
    UniqueFd fd(openBeneath(fullPath(path), O_PATH));
    struct stat st;
    return fd && ::fstat(fd.get(), &st) == 0 && S_ISLNK(st.st_mode);
  }

  std::string read(const std::string& path) const override {
    std::string full = shownPath(path);
    UniqueFd fd = openRead(path, O_RDONLY);
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
    std::string full = shownPath(path);
    UniqueFd fd = openRead(path, O_RDONLY);
    std::string out;
    out.resize(length);
    size_t got = 0;
    while (got < length) {
      ssize_t n =
          ::pread(fd.get(), out.data() + got, length - got, static_cast<off_t>(offset + got));
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
    std::string full = shownPath(path);
    UniqueFd dir = openDirs(parentPath(path));
    std::string name = baseName(path);
    std::string temp = std::string(kAtomicTempPrefix) + randomSuffix();
    std::string shownTemp = parentPath(full) + "/" + temp;
    UniqueFd fd(::openat(dir.get(), temp.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) throwErrno("create", shownTemp, errno);
    TempFile unlinkTemp(temp, dir.get());  // renamed into place below, or removed
    writeAll(fd.get(), bytes.data(), bytes.size(), shownTemp);
    if (::fdatasync(fd.get()) != 0) throwErrno("fsync", shownTemp, errno);
    fd.reset();
    if (::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) != 0) {
      throwErrno("rename", full, errno);
    }
    unlinkTemp.commit();
    if (::fsync(dir.get()) != 0) throwErrno("fsync", parentPath(full), errno);
  }

  std::unique_ptr<FileWriter> openAppend(const std::string& path) override {
    std::string full = shownPath(path);
    UniqueFd dir = openDirs(parentPath(path));
    std::string name = baseName(path);
    UniqueFd fd(::openat(dir.get(), name.c_str(),
                         O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) throwBeneath(ErrorKind::kIo, "open", full, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throwErrno("stat", full, errno);
    // Not O_APPEND: direct writes go where the writer's size says, which is the end.
    UniqueFd direct(
        ::openat(dir.get(), name.c_str(), O_WRONLY | O_DIRECT | O_NOFOLLOW | O_CLOEXEC));
    return std::make_unique<FsWriter>(std::move(fd), std::move(direct), full,
                                      static_cast<uint64_t>(st.st_size));
  }

  bool createExclusive(const std::string& path, std::string_view bytes) override {
    std::string full = shownPath(path);
    // No directories are made: the file's directory must exist.
    UniqueFd dir(openBeneath(fullPath(parentPath(path)), O_PATH | O_DIRECTORY));
    if (!dir) throwBeneath(ErrorKind::kIo, "create", full, errno);
    std::string name = baseName(path);
    UniqueFd fd(::openat(dir.get(), name.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) {
      if (errno == EEXIST) return false;
      throwBeneath(ErrorKind::kIo, "create", full, errno);
    }
    TempFile unlinkPartial(name, dir.get());  // a file only part written is removed
    writeAll(fd.get(), bytes.data(), bytes.size(), full);
    unlinkPartial.commit();
    return true;
  }

  std::vector<std::string> list(const std::string& path) const override {
    UniqueFd fd(openBeneath(fullPath(path), O_RDONLY | O_DIRECTORY));
    if (!fd) {
      if (isAbsent(errno)) return {};
      throwErrno("opendir", shownPath(path), errno);
    }
    std::vector<std::string> names = entryNames(std::move(fd), shownPath(path));
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
    std::string src = shownPath(from), dst = shownPath(to);
    UniqueFd srcDir(openBeneath(fullPath(parentPath(from)), O_PATH | O_DIRECTORY));
    if (!srcDir) throwBeneath(ErrorKind::kNotFound, "rename", src, errno);
    UniqueFd dstDir = openDirs(parentPath(to));
    if (::renameat(srcDir.get(), baseName(from).c_str(), dstDir.get(), baseName(to).c_str()) != 0) {
      throwErrno("rename", src, errno);
    }
    if (::fsync(dstDir.get()) != 0) throwErrno("fsync", parentPath(dst), errno);
  }

  void remove(const std::string& path) override {
    UniqueFd dir(openBeneath(fullPath(parentPath(path)), O_PATH | O_DIRECTORY));
    if (!dir) {
      if (isAbsent(errno)) return;  // nothing there, or only through a symlink
      throwErrno("remove", shownPath(path), errno);
    }
    removeAt(dir.get(), baseName(path), shownPath(path));
  }

  bool removeEmptyDirectory(const std::string& path) override {
    UniqueFd dir(openBeneath(fullPath(parentPath(path)), O_PATH | O_DIRECTORY));
    if (!dir) {
      if (isAbsent(errno)) return false;
      throwErrno("remove", shownPath(path), errno);
    }
    if (::unlinkat(dir.get(), baseName(path).c_str(), AT_REMOVEDIR) == 0) return true;
    // Not empty (ENOTEMPTY or EEXIST), gone, or no directory: nothing to do.
    if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOENT || errno == ENOTDIR) return false;
    throwErrno("remove", shownPath(path), errno);
  }

  std::optional<std::filesystem::path> localPath(const std::string& path) const override {
    return shownPath(path);
  }

  UniqueFd openLocal(const std::string& path) const override {
    return openRead(path, O_RDONLY | O_NOATIME);
  }

 private:
  static std::string stripSlashes(std::string r) {
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    return r;
  }

  // Driver paths come from common/store/layout.h and always start with '/'.
  std::string fullPath(const std::string& path) const { return root_ + path; }
  // The same path under the root as it was given, for messages and localPath.
  std::string shownPath(const std::string& path) const { return shown_ + path; }

  // Opens a file below the root for reading; kNotFound as read() promises, also for a
  // symlink. O_NOATIME, which only the file's owner may use, is dropped where refused.
  UniqueFd openRead(const std::string& path, int flags) const {
    UniqueFd fd(openBeneath(fullPath(path), flags));
    if (!fd && errno == EPERM && (flags & O_NOATIME)) {
      fd.reset(openBeneath(fullPath(path), flags & ~O_NOATIME));
    }
    if (!fd) throwBeneath(ErrorKind::kNotFound, "open", shownPath(path), errno);
    return fd;
  }

  // mkdir -p below the root, never through a symlink (kIo), fsyncing the parent of every
  // directory it creates; returns the directory, open for reading.
  UniqueFd openDirs(const std::string& path) const {
    UniqueFd fd(openBeneath(fullPath(path), O_RDONLY | O_DIRECTORY));
    if (fd) return fd;
    if (errno != ENOENT) throwBeneath(ErrorKind::kIo, "open", shownPath(path), errno);
    if (path == "/") {
      makeDirs(root_);
      return openDirs(path);
    }
    UniqueFd parent = openDirs(parentPath(path));
    std::string name = baseName(path);
    if (::mkdirat(parent.get(), name.c_str(), 0755) == 0) {
      if (::fsync(parent.get()) != 0) {
        throwErrno("fsync", shownPath(parentPath(path)), errno);
      }
    } else if (errno != EEXIST) {
      throwErrno("mkdir", shownPath(path), errno);
    }
    fd.reset(::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throwBeneath(ErrorKind::kIo, "open", shownPath(path), errno);
    return fd;
  }

  std::string shown_;  // the root as given
  std::string root_;   // the root with every symlink on the way resolved
};

}  // namespace

std::shared_ptr<StorageDriver> makeFsDriver(const std::filesystem::path& rootdirectory) {
  return std::make_shared<FsDriver>(rootdirectory);
}

}  // namespace regfs
