#pragma once
// Test support: an independent consistency check of a store, for tests that crash,
// starve or abuse the server and then ask "is anything lost or half-written?".
//
// It walks the files themselves (so it sees what the store API would hide) and then the
// store through common/:
//   - every blob's data hashes to its digest; no blob or link file is empty or torn;
//     every link file is exactly "<alg>:<hex>" and names the digest of its directory;
//   - every tag's current link points at a revision of its repository whose blob exists
//     and parses as a manifest;
//   - every revision's blob exists and parses; every blob it needs is linked in the
//     repository and exists; every child manifest of an index is a revision too;
//   - every layer link's blob exists.
// Temporary files (".regfs-tmp-*") and upload sessions are garbage a crash may leave;
// they are counted, not problems.

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/process.h"

namespace regfs::testing {

struct StoreReport {
  std::vector<std::string> problems;
  size_t blobs = 0;
  size_t repositories = 0;
  size_t manifests = 0;
  size_t tags = 0;
  size_t tempFiles = 0;
  size_t uploads = 0;
  size_t layerIndexes = 0;
  bool clean() const { return problems.empty(); }
  // The problems, one per line (for a test failure message).
  std::string describe() const;
};

// Checks a store again and again (after each injected crash) without re-hashing the blobs
// it has verified before and that are unchanged since (same inode, size and mtime).
class StoreChecker {
 public:
  explicit StoreChecker(std::filesystem::path rootdirectory) : root_(std::move(rootdirectory)) {}
  StoreReport check();

 private:
  std::filesystem::path root_;
  std::map<std::string, std::string> verified_;  // blob path -> "ino size mtime"
};

inline StoreReport checkStore(const std::filesystem::path& rootdirectory) {
  return StoreChecker(rootdirectory).check();
}

// Every regular file under `dir`, relative, with its size: "path size" per line, sorted.
// For tests that prove nothing was written somewhere.
std::string listTree(const std::filesystem::path& dir);

// regfsctl fsck ROOT --grace 0s [extra...]: the tool's own verdict (exit 0 clean, 4 problems).
CommandResult runFsck(const std::filesystem::path& rootdirectory,
                      const std::vector<std::string>& extra = {});

}  // namespace regfs::testing
