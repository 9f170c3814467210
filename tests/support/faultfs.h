#pragma once
// Test support: real I/O errors under a store. regfs-faultfs (built for the tests only) is a
// passthrough FUSE file system over a backing directory that answers EIO to the reads,
// writes or fsyncs of the files a test names; mount it, put the store inside, and the
// server meets the errors a failing disk gives, through the same system calls.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "support/process.h"

namespace regfs::testing {

// True if `dir` is a mount point of file system type `type` ("fuse.regfs") right now.
bool isMountOf(const std::filesystem::path& dir, const std::string& type);

class FaultFs {
 public:
  // Mounts `backing` at `mountpoint` (both created); throws when it does not mount.
  FaultFs(const std::filesystem::path& backing, const std::filesystem::path& mountpoint);
  ~FaultFs();
  FaultFs(const FaultFs&) = delete;
  FaultFs& operator=(const FaultFs&) = delete;

  const std::filesystem::path& path() const { return mountpoint_; }
  // Files opened from now on whose path in the mount contains `pathPart` fail so:
  // reads at or past `fromOffset` (the bytes before it still read) ...
  void failReads(const std::string& pathPart, uint64_t fromOffset = 0);
  // ... every write ...
  void failWrites(const std::string& pathPart);
  // ... every fsync (also of files already open).
  void failSyncs(const std::string& pathPart);
  // No faults for files opened from now on.
  void heal();
  std::string log() const { return process_->log(); }

 private:
  void addRule(const std::string& rule);
  TempDir dir_;
  std::filesystem::path mountpoint_;
  std::unique_ptr<Process> process_;
};

}  // namespace regfs::testing
