#pragma once
// What a file system tree says of each path, as a root file system comparison needs it: type,
// mode (with setuid, setgid, sticky), owner, mtime, size, content hash, link target, hardlink
// group and user xattrs. For comparing an image's rootfs in the view with what established
// unpackers (umoci, docker export) make of the same image.

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "support/image.h"

namespace regfs::testing {

struct PathFacts {
  char type = '?';    // d f l c b p s
  unsigned mode = 0;  // 07777
  unsigned uid = 0, gid = 0;
  int64_t mtimeSec = 0;
  int64_t mtimeNsec = 0;
  uint64_t size = 0;
  std::string content;    // f: sha256 hex; l: the target; c, b: "major,minor"
  std::string hardlinks;  // f with nlink > 1: the first path of its inode in the tree
  std::map<std::string, std::string> xattrs;
  bool operator==(const PathFacts&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const PathFacts& f) {
  os << f.type << " mode=" << std::oct << f.mode << std::dec << " " << f.uid << ":" << f.gid
     << " mtime=" << f.mtimeSec << "." << f.mtimeNsec << " size=" << f.size << " " << f.content;
  if (!f.hardlinks.empty()) os << " hardlink-of=" << f.hardlinks;
  for (const auto& [k, v] : f.xattrs) os << " " << k << "=" << v;
  return os;
}

struct TreeFactsOptions {
  bool mtimeNsec = true;  // compare sub-second mtimes
  bool directoryMtimes = true;
  // xattr name as the tree shows it -> the name to record it under; names not listed are
  // left out.
  std::map<std::string, std::string> xattrNames;
};

// Every path below `root` (relative; the root itself excluded), in order.
inline std::map<std::string, PathFacts> treeFacts(const std::filesystem::path& root,
                                                  const TreeFactsOptions& options = {}) {
  std::map<std::string, PathFacts> out;
  std::map<std::pair<dev_t, ino_t>, std::string> firstPath;
  std::vector<std::filesystem::path> paths;
  for (auto it = std::filesystem::recursive_directory_iterator(root);
       it != std::filesystem::recursive_directory_iterator(); ++it)
    paths.push_back(it->path());
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("lstat " + path.string());
    PathFacts f;
    f.mode = st.st_mode & 07777;
    f.uid = st.st_uid;
    f.gid = st.st_gid;
    f.mtimeSec = st.st_mtim.tv_sec;
    f.mtimeNsec = options.mtimeNsec ? st.st_mtim.tv_nsec : 0;
    std::string rel = path.lexically_relative(root).string();
    switch (st.st_mode & S_IFMT) {
      case S_IFDIR:
        f.type = 'd';
        if (!options.directoryMtimes) f.mtimeSec = f.mtimeNsec = 0;
        break;
      case S_IFLNK:
        f.type = 'l';
        f.content = std::filesystem::read_symlink(path).string();
        f.size = static_cast<uint64_t>(st.st_size);
        break;
      case S_IFREG: {
        f.type = 'f';
        f.size = static_cast<uint64_t>(st.st_size);
        f.content = sha256Hex(readFile(path));
        if (st.st_nlink > 1) {
          auto [it, inserted] = firstPath.try_emplace({st.st_dev, st.st_ino}, rel);
          f.hardlinks = it->second;
        }
        break;
      }
      case S_IFCHR:
      case S_IFBLK:
        f.type = S_ISCHR(st.st_mode) ? 'c' : 'b';
        f.content = std::to_string(major(st.st_rdev)) + "," + std::to_string(minor(st.st_rdev));
        break;
      case S_IFIFO:
        f.type = 'p';
        break;
      default:
        f.type = 's';
    }
    if (f.type != 'l') {
      char names[4096];
      ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
      for (ssize_t i = 0; n > 0 && i < n;) {
        std::string name(names + i);
        i += static_cast<ssize_t>(name.size()) + 1;
        auto wanted = options.xattrNames.find(name);
        if (wanted == options.xattrNames.end()) continue;
        char value[4096];
        ssize_t m = ::lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
        if (m >= 0) f.xattrs[wanted->second] = std::string(value, static_cast<size_t>(m));
      }
    }
    out[rel] = f;
  }
  // A hardlink group is named by its first path: the same in both trees when they agree.
  return out;
}

}  // namespace regfs::testing
