#pragma once
// Tar headers as regfs writes them (export.h): a POSIX ustar header block, preceded by a PAX
// 'x' header when a ustar field cannot say what the member needs. The tar parser (tar.h)
// reads back every field written here; tests/fuzz/tar_writer_fuzz.cc checks that it does.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace regfs::layers {

inline constexpr size_t kTarBlock = 512;

// One member: what its header says, before it is split into header fields and PAX records.
struct TarMember {
  std::string name;   // relative; directories end in '/'
  char type = '0';    // ustar typeflag: '0' file, '1' hardlink, '2' symlink, '3'/'4' devices, ...
  uint32_t mode = 0;  // 07777 at most
  uint32_t uid = 0, gid = 0;
  int64_t mtimeSec = 0;
  uint32_t mtimeNsec = 0;  // below 1e9
  uint64_t size = 0;
  std::string link;  // symlink target, or the name a hardlink names
  uint32_t devMajor = 0, devMinor = 0;
  const std::vector<std::pair<std::string, std::string>>* xattrs = nullptr;
};

// The member's header blocks (the file data and its padding follow them):
//  - name and link past 100 bytes go in PAX "path" / "linkpath" records (the ustar field keeps
//    the first 100 bytes);
//  - uid, gid and size past their octal fields, and an mtime that is negative, sub-second or
//    past its field, in PAX records ("uid", "gid", "size", "mtime" as Go's archive/tar writes
//    it); device numbers past their fields in GNU base-256, as no PAX record says them;
//  - xattrs as "SCHILY.xattr.<name>" records (a name holds no '=' and no NUL).
// The PAX header is named "<dir>/PaxHeaders/<base>" as GNU tar names it, minus the process id.
std::string tarHeader(const TarMember& m);

}  // namespace regfs::layers
