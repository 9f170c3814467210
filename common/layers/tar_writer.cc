#include "common/layers/tar_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace regfs::layers {
namespace {

constexpr size_t kNameField = 100;

// One ustar header block.
class Header {
 public:
  Header() {
    std::memcpy(block_ + 257, "ustar", 6);  // magic with its NUL
    std::memcpy(block_ + 263, "00", 2);     // version
  }
  void text(size_t offset, size_t length, std::string_view value) {
    std::memcpy(block_ + offset, value.data(), std::min(length, value.size()));
  }
  // Octal digits filling the field but for a final NUL; false (field left zero) when the
  // value does not fit.
  bool octal(size_t offset, size_t length, uint64_t value) {
    if (value >> (3 * (length - 1)) != 0) return false;
    for (size_t i = length - 1; i-- > 0; value >>= 3) block_[offset + i] = char('0' + (value & 7));
    return true;
  }
  // GNU base-256 when octal does not fit (device numbers: no PAX record says them).
  void number(size_t offset, size_t length, uint64_t value) {
    if (octal(offset, length, value)) return;
    for (size_t i = length; i-- > 1; value >>= 8) block_[offset + i] = char(value & 0xff);
    block_[offset] = char(0x80);
  }
  void type(char typeflag) { block_[156] = typeflag; }
  std::string_view finish() {
    std::memset(block_ + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : block_) sum += c;
    octal(148, 7, sum);  // six digits, then NUL and space
    block_[154] = '\0';
    return {block_, kTarBlock};
  }

 private:
  char block_[kTarBlock] = {};
};

// "<length> <key>=<value>\n", the length counting itself.
void paxRecord(std::string& out, std::string_view key, std::string_view value) {
  size_t body = 1 + key.size() + 1 + value.size() + 1;
  size_t length = body + 1;
  while (std::to_string(length).size() + body != length) ++length;
  out += std::to_string(length);
  out += ' ';
  out += key;
  out += '=';
  out += value;
  out += '\n';
}

// As Go's archive/tar writes a PAX time: seconds, and the nanoseconds when there are any
// (a negative time counts down: -1.5 is 1.5 s before the epoch).
std::string paxTime(int64_t sec, uint32_t nsec) {
  if (nsec == 0) return std::to_string(sec);
  std::string sign;
  uint64_t whole = static_cast<uint64_t>(sec);
  uint32_t frac = nsec;
  if (sec < 0) {
    sign = "-";
    whole = static_cast<uint64_t>(-(sec + 1));
    frac = 1'000'000'000 - nsec;
  }
  char digits[10];
  std::snprintf(digits, sizeof digits, "%09u", frac);
  std::string out = sign + std::to_string(whole) + "." + digits;
  while (out.back() == '0') out.pop_back();
  return out;
}

}  // namespace

std::string tarHeader(const TarMember& m) {
  std::string out;
  Header h;
  std::string pax;
  if (m.name.size() > kNameField) paxRecord(pax, "path", m.name);
  h.text(0, kNameField, m.name);
  if (m.link.size() > kNameField) paxRecord(pax, "linkpath", m.link);
  h.text(157, kNameField, m.link);
  h.octal(100, 8, m.mode);
  if (!h.octal(108, 8, m.uid)) paxRecord(pax, "uid", std::to_string(m.uid));
  if (!h.octal(116, 8, m.gid)) paxRecord(pax, "gid", std::to_string(m.gid));
  if (!h.octal(124, 12, m.size)) paxRecord(pax, "size", std::to_string(m.size));
  if (m.mtimeSec < 0 || m.mtimeNsec != 0 || !h.octal(136, 12, static_cast<uint64_t>(m.mtimeSec))) {
    paxRecord(pax, "mtime", paxTime(m.mtimeSec, m.mtimeNsec));
    if (m.mtimeSec > 0) h.octal(136, 12, static_cast<uint64_t>(m.mtimeSec));
  }
  h.type(m.type);
  if (m.type == '3' || m.type == '4') {
    h.number(329, 8, m.devMajor);
    h.number(337, 8, m.devMinor);
  }
  if (m.xattrs) {
    for (const auto& [name, value] : *m.xattrs) paxRecord(pax, "SCHILY.xattr." + name, value);
  }
  if (!pax.empty()) {
    Header x;
    // As GNU tar names them, minus the process id: "<dir>/PaxHeaders/<base>".
    std::string_view name = m.name;
    if (name.ends_with('/')) name.remove_suffix(1);
    size_t slash = name.rfind('/');
    std::string dir = slash == std::string_view::npos ? "." : std::string(name.substr(0, slash));
    std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
    x.text(0, kNameField, (dir + "/PaxHeaders/" + std::string(base)).substr(0, kNameField));
    x.octal(100, 8, 0644);
    x.octal(108, 8, 0);
    x.octal(116, 8, 0);
    x.octal(124, 12, pax.size());
    x.octal(136, 12, 0);
    x.type('x');
    out += x.finish();
    out += pax;
    out.append((kTarBlock - pax.size() % kTarBlock) % kTarBlock, '\0');
  }
  out += h.finish();
  return out;
}

}  // namespace regfs::layers
