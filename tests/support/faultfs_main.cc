// regfs-faultfs BACKING MOUNTPOINT RULES: a passthrough FUSE file system over BACKING that
// answers EIO where RULES says, so that tests can give the store real I/O errors.
//
// RULES is a text file read again at every open, create and fsync; each line is
//   read  PATH-PART [OFFSET]   reads at or past OFFSET (default 0) of matching files fail
//   write PATH-PART            writes to matching files fail
//   fsync PATH-PART            fsync of matching files fails
// where a file matches when its path in the mount ("/store/docker/...") contains PATH-PART.
// A file keeps the faults it was opened with. Caches are off (no kernel page cache kept
// across opens, no attribute or entry caching), so every read reaches this process.
// Built only for the tests; it runs in the foreground, single-threaded.

#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <fcntl.h>
#include <fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace faultfs {

int backing = -1;
std::string rulesPath;

struct Faults {
  int64_t readFrom = -1;  // reads at or past this offset fail; -1: none
  bool write = false;
  bool fsync = false;
};

Faults faultsFor(const char* path) {
  Faults f;
  std::ifstream in(rulesPath);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string op, part;
    int64_t offset = 0;
    if (!(words >> op >> part) || std::string(path).find(part) == std::string::npos) continue;
    words >> offset;
    if (op == "read") f.readFrom = f.readFrom < 0 ? offset : std::min(f.readFrom, offset);
    if (op == "write") f.write = true;
    if (op == "fsync") f.fsync = true;
  }
  return f;
}

// A path in the mount as a path relative to the backing directory.
std::string rel(const char* path) { return path[1] ? std::string(path + 1) : std::string("."); }
int result(int r) { return r < 0 ? -errno : r; }

struct Handle {
  int fd;
  Faults faults;
};
Handle* handle(fuse_file_info* fi) { return reinterpret_cast<Handle*>(fi->fh); }

void* init(fuse_conn_info*, fuse_config* cfg) {
  cfg->use_ino = 1;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->kernel_cache = 0;
  cfg->hard_remove = 1;  // unlink open files for real, as a disk file system does (no .fuse_hidden)
  return nullptr;
}

int getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  if (fi) return result(::fstat(handle(fi)->fd, st));
  return result(::fstatat(backing, rel(path).c_str(), st, AT_SYMLINK_NOFOLLOW));
}

int readlink(const char* path, char* buf, size_t size) {
  ssize_t n = ::readlinkat(backing, rel(path).c_str(), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

int mkdir(const char* path, mode_t mode) {
  return result(::mkdirat(backing, rel(path).c_str(), mode));
}
int unlink(const char* path) { return result(::unlinkat(backing, rel(path).c_str(), 0)); }
int rmdir(const char* path) { return result(::unlinkat(backing, rel(path).c_str(), AT_REMOVEDIR)); }
int symlink(const char* target, const char* path) {
  return result(::symlinkat(target, backing, rel(path).c_str()));
}
int link(const char* from, const char* to) {
  return result(::linkat(backing, rel(from).c_str(), backing, rel(to).c_str(), 0));
}
int rename(const char* from, const char* to, unsigned int flags) {
  return result(::renameat2(backing, rel(from).c_str(), backing, rel(to).c_str(), flags));
}
int chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  if (fi) return result(::fchmod(handle(fi)->fd, mode));
  return result(::fchmodat(backing, rel(path).c_str(), mode, 0));
}
int chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  if (fi) return result(::fchown(handle(fi)->fd, uid, gid));
  return result(::fchownat(backing, rel(path).c_str(), uid, gid, AT_SYMLINK_NOFOLLOW));
}
int utimens(const char* path, const timespec tv[2], fuse_file_info* fi) {
  if (fi) return result(::futimens(handle(fi)->fd, tv));
  return result(::utimensat(backing, rel(path).c_str(), tv, AT_SYMLINK_NOFOLLOW));
}
int truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (fi) return result(::ftruncate(handle(fi)->fd, size));
  int fd = ::openat(backing, rel(path).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = result(::ftruncate(fd, size));
  ::close(fd);
  return r;
}

