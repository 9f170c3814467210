#include "support/faultfs.h"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <map>
#include <stdexcept>

#include "support/mountinfo.h"

namespace regfs::testing {

bool isMountOf(const std::filesystem::path& dir, const std::string& type) {
  for (const MountEntry& m : mountTable()) {
    if (m.mountPoint == dir.string() && m.type == type) return true;
  }
  return false;
}

FaultFs::FaultFs(const std::filesystem::path& backing, const std::filesystem::path& mountpoint)
    : mountpoint_(mountpoint) {
  std::filesystem::create_directories(backing);
  std::filesystem::create_directories(mountpoint);
  heal();
  process_ = std::make_unique<Process>(
      std::vector<std::string>{(binDir() / "regfs-faultfs").string(), backing.string(),
                               mountpoint.string(), (dir_ / "rules").string()},
      std::map<std::string, std::string>{}, dir_ / "faultfs.log");
  struct stat st;
  if (!process_->waitWhileRunning([&] {
        return isMountOf(mountpoint, "fuse.regfs-faultfs") && ::stat(mountpoint.c_str(), &st) == 0;
      })) {
    throw std::runtime_error("regfs-faultfs did not mount: " + process_->log());
  }
}

FaultFs::~FaultFs() {
  if (isMountOf(mountpoint_, "fuse.regfs-faultfs"))
    run({"fusermount3", "-u", "-z", mountpoint_.string()});
  process_->stop();
}

void FaultFs::addRule(const std::string& rule) {
  std::ofstream(dir_ / "rules", std::ios::app) << rule << "\n";
}
void FaultFs::failReads(const std::string& pathPart, uint64_t fromOffset) {
  addRule("read " + pathPart + " " + std::to_string(fromOffset));
}
void FaultFs::failWrites(const std::string& pathPart) { addRule("write " + pathPart); }
void FaultFs::failSyncs(const std::string& pathPart) { addRule("fsync " + pathPart); }
void FaultFs::heal() { writeFile(dir_ / "rules", ""); }

}  // namespace regfs::testing
