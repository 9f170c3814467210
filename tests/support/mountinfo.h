#pragma once
// This process's mount table, read from /proc/self/mountinfo (proc(5)).

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace regfs::testing {

struct MountEntry {
  std::string mountPoint;  // as the kernel writes it (octal escapes for spaces and the like)
  std::string type;        // the file system type, e.g. "fuse.regfs"
};

// Every mount this process sees, in the kernel's order (parents before their children).
inline std::vector<MountEntry> mountTable() {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<MountEntry> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root;
    MountEntry entry;
    fields >> id >> parent >> device >> root >> entry.mountPoint;
    // Optional fields follow, up to a lone "-"; then the type.
    size_t separator = line.find(" - ");
    if (separator != std::string::npos) {
      std::istringstream(line.substr(separator + 3)) >> entry.type;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace regfs::testing
