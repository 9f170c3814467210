#pragma once
// The kernel's read-ahead for a FUSE mount: a setting of the mount's backing device info
// (/sys/class/bdi/MAJOR:MINOR/read_ahead_kb), 128 KiB when mounted. The INIT reply can only
// lower it; raising it takes a write there (root only) once the file system is mounted.

#include <optional>
#include <string>
#include <string_view>

namespace regfs::view {

// The device ("MAJOR:MINOR") of the file system mounted last at `mountpoint` (an absolute
// path without symlinks), from the text of /proc/self/mountinfo; nullopt if none is.
std::optional<std::string> mountedDevice(std::string_view mountinfo, std::string_view mountpoint);

// Sets the read-ahead of the file system mounted at `mountpoint` to `kib`. Asks nothing of
// that file system (its daemon may not be serving yet). Returns false, with the reason in
// `error`, if it cannot (not root, no such mount).
bool setReadAhead(const std::string& mountpoint, unsigned kib, std::string& error);

}  // namespace regfs::view
