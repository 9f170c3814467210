#include "fs/read_ahead.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace regfs::view {
namespace {

// mountinfo writes a space, tab, newline or backslash in a path as \ and three octal digits.
std::string unescapeMountinfo(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    bool octal = field[i] == '\\' && i + 3 < field.size();
    for (size_t k = 1; octal && k <= 3; ++k) octal = field[i + k] >= '0' && field[i + k] <= '7';
    if (octal) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> mountedDevice(std::string_view mountinfo, std::string_view mountpoint) {
  // Each line: mount id, parent id, MAJOR:MINOR, root, mount point, ...; later lines are
  // newer mounts, so the last one at a path is the one on top.
  std::optional<std::string> found;
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    if (!(fields >> id >> parent >> device >> root >> point)) continue;
    if (unescapeMountinfo(point) == mountpoint) found = device;
  }
  return found;
}

bool setReadAhead(const std::string& mountpoint, unsigned kib, std::string& error) {
  // Not stat(mountpoint): that is a request to the file system, which would wait for a
  // daemon that does not serve yet.
  std::ifstream info("/proc/self/mountinfo");
  std::stringstream text;
  text << info.rdbuf();
  std::optional<std::string> device = mountedDevice(text.str(), mountpoint);
  if (!device) {
    error = "no mount at " + mountpoint + " in /proc/self/mountinfo";
    return false;
  }
  std::string path = "/sys/class/bdi/" + *device + "/read_ahead_kb";
  std::ofstream out(path);
  if (out) out << kib << "\n" << std::flush;
  if (!out) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace regfs::view