int openFile(const char* path, int fd, fuse_file_info* fi) {
  if (fd < 0) return -errno;
  fi->fh = reinterpret_cast<uint64_t>(new Handle{fd, faultsFor(path)});
  return 0;
}
int create(const char* path, mode_t mode, fuse_file_info* fi) {
  return openFile(path, ::openat(backing, rel(path).c_str(), fi->flags | O_CLOEXEC, mode), fi);
}
int open(const char* path, fuse_file_info* fi) {
  return openFile(path, ::openat(backing, rel(path).c_str(), fi->flags | O_CLOEXEC), fi);
}
int release(const char*, fuse_file_info* fi) {
  ::close(handle(fi)->fd);
  delete handle(fi);
  return 0;
}

int read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  Handle* h = handle(fi);
  if (h->faults.readFrom >= 0 && offset + static_cast<off_t>(size) > h->faults.readFrom) {
    // The bytes before the bad spot still read, as from a disk with one bad sector.
    if (offset >= h->faults.readFrom) return -EIO;
    size = static_cast<size_t>(h->faults.readFrom - offset);
  }
  return result(static_cast<int>(::pread(h->fd, buf, size, offset)));
}

int write(const char*, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  Handle* h = handle(fi);
  if (h->faults.write) return -EIO;
  return result(static_cast<int>(::pwrite(h->fd, buf, size, offset)));
}

int fsync(const char* path, int, fuse_file_info* fi) {
  if (faultsFor(path).fsync || handle(fi)->faults.fsync) return -EIO;
  return result(::fsync(handle(fi)->fd));
}

int statfs(const char*, struct statvfs* st) { return result(::fstatvfs(backing, st)); }

int opendir(const char* path, fuse_file_info* fi) {
  int fd = ::openat(backing, rel(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  fi->fh = reinterpret_cast<uint64_t>(dir);
  return 0;
}
int readdir(const char*, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info* fi,
            fuse_readdir_flags) {
  DIR* dir = reinterpret_cast<DIR*>(fi->fh);
  ::rewinddir(dir);
  while (dirent* e = ::readdir(dir)) {
    if (fill(buf, e->d_name, nullptr, 0, static_cast<fuse_fill_dir_flags>(0))) break;
  }
  return 0;
}
int releasedir(const char*, fuse_file_info* fi) {
  ::closedir(reinterpret_cast<DIR*>(fi->fh));
  return 0;
}
int fsyncdir(const char*, int, fuse_file_info* fi) {
  return result(::fsync(::dirfd(reinterpret_cast<DIR*>(fi->fh))));
}

}  // namespace faultfs

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: regfs-faultfs BACKING MOUNTPOINT RULES\n");
    return 2;
  }
  faultfs::backing = ::open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (faultfs::backing < 0) {
    std::perror(argv[1]);
    return 1;
  }
  faultfs::rulesPath = argv[3];
  fuse_operations ops{};
  ops.init = faultfs::init;
  ops.getattr = faultfs::getattr;
  ops.readlink = faultfs::readlink;
  ops.mkdir = faultfs::mkdir;
  ops.unlink = faultfs::unlink;
  ops.rmdir = faultfs::rmdir;
  ops.symlink = faultfs::symlink;
  ops.rename = faultfs::rename;
  ops.link = faultfs::link;
  ops.chmod = faultfs::chmod;
  ops.chown = faultfs::chown;
  ops.truncate = faultfs::truncate;
  ops.utimens = faultfs::utimens;
  ops.create = faultfs::create;
  ops.open = faultfs::open;
  ops.read = faultfs::read;
  ops.write = faultfs::write;
  ops.statfs = faultfs::statfs;
  ops.release = faultfs::release;
  ops.fsync = faultfs::fsync;
  ops.opendir = faultfs::opendir;
  ops.readdir = faultfs::readdir;
  ops.releasedir = faultfs::releasedir;
  ops.fsyncdir = faultfs::fsyncdir;
  std::string self = argv[0], mountpoint = argv[2];
  char fsname[] = "-ofsname=regfs-faultfs,subtype=regfs-faultfs";
  char foreground[] = "-f", single[] = "-s";
  char* args[] = {self.data(), mountpoint.data(), foreground, single, fsname, nullptr};
  return fuse_main(5, args, &ops, nullptr);
}
