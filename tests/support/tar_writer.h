#pragma once
// Test support: hand-crafted tar streams. A TarHeader is one 512-byte header block whose every
// field can be set to any bytes (hostile ones included); a TarWriter appends headers, data and
// the end-of-archive blocks, with helpers for the usual members of each format.
//
//   TarWriter tar;
//   tar.file("etc/hosts", "127.0.0.1 localhost\n").dir("tmp/", 01777).end();
//   tar.header(TarHeader().name("x").size(1).checksum("bogus")).data("a");

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace regfs::testing {

class TarHeader {
 public:
  struct Field {
    size_t offset;
    size_t length;
  };
  static constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12},
      kMtime{136, 12}, kChecksum{148, 8}, kTypeflag{156, 1}, kLinkName{157, 100}, kMagic{257, 6},
      kVersion{263, 2}, kUname{265, 32}, kGname{297, 32}, kDevMajor{329, 8}, kDevMinor{337, 8},
      kPrefix{345, 155},
      // Old GNU headers: the sparse map (4 offset/numbytes pairs of 12 bytes), whether
      // extension blocks follow, the file's real size.
      kGnuSparse{386, 96}, kGnuIsExtended{482, 1}, kGnuRealSize{483, 12};

  // A ustar header ("ustar\0", "00"): a regular file, mode 0644, owner 0:0, mtime 0, size 0.
  TarHeader();

  // Raw bytes into a field: cut to its length, the rest of the field NUL.
  TarHeader& set(Field field, std::string_view bytes);
  // Octal digits, zero-padded to fill the field but for a final NUL.
  TarHeader& octal(Field field, uint64_t value);
  // GNU base-256: two's complement, big-endian, the top bit of the first byte set.
  TarHeader& base256(Field field, int64_t value);

  TarHeader& name(std::string_view name) { return set(kName, name); }
  TarHeader& mode(uint32_t mode) { return octal(kMode, mode); }
  TarHeader& uid(uint64_t uid) { return octal(kUid, uid); }
  TarHeader& gid(uint64_t gid) { return octal(kGid, gid); }
  TarHeader& size(uint64_t size) { return octal(kSize, size); }
  TarHeader& mtime(uint64_t mtime) { return octal(kMtime, mtime); }
  TarHeader& type(char typeflag);
  TarHeader& linkName(std::string_view name) { return set(kLinkName, name); }
  TarHeader& prefix(std::string_view prefix) { return set(kPrefix, prefix); }
  TarHeader& device(uint32_t major, uint32_t minor);
  TarHeader& gnu();  // the old GNU magic "ustar  \0"
  TarHeader& v7();   // no magic, no version
  // The checksum field as given, instead of the one block() computes.
  TarHeader& checksum(std::string_view raw);

  // The block, its checksum computed (the unsigned sum, "%06o\0 ") unless checksum() was set.
  std::string block() const;

 private:
  std::string bytes_;
  bool rawChecksum_ = false;
};

class TarWriter {
 public:
  // Headers and data as given; data() pads to a block.
  TarWriter& header(const TarHeader& header);
  TarWriter& data(std::string_view bytes);
  TarWriter& raw(std::string_view bytes);

  // ustar members (mode and mtime as given, owner 0:0).
  TarWriter& file(std::string_view name, std::string_view content, uint32_t mode = 0644);
  TarWriter& dir(std::string_view name, uint32_t mode = 0755);
  TarWriter& symlink(std::string_view name, std::string_view target);
  TarWriter& hardlink(std::string_view name, std::string_view target);
  TarWriter& fifo(std::string_view name);
  TarWriter& device(std::string_view name, char typeflag, uint32_t major, uint32_t minor);

  // A PAX extended header ('x' for the next member, 'g' global) holding these records.
  TarWriter& pax(const std::vector<std::pair<std::string, std::string>>& records,
                 char typeflag = 'x');
  // A GNU long name ('L') or long link name ('K') member.
  TarWriter& gnuLong(char typeflag, std::string_view name);
  // Two zero blocks.
  TarWriter& end();

  const std::string& bytes() const { return bytes_; }
  // Where the next byte will go: the dataOffset of a member whose header was just written.
  uint64_t offset() const { return bytes_.size(); }

  // "<length> <key>=<value>\n", the length counting itself.
  static std::string paxRecord(std::string_view key, std::string_view value);

 private:
  std::string bytes_;
};

}  // namespace regfs::testing
