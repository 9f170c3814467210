// Fuzz target: the headers regfsctl export writes (common/layers/tar_writer.h), read back by
// the tar parser (common/layers/tar.h). The input picks a member of the kind an image's tree
// can hold (clean names of any bytes but '/' and NUL, long names and link targets, any ids,
// negative and sub-second times, huge sizes and device numbers, xattrs of any value); its
// header must parse into exactly that entry, whatever the PAX records and ustar fields
// needed.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/layers/tar.h"
#include "common/layers/tar_writer.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

using layers::Entry;
using layers::EntryType;
using layers::TarMember;

// A name component: any bytes but '/' and NUL, never "." or "..".
std::string component(FuzzedDataProvider& in) {
  std::string name = in.ConsumeRandomLengthString(300);
  for (char& c : name) {
    if (c == '/' || c == '\0') c = '_';
  }
  if (name.empty() || name == "." || name == "..") name += "x";
  return name;
}

// A clean path of 1-4 components, sometimes long (PAX "path" past 100 bytes).
std::string cleanName(FuzzedDataProvider& in) {
  std::string path = component(in);
  int more = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < more; ++i) path += "/" + component(in);
  return path;
}

struct Case {
  TarMember member;
  std::vector<std::pair<std::string, std::string>> xattrs;
  Entry expected;
};

Case decode(FuzzedDataProvider& in) {
  static constexpr std::pair<char, EntryType> kTypes[] = {
      {'0', EntryType::kRegular},    {'1', EntryType::kHardlink},    {'2', EntryType::kSymlink},
      {'3', EntryType::kCharDevice}, {'4', EntryType::kBlockDevice}, {'5', EntryType::kDirectory},
      {'6', EntryType::kFifo},
  };
  Case c;
  TarMember& m = c.member;
  Entry& e = c.expected;
  auto [typeflag, type] = kTypes[in.ConsumeIntegralInRange<size_t>(0, std::size(kTypes) - 1)];
  m.type = typeflag;
  e.type = type;
  e.path = cleanName(in);
  m.name = type == EntryType::kDirectory ? e.path + "/" : e.path;
  m.mode = e.mode = in.ConsumeIntegral<uint32_t>() & 07777;
  m.uid = e.uid = in.ConsumeIntegral<uint32_t>();
  m.gid = e.gid = in.ConsumeIntegral<uint32_t>();
  m.mtimeSec = e.mtimeSec =
      in.ConsumeIntegralInRange<int64_t>(-(int64_t(1) << 40), int64_t(1) << 40);
  m.mtimeNsec = e.mtimeNsec = in.ConsumeIntegralInRange<uint32_t>(0, 999'999'999);
  if (type == EntryType::kRegular) m.size = e.size = in.ConsumeIntegral<uint64_t>() >> 1;
  if (type == EntryType::kSymlink) {
    // Verbatim: any bytes but NUL, absolute and climbing targets included.
    std::string target = in.ConsumeRandomLengthString(400);
    for (char& ch : target) {
      if (ch == '\0') ch = '/';
    }
    m.link = e.linkTarget = target;
  }
  if (type == EntryType::kHardlink) m.link = e.linkTarget = cleanName(in);
  if (type == EntryType::kCharDevice || type == EntryType::kBlockDevice) {
    m.devMajor = e.devMajor = in.ConsumeIntegral<uint32_t>();
    m.devMinor = e.devMinor = in.ConsumeIntegral<uint32_t>();
  }
  int xattrs = in.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < xattrs; ++i) {
    std::string name = in.ConsumeRandomLengthString(40);
    for (char& ch : name) {
      if (ch == '=' || ch == '\0') ch = '.';
    }
    if (name.empty()) name = "user.x";
    std::string value = in.ConsumeRandomLengthString(200);
    // A tree's xattr names are unique (a later record of a name replaces the earlier one).
    bool known = false;
    for (const auto& [n, v] : c.xattrs) known = known || n == name;
    if (!known) c.xattrs.emplace_back(name, std::move(value));
  }
  e.xattrs = c.xattrs;
  return c;
}

std::string describe(const Entry& e) {
  return "path " + show(e.path) + " type " + std::to_string(int(e.type)) + " mode " +
         std::to_string(e.mode) + " uid " + std::to_string(e.uid) + " gid " +
         std::to_string(e.gid) + " mtime " + std::to_string(e.mtimeSec) + "." +
         std::to_string(e.mtimeNsec) + " size " + std::to_string(e.size) + " link " +
         show(e.linkTarget) + " dev " + std::to_string(e.devMajor) + ":" +
         std::to_string(e.devMinor) + " xattrs " + std::to_string(e.xattrs.size());
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs::fuzz;
  FuzzedDataProvider in(data, size);
  Case c = decode(in);
  c.member.xattrs = &c.xattrs;
  std::string header = regfs::layers::tarHeader(c.member);
  FUZZ_CHECK(header.size() % regfs::layers::kTarBlock == 0, "header not whole blocks");

  std::optional<Entry> got;
  regfs::layers::TarParser parser([&](Entry&& e) {
    FUZZ_CHECK(!got, "one member parsed as two entries");
    got = std::move(e);
  });
  try {
    parser.feed(header);
  } catch (const regfs::Error& e) {
    fail(std::string("the parser refused a written header: ") + e.what() + "; " +
         describe(c.expected));
  }
  FUZZ_CHECK(got, "no entry parsed from a written header: " + describe(c.expected));
  FUZZ_CHECK(parser.dropped() == 0, "a clean name was dropped: " + describe(c.expected));
  got->dataOffset = 0;
  FUZZ_CHECK(*got == c.expected,
             "read back as " + describe(*got) + "; written " + describe(c.expected));
  return 0;
}
