#pragma once
// Shared by the view's integration tests: a real regfs-mount process on a temp mount
// point, a store filled from OCI layouts with common/, and a walk of a mounted tree.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "common/digest.h"
#include "common/store/store.h"
#include "support/faultfs.h"
#include "support/image.h"
#include "support/process.h"

namespace regfs::testing {

// True if `dir` is a FUSE mount of regfs right now (per /proc/self/mountinfo).
inline bool isRegfsMount(const std::filesystem::path& dir) { return isMountOf(dir, "fuse.regfs"); }

// How often `pattern` occurs in a daemon's debug log (-o debug).
inline size_t countInLog(const std::string& log, const std::regex& pattern) {
  return static_cast<size_t>(
      std::distance(std::sregex_iterator(log.begin(), log.end(), pattern), std::sregex_iterator()));
}

// regfs-mount ROOT MOUNTPOINT -f, started in the constructor and stopped by PID.
class MountedView {
 public:
  MountedView(const std::filesystem::path& root, const std::filesystem::path& mountpoint,
              std::vector<std::string> extra = {})
      : mountpoint_(mountpoint) {
    std::error_code ec;  // a stale mount point cannot even be stat'ed; regfs-mount copes
    std::filesystem::create_directories(mountpoint, ec);
    std::vector<std::string> argv = {(binDir() / "regfs-mount").string(), root.string(),
                                     mountpoint.string(), "-f"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    logFile_ = mountpoint.parent_path() / (mountpoint.filename().string() + ".log");
    process_ = std::make_unique<Process>(argv, std::map<std::string, std::string>{}, logFile_);
    struct stat st;
    if (!process_->waitWhileRunning(
            [&] { return isRegfsMount(mountpoint) && ::stat(mountpoint.c_str(), &st) == 0; })) {
      throw std::runtime_error("regfs-mount did not mount: " + process_->log());
    }
  }
  ~MountedView() {
    if (process_) stop();
    if (isRegfsMount(mountpoint_)) run({"fusermount3", "-u", "-z", mountpoint_.string()});
    if (std::string report = sanitizerReport(log()); !report.empty())
      ADD_FAILURE() << "regfs-mount:\n" << report;
  }
  // SIGTERM; returns the exit status. The mount must be gone afterwards.
  int stop(int signal = 15) {
    int status = process_->stop(signal);
    return status;
  }
  pid_t pid() const { return process_->pid(); }
  std::string log() const { return process_->log(); }
  const std::filesystem::path& path() const { return mountpoint_; }

 private:
  std::filesystem::path mountpoint_, logFile_;
  std::unique_ptr<Process> process_;
};

// Puts every blob of the OCI layout into the store and links it into `repo`, then the
// manifests (children before the index that lists them) as revisions, then the tag.
inline void pushLayout(Store& store, const OciLayout& oci, const std::string& repoName,
                       const std::vector<Blob>& manifests, const std::string& tag) {
  Repository repo = store.repository(RepoName::parse(repoName));
  for (const auto& entry : std::filesystem::directory_iterator(oci.dir() / "blobs" / "sha256")) {
    Digest d = store.putBlob(readFile(entry.path()));
    repo.linkLayer(d);
  }
  for (const Blob& m : manifests) repo.putManifest(m.bytes);
  if (!tag.empty()) repo.putTag(Tag::parse(tag), Digest::parse(manifests.back().digest));
}

struct Entry {
  char type = '?';  // d, f, l
  uint64_t ino = 0;
  uint64_t nlink = 0;
  uint64_t size = 0;
  int64_t mtimeSec = 0;
  int64_t mtimeNsec = 0;
  std::string content;  // f: sha256 hex of the bytes read; l: the target
  bool operator==(const Entry&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Entry& e) {
  return os << e.type << " ino=" << e.ino << " nlink=" << e.nlink << " size=" << e.size
            << " mtime=" << e.mtimeSec << "." << e.mtimeNsec << " " << e.content;
}

// Every path below `root` (relative, "" excluded) with what lstat and a full read say.
inline std::map<std::string, Entry> walkTree(const std::filesystem::path& root,
                                             bool hashFiles = true) {
  std::map<std::string, Entry> out;
  for (auto it = std::filesystem::recursive_directory_iterator(root);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0)
      throw std::runtime_error("lstat " + it->path().string());
    Entry e;
    e.ino = st.st_ino;
    e.nlink = st.st_nlink;
    e.size = static_cast<uint64_t>(st.st_size);
    e.mtimeSec = st.st_mtim.tv_sec;
    e.mtimeNsec = st.st_mtim.tv_nsec;
    if (S_ISDIR(st.st_mode)) {
      e.type = 'd';
    } else if (S_ISLNK(st.st_mode)) {
      e.type = 'l';
      e.content = std::filesystem::read_symlink(it->path()).string();
    } else if (S_ISREG(st.st_mode)) {
      e.type = 'f';
      if (hashFiles) e.content = sha256Hex(readFile(it->path()));
    }
    out[it->path().lexically_relative(root).string()] = e;
  }
  return out;
}

inline std::string xattr(const std::filesystem::path& path, const std::string& name) {
  char buf[512];
  ssize_t n = ::getxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

}  // namespace regfs::testing
