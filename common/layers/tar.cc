#include "common/layers/tar.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <unordered_map>
#include <utility>

#include "common/error.h"

namespace regfs::layers {
namespace {

constexpr uint64_t kBlock = 512;
constexpr size_t kMaxDroppedNames = 16;

// A field of a header block. ustar's layout; GNU and star reuse the bytes after `devminor`.
struct Field {
  size_t offset;
  size_t length;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12},
    kMtime{136, 12}, kChecksum{148, 8}, kLinkName{157, 100}, kMagic{257, 8}, kDevMajor{329, 8},
    kDevMinor{337, 8}, kPrefix{345, 155}, kStarPrefix{345, 131}, kStarTrailer{508, 4},
    kGnuRealSize{483, 12};
constexpr size_t kTypeflag = 156;
// Old GNU sparse map: (offset, numbytes) pairs of 12-byte numbers, 4 in the header and 21 in
// each extension block, each followed by an "is extended" byte.
constexpr size_t kGnuSparseMap = 386, kGnuSparseInHeader = 4, kGnuIsExtended = 482;
constexpr size_t kGnuSparseInExtension = 21, kGnuExtensionIsExtended = 504;

enum class Format { kV7, kUstar, kStar, kGnu };

std::string_view field(std::string_view block, Field f) { return block.substr(f.offset, f.length); }
std::string_view cString(std::string_view s) { return s.substr(0, s.find('\0')); }
uint64_t roundUp(uint64_t n) { return (n + kBlock - 1) / kBlock * kBlock; }  // n < 2^63

// A bounded, printable excerpt of a name for messages and log lines.
std::string shown(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 200)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  if (name.size() > 200) out += "...";
  return out;
}

[[noreturn]] void invalid(uint64_t at, const std::string& what) {
  throw Error(ErrorKind::kInvalidArgument,
              "tar: " + what + " (member at offset " + std::to_string(at) + ")");
}

[[noreturn]] void overLimit(const char* limit, uint64_t value, uint64_t max, uint64_t at) {
  throw Error(ErrorKind::kSizeInvalid, "tar: " + std::string(limit) + " " + std::to_string(value) +
                                           " is over the limit of " + std::to_string(max) +
                                           " (member at offset " + std::to_string(at) + ")");
}

// A numeric header field: octal text (spaces and NULs around it allowed, empty is 0) or, as
// GNU writes large values, base-256 two's complement flagged by the top bit of the first byte.
std::optional<int64_t> parseNumeric(std::string_view f) {
  if (!f.empty() && (static_cast<unsigned char>(f[0]) & 0x80) != 0) {
    uint8_t invert = (static_cast<unsigned char>(f[0]) & 0x40) != 0 ? 0xff : 0x00;
    uint64_t x = 0;
    for (size_t i = 0; i < f.size(); ++i) {
      uint8_t c = static_cast<unsigned char>(f[i]) ^ invert;
      if (i == 0) c &= 0x7f;
      if ((x >> 56) != 0) return std::nullopt;
      x = x << 8 | c;
    }
    if ((x >> 63) != 0) return std::nullopt;
    return invert != 0 ? ~static_cast<int64_t>(x) : static_cast<int64_t>(x);
  }
  size_t begin = f.find_first_not_of(std::string_view(" \0", 2));
  if (begin == std::string_view::npos) return 0;
  size_t end = f.find_last_not_of(std::string_view(" \0", 2)) + 1;
  uint64_t x = 0;
  for (char c : f.substr(begin, end - begin)) {
    if (c < '0' || c > '7' || (x >> 60) != 0) return std::nullopt;
    x = x << 3 | static_cast<uint64_t>(c - '0');
  }
  if ((x >> 63) != 0) return std::nullopt;
  return static_cast<int64_t>(x);
}

// A decimal number of a PAX record or a sparse map: digits only, at most 2^63 - 1.
std::optional<uint64_t> parseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    x = x * 10 + static_cast<uint64_t>(c - '0');
  }
  if ((x >> 63) != 0) return std::nullopt;
  return x;
}

bool isZeroBlock(std::string_view block) {
  return std::all_of(block.begin(), block.end(), [](char c) { return c == 0; });
}

// The stored checksum against the sum of the block's bytes with the checksum field as
// spaces; GNU tar accepts a sum of bytes taken as unsigned or as signed (old Sun tars).
bool checksumMatches(std::string_view block) {
  std::optional<int64_t> stored = parseNumeric(field(block, kChecksum));
  if (!stored) return false;
  int64_t unsignedSum = 0, signedSum = 0;
  for (size_t i = 0; i < block.size(); ++i) {
    bool inField = i >= kChecksum.offset && i < kChecksum.offset + kChecksum.length;
    char c = inField ? ' ' : block[i];
    unsignedSum += static_cast<unsigned char>(c);
    signedSum += static_cast<signed char>(c);
  }
  return *stored == unsignedSum || *stored == signedSum;
}

Format formatOf(std::string_view block) {
  std::string_view magic = field(block, kMagic);
  if (magic == std::string_view("ustar  \0", 8)) return Format::kGnu;
  if (magic.substr(0, 6) == std::string_view("ustar\0", 6)) {
    return field(block, kStarTrailer) == std::string_view("tar\0", 4) ? Format::kStar
                                                                      : Format::kUstar;
  }
  return Format::kV7;
}

// The records of a PAX extended header ('x', for the next member) or of the global ones ('g',
// for every later member). A field a record sets is kept as its text; in an 'x' header an
// empty value means "the header's own field", in a 'g' header it removes the global value.
struct PaxRecords {
  std::optional<std::string> path, linkpath, size, uid, gid, mtime;
  std::vector<std::pair<std::string, std::string>> xattrs;
  std::unordered_map<std::string, size_t> xattrIndex;
  uint64_t xattrBytes = 0;  // names and values of `xattrs`
  // GNU.sparse.*: the version records, the name and size of the file, the 0.1 map and the
  // 0.0 offset/numbytes records in the order written.
  std::optional<std::string> sparseMajor, sparseMinor, sparseName, sparseSize, sparseRealSize,
      sparseNumBlocks, sparseMap;
  std::vector<uint64_t> sparsePairs;
};

// The value of a field: the member's 'x' record, else the global one; nullopt (the header's
// own field) when neither is set or the 'x' record is empty.
std::optional<std::string_view> pick(const std::optional<std::string>& own,
                                     const std::optional<std::string>& global) {
  if (own) return own->empty() ? std::nullopt : std::optional<std::string_view>(*own);
  if (global) return std::string_view(*global);
  return std::nullopt;
}

// Checks extents against the file's size and the bytes stored for them. A sparse file with no
// extents gets one empty extent at its end, so it never reads as a file stored whole.
void checkExtents(std::vector<Extent>& extents, uint64_t size, uint64_t stored, uint64_t at) {
  uint64_t end = 0, sum = 0;
  for (const Extent& e : extents) {
    if (e.offset < end || e.length > size || e.offset > size - e.length) {
      invalid(at, "sparse map out of order or past the file's size");
    }
    end = e.offset + e.length;
    sum += e.length;  // no overflow: the extents do not overlap and end within size
  }
  if (sum != stored) {
    invalid(at, "sparse map holds " + std::to_string(sum) + " bytes but " + std::to_string(stored) +
                    " are stored");
  }
  if (extents.empty()) extents.push_back({size, 0});
}

enum class Phase {
  kHeader,     // collecting a header block
  kRecord,     // collecting the data of an 'x', 'g', 'L' or 'K' member
  kSkip,       // skipping file data and padding
  kGnuSparse,  // collecting an old GNU sparse extension block
  kSparseMap,  // reading a PAX 1.0 sparse map at the start of a member's data
  kEnded,      // after the end-of-archive block: the rest is ignored
};

// The type of a member: GNU tar extracts an unknown type as a regular file, and a regular type
// named with a trailing '/' as a directory (v7 archives wrote directories so). `headerOnly`:
// no data follows, whatever the size field says, as Go's archive/tar (docker, containerd)
// reads them.
EntryType memberType(char typeflag, std::string_view rawName, bool& headerOnly) {
  headerOnly = true;
  switch (typeflag) {
    case '1':
      return EntryType::kHardlink;
    case '2':
      return EntryType::kSymlink;
    case '3':
      return EntryType::kCharDevice;
    case '4':
      return EntryType::kBlockDevice;
    case '5':
      return EntryType::kDirectory;
    case '6':
      return EntryType::kFifo;
    case 'D':  // a GNU incremental dump's directory: its data lists the names and is skipped
      headerOnly = false;
      return EntryType::kDirectory;
    default:
      bool regularType = typeflag == '0' || typeflag == '\0' || typeflag == '7';
      if (regularType && rawName.ends_with('/')) return EntryType::kDirectory;
      headerOnly = false;
      return EntryType::kRegular;
  }
}

// The global xattrs, then the member's own (replacing a global one of the same name).
std::vector<std::pair<std::string, std::string>> mergeXattrs(const PaxRecords& global,
                                                             PaxRecords& own) {
  std::vector<std::pair<std::string, std::string>> xattrs = global.xattrs;
  for (auto& [name, value] : own.xattrs) {
    auto it = global.xattrIndex.find(name);
    if (it == global.xattrIndex.end()) {
      xattrs.emplace_back(std::move(name), std::move(value));
    } else {
      xattrs[it->second].second = std::move(value);
    }
  }
  return xattrs;
}

// The PAX sparse format of a member, recognised as Go's archive/tar recognises it.
enum class PaxSparse { kNone, kV0, kV1 };
PaxSparse paxSparseOf(const PaxRecords& r) {
  const auto& major = r.sparseMajor;
  const auto& minor = r.sparseMinor;
  if (major == "0" && (minor == "0" || minor == "1")) return PaxSparse::kV0;
  if (major == "1" && minor == "0") return PaxSparse::kV1;
  if (major || minor) return PaxSparse::kNone;  // an unknown version: stored whole
  bool hasMap = !r.sparsePairs.empty() || (r.sparseMap && !r.sparseMap->empty());
  return hasMap ? PaxSparse::kV0 : PaxSparse::kNone;
}

// The extents of PAX sparse formats 0.0 (offset/numbytes records) and 0.1 (one map record).
std::vector<Extent> paxSparseV0(PaxRecords& r, const TarLimits& limits, uint64_t at) {
  std::optional<uint64_t> count =
      r.sparseNumBlocks ? parseDecimal(*r.sparseNumBlocks) : std::nullopt;
  if (!count) invalid(at, "bad GNU.sparse.numblocks");
  if (*count > limits.maxSparseExtents) {
    overLimit("sparse extents (maxSparseExtents)", *count, limits.maxSparseExtents, at);
  }
  std::vector<uint64_t> numbers = std::move(r.sparsePairs);
  if (numbers.empty() && r.sparseMap && !r.sparseMap->empty()) {
    std::string_view map = *r.sparseMap;
    while (true) {
      size_t comma = map.find(',');
      std::optional<uint64_t> n = parseDecimal(map.substr(0, comma));
      if (!n) invalid(at, "bad GNU.sparse.map");
      if (numbers.size() >= 2 * *count) invalid(at, "GNU.sparse.map is too long");
      numbers.push_back(*n);
      if (comma == std::string_view::npos) break;
      map.remove_prefix(comma + 1);
    }
  }
  if (numbers.size() != 2 * *count) {
    invalid(at, "the sparse map does not have GNU.sparse.numblocks extents");
  }
  std::vector<Extent> extents;
  for (size_t i = 0; i < numbers.size(); i += 2) extents.push_back({numbers[i], numbers[i + 1]});
  return extents;
}

}  // namespace

struct TarParser::State {
  EntrySink sink;
  TarLimits limits;
  Phase phase = Phase::kHeader;
  uint64_t offset = 0;      // bytes taken
  uint64_t memberAt = 0;    // where the current member's first header block starts
  bool memberOpen = false;  // extended headers were read for a member not yet complete
  std::string block;
  // kRecord: the member's type and its data so far.
  char recordType = 0;
  uint64_t recordSize = 0;
  std::string record;
  // kSkip
  uint64_t skip = 0;
  // What the extended headers said about the next member, and the global records.
  PaxRecords pax, global;
  std::optional<std::string> longName, longLink;
  // A member whose header is read but whose sparse map is not complete yet.
  Entry entry;
  std::string rawName;
  bool drop = false;
  uint64_t stored = 0;  // its data bytes, as stored (the sparse map of PAX 1.0 included)
  // kSparseMap: bytes read, the number being read, the numbers so far.
  uint64_t mapBytes = 0;
  std::string mapNumber;
  std::vector<uint64_t> mapNumbers;
  uint64_t mapCount = 0;

  uint64_t entries = 0, dropped = 0;
  std::vector<std::string> droppedNames;
  bool ended = false;

  void feed(std::string_view bytes);
  void onHeader();
  void onRecord();
  void applyPax(std::string_view key, std::string_view value, bool isGlobal);
  void onMember(char typeflag, Format format);
  std::string memberName(Format format) const;
  std::string memberLinkName() const;
  void setEntryNumbers(char typeflag, Format format);
  void startGnuSparse();
  void readGnuSparse(std::string_view map, size_t count);
  void onGnuSparseExtension();
  void mapByte(char c);
  void emit(uint64_t dataBytes, uint64_t padding = 0);
  void skipThen(uint64_t bytes);
  void checkPath(std::string_view path, bool depth);
};

void TarParser::State::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t n = 0;
    Phase before = phase;
    switch (phase) {
      case Phase::kEnded:
        n = bytes.size();
        break;
      case Phase::kSkip:
        n = static_cast<size_t>(std::min<uint64_t>(skip, bytes.size()));
        skip -= n;
        if (skip == 0) phase = Phase::kHeader;
        break;
      case Phase::kRecord:
        n = static_cast<size_t>(std::min<uint64_t>(recordSize - record.size(), bytes.size()));
        record.append(bytes.substr(0, n));
        break;
      case Phase::kSparseMap:
        n = 1;
        break;
      case Phase::kHeader:
      case Phase::kGnuSparse:
        if (block.size() == kBlock) block.clear();  // the last one, done with
        n = std::min<size_t>(kBlock - block.size(), bytes.size());
        block.append(bytes.substr(0, n));
        break;
    }
    offset += n;
    if (before == Phase::kSparseMap) mapByte(bytes[0]);
    bytes.remove_prefix(n);
    if (before == Phase::kRecord && record.size() == recordSize) onRecord();
    bool blockDone = block.size() == kBlock && n != 0;
    if (before == Phase::kHeader && blockDone) onHeader();
    if (before == Phase::kGnuSparse && blockDone) onGnuSparseExtension();
  }
}

void TarParser::State::skipThen(uint64_t bytes) {
  skip = bytes;
  phase = bytes == 0 ? Phase::kHeader : Phase::kSkip;
}

void TarParser::State::onHeader() {
  std::string_view b = block;
  uint64_t at = offset - kBlock;
  if (!memberOpen) memberAt = at;
  if (isZeroBlock(b)) {
    // GNU tar stops at the first zero block too (warning when a second does not follow).
    phase = Phase::kEnded;
    ended = true;
    return;
  }
  if (!checksumMatches(b)) invalid(at, "bad header checksum");
  Format format = formatOf(b);
  char typeflag = b[kTypeflag];
  std::optional<int64_t> size = parseNumeric(field(b, kSize));
  if (!size || *size < 0) invalid(at, "bad size field");
  switch (typeflag) {
    case 'x':
    case 'g':
    case 'L':
    case 'K':
      if (static_cast<uint64_t>(*size) > limits.maxExtendedBytes) {
        overLimit("extended header size (maxExtendedBytes)", static_cast<uint64_t>(*size),
                  limits.maxExtendedBytes, at);
      }
      memberOpen = memberOpen || typeflag != 'g';  // a global header belongs to no member
      recordType = typeflag;
      recordSize = static_cast<uint64_t>(*size);
      record.clear();
      record.reserve(recordSize);
      phase = Phase::kRecord;
      if (recordSize == 0) onRecord();
      return;
    case 'V':  // a volume label, a continued file of a multi-volume set, old GNU long names:
    case 'M':  // nothing of this member belongs in the tree
    case 'N':
      pax = PaxRecords();
      longName.reset();
      longLink.reset();
      memberOpen = false;
      skipThen(roundUp(static_cast<uint64_t>(*size)));
      return;
    default:
      onMember(typeflag, format);
  }
}

void TarParser::State::onRecord() {
  uint64_t padding = roundUp(recordSize) - recordSize;
  if (recordType == 'L') {
    longName = std::string(cString(record));
  } else if (recordType == 'K') {
    longLink = std::string(cString(record));
  } else {
    bool isGlobal = recordType == 'g';
    std::string_view rest = record;
    while (!rest.empty()) {
      // "<length> <key>=<value>\n", the length counting the whole record.
      size_t space = rest.find(' ');
      std::optional<uint64_t> length =
          space == std::string_view::npos ? std::nullopt : parseDecimal(rest.substr(0, space));
      if (!length || *length <= space + 2 || *length > rest.size() || rest[*length - 1] != '\n') {
        invalid(memberAt, "PAX record length does not match the record");
      }
      std::string_view kv = rest.substr(space + 1, *length - space - 2);
      rest.remove_prefix(*length);
      size_t equals = kv.find('=');
      if (equals == 0 || equals == std::string_view::npos) invalid(memberAt, "bad PAX record");
      applyPax(kv.substr(0, equals), kv.substr(equals + 1), isGlobal);
    }
  }
  record.clear();
  record.shrink_to_fit();
  skipThen(padding);
}

void TarParser::State::applyPax(std::string_view key, std::string_view value, bool isGlobal) {
  if (key.find('\0') != std::string_view::npos) invalid(memberAt, "NUL in a PAX key");
  PaxRecords& r = isGlobal ? global : pax;
  auto set = [&](std::optional<std::string>& slot) {
    if (isGlobal && value.empty()) {
      slot.reset();
    } else {
      slot = std::string(value);
    }
  };
  constexpr std::string_view kXattr = "SCHILY.xattr.";
  if (key == "path" || key == "linkpath") {
    if (value.find('\0') != std::string_view::npos) invalid(memberAt, "NUL in a PAX name");
    set(key == "path" ? r.path : r.linkpath);
  } else if (key == "size") {
    set(r.size);
  } else if (key == "uid") {
    set(r.uid);
  } else if (key == "gid") {
    set(r.gid);
  } else if (key == "mtime") {
    set(r.mtime);
  } else if (key.starts_with(kXattr) && key.size() > kXattr.size()) {
    std::string name(key.substr(kXattr.size()));
    auto [it, added] = r.xattrIndex.try_emplace(name, r.xattrs.size());
    if (added) {
      r.xattrBytes += name.size();
      r.xattrs.emplace_back(std::move(name), std::string());
    }
    std::string& slot = r.xattrs[it->second].second;
    r.xattrBytes = r.xattrBytes - slot.size() + value.size();
    if (r.xattrBytes > limits.maxXattrBytes) {
      overLimit("xattr bytes (maxXattrBytes)", r.xattrBytes, limits.maxXattrBytes, memberAt);
    }
    slot = value;
  } else if (isGlobal || !key.starts_with("GNU.sparse.")) {
    return;  // uname, gname, atime, ctime, comments, other vendors' records
  } else if (key == "GNU.sparse.major") {
    set(r.sparseMajor);
  } else if (key == "GNU.sparse.minor") {
    set(r.sparseMinor);
  } else if (key == "GNU.sparse.name") {
    if (value.find('\0') != std::string_view::npos) invalid(memberAt, "NUL in a PAX name");
    set(r.sparseName);
  } else if (key == "GNU.sparse.size") {
    set(r.sparseSize);
  } else if (key == "GNU.sparse.realsize") {
    set(r.sparseRealSize);
  } else if (key == "GNU.sparse.numblocks") {
    set(r.sparseNumBlocks);
  } else if (key == "GNU.sparse.map") {
    set(r.sparseMap);
  } else if (key == "GNU.sparse.offset" || key == "GNU.sparse.numbytes") {
    // Format 0.0: the pairs alternate, offset first.
    bool wantOffset = r.sparsePairs.size() % 2 == 0;
    std::optional<uint64_t> n = parseDecimal(value);
    if (wantOffset != (key == "GNU.sparse.offset") || !n) {
      invalid(memberAt, "bad GNU.sparse.offset/numbytes records");
    }
    if (r.sparsePairs.size() / 2 >= limits.maxSparseExtents) {
      overLimit("sparse extents (maxSparseExtents)", r.sparsePairs.size() / 2 + 1,
                limits.maxSparseExtents, memberAt);
    }
    r.sparsePairs.push_back(*n);
  }
}

void TarParser::State::checkPath(std::string_view path, bool depth) {
  if (path.size() > limits.maxPathBytes) {
    overLimit("path bytes (maxPathBytes)", path.size(), limits.maxPathBytes, memberAt);
  }
  if (depth && !path.empty()) {
    size_t components = static_cast<size_t>(std::count(path.begin(), path.end(), '/')) + 1;
    if (components > limits.maxDepth) {
      overLimit("path depth (maxDepth)", components, limits.maxDepth, memberAt);
    }
  }
}

// The name and the link name: PAX records, else GNU long names, else the header's fields.
std::string TarParser::State::memberName(Format format) const {
  if (auto v = pick(pax.path, global.path)) return std::string(*v);
  if (longName) return *longName;
  std::string_view name = cString(field(block, kName));
  std::string_view prefix;
  if (format == Format::kUstar) prefix = cString(field(block, kPrefix));
  if (format == Format::kStar) prefix = cString(field(block, kStarPrefix));
  return prefix.empty() ? std::string(name) : std::string(prefix) + "/" + std::string(name);
}

std::string TarParser::State::memberLinkName() const {
  if (auto v = pick(pax.linkpath, global.linkpath)) return std::string(*v);
  if (longLink) return *longLink;
  return std::string(cString(field(block, kLinkName)));
}

void TarParser::State::onMember(char typeflag, Format format) {
  rawName = memberName(format);
  std::string rawLink = memberLinkName();
  entry = Entry();
  bool headerOnly = true;
  entry.type = memberType(typeflag, rawName, headerOnly);
  if (pax.sparseName && !pax.sparseName->empty()) rawName = *pax.sparseName;

  // Names that leave the root, and a root that is not a directory, drop the member.
  std::optional<std::string> path = cleanPath(rawName);
  drop = !path || (path->empty() && entry.type != EntryType::kDirectory);
  if (!drop) {
    checkPath(*path, true);
    entry.path = std::move(*path);
  }
  if (entry.type == EntryType::kHardlink) {
    std::optional<std::string> target = cleanPath(rawLink);
    drop = drop || !target || target->empty();
    if (!drop) {
      checkPath(*target, true);
      entry.linkTarget = std::move(*target);
    }
  } else if (entry.type == EntryType::kSymlink && !drop) {
    checkPath(rawLink, false);
    entry.linkTarget = std::move(rawLink);
  }

  setEntryNumbers(typeflag, format);
  if (headerOnly) stored = 0;
  entry.size = entry.type == EntryType::kRegular ? stored : 0;
  entry.xattrs = mergeXattrs(global, pax);
  uint64_t xattrBytes = 0;
  for (const auto& [name, value] : entry.xattrs) xattrBytes += name.size() + value.size();
  if (xattrBytes > limits.maxXattrBytes) {
    overLimit("xattr bytes (maxXattrBytes)", xattrBytes, limits.maxXattrBytes, memberAt);
  }

  PaxRecords own = std::move(pax);
  pax = PaxRecords();
  longName.reset();
  longLink.reset();
  memberOpen = false;
  if (entry.type != EntryType::kRegular) return emit(stored);
  if (typeflag == 'S') return startGnuSparse();
  PaxSparse sparse = paxSparseOf(own);
  if (sparse != PaxSparse::kNone) {
    const auto& sizeText = own.sparseSize ? own.sparseSize : own.sparseRealSize;
    if (sizeText) {
      std::optional<uint64_t> realSize = parseDecimal(*sizeText);
      if (!realSize) invalid(memberAt, "bad GNU.sparse size");
      entry.size = *realSize;
    }
  }
  if (sparse == PaxSparse::kV1) {
    // The map is at the start of the data: read it before the entry is complete.
    if (stored == 0) invalid(memberAt, "PAX sparse file without its map");
    mapBytes = 0;
    mapNumber.clear();
    mapNumbers.clear();
    mapCount = 0;
    phase = Phase::kSparseMap;
    return;
  }
  if (sparse == PaxSparse::kV0) {
    entry.sparse = paxSparseV0(own, limits, memberAt);
    checkExtents(entry.sparse, entry.size, stored, memberAt);
  }
  emit(stored);
}

void TarParser::State::startGnuSparse() {
  std::string_view b = block;
  std::optional<int64_t> realSize = parseNumeric(field(b, kGnuRealSize));
  if (!realSize || *realSize < 0) invalid(memberAt, "bad GNU sparse real size");
  entry.size = static_cast<uint64_t>(*realSize);
  readGnuSparse(b.substr(kGnuSparseMap), kGnuSparseInHeader);
  if (b[kGnuIsExtended] != 0) {
    phase = Phase::kGnuSparse;
    return;
  }
  checkExtents(entry.sparse, entry.size, stored, memberAt);
  emit(stored);
}

void TarParser::State::setEntryNumbers(char typeflag, Format format) {
  std::string_view b = block;
  auto number = [&](Field f, const char* what) {
    std::optional<int64_t> n = parseNumeric(field(b, f));
    if (!n) invalid(memberAt, std::string("bad ") + what + " field");
    return *n;
  };
  auto id = [&](std::optional<std::string_view> text, Field f, const char* what) -> uint32_t {
    int64_t n;
    if (text) {
      std::optional<uint64_t> parsed = parseDecimal(*text);
      if (!parsed) invalid(memberAt, std::string("bad PAX ") + what);
      n = static_cast<int64_t>(*parsed);
    } else {
      n = number(f, what);
    }
    if (n < 0 || n > std::numeric_limits<uint32_t>::max()) {
      invalid(memberAt, std::string(what) + " out of range");
    }
    return static_cast<uint32_t>(n);
  };
  entry.mode = static_cast<uint32_t>(static_cast<uint64_t>(number(kMode, "mode")) & 07777);
  entry.uid = id(pick(pax.uid, global.uid), kUid, "uid");
  entry.gid = id(pick(pax.gid, global.gid), kGid, "gid");
  if (auto text = pick(pax.mtime, global.mtime)) {
    // "[-]seconds[.fraction]": digits past nanoseconds are dropped.
    std::string_view s = *text;
    bool negative = s.starts_with('-');
    if (negative) s.remove_prefix(1);
    size_t dot = s.find('.');
    std::optional<uint64_t> sec = parseDecimal(s.substr(0, dot));
    std::string_view fraction = dot == std::string_view::npos ? "" : s.substr(dot + 1);
    if (!sec || fraction.find_first_not_of("0123456789") != std::string_view::npos) {
      invalid(memberAt, "bad PAX mtime");
    }
    uint32_t nsec = 0;
    for (size_t i = 0; i < 9; ++i) nsec = nsec * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
    entry.mtimeSec = static_cast<int64_t>(*sec);
    entry.mtimeNsec = nsec;
    if (negative) {
      entry.mtimeSec = -entry.mtimeSec - (nsec != 0 ? 1 : 0);
      entry.mtimeNsec = nsec != 0 ? 1'000'000'000 - nsec : 0;
    }
  } else {
    entry.mtimeSec = number(kMtime, "mtime");
  }
  if (auto text = pick(pax.size, global.size)) {
    std::optional<uint64_t> size = parseDecimal(*text);
    if (!size) invalid(memberAt, "bad PAX size");
    stored = *size;
  } else {
    int64_t size = number(kSize, "size");  // checked non-negative in onHeader
    stored = static_cast<uint64_t>(size);
  }
  if ((typeflag == '3' || typeflag == '4') && format != Format::kV7) {
    for (auto [f, slot] : {std::pair{kDevMajor, &entry.devMajor}, {kDevMinor, &entry.devMinor}}) {
      int64_t n = number(f, "device number");
      if (n < 0 || n > std::numeric_limits<uint32_t>::max()) {
        invalid(memberAt, "device number out of range");
      }
      *slot = static_cast<uint32_t>(n);
    }
  }
}

void TarParser::State::readGnuSparse(std::string_view map, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    std::string_view pair = map.substr(i * 24, 24);
    if (pair[0] == '\0') break;  // as GNU and BSD tar end the map
    std::optional<int64_t> start = parseNumeric(pair.substr(0, 12));
    std::optional<int64_t> length = parseNumeric(pair.substr(12, 12));
    if (!start || !length || *start < 0 || *length < 0) invalid(memberAt, "bad GNU sparse map");
    if (entry.sparse.size() >= limits.maxSparseExtents) {
      overLimit("sparse extents (maxSparseExtents)", entry.sparse.size() + 1,
                limits.maxSparseExtents, memberAt);
    }
    entry.sparse.push_back({static_cast<uint64_t>(*start), static_cast<uint64_t>(*length)});
  }
}

void TarParser::State::onGnuSparseExtension() {
  readGnuSparse(block, kGnuSparseInExtension);
  if (block[kGnuExtensionIsExtended] != 0) return;
  checkExtents(entry.sparse, entry.size, stored, memberAt);
  emit(stored);
}

void TarParser::State::mapByte(char c) {
  // "<count>\n" then count times "<offset>\n<length>\n", padded to a block.
  ++mapBytes;
  if (mapBytes > stored) invalid(memberAt, "PAX sparse map runs past the member's data");
  if (c != '\n') {
    if (mapNumber.size() >= 19) invalid(memberAt, "bad number in the PAX sparse map");
    mapNumber += c;
    return;
  }
  std::optional<uint64_t> n = parseDecimal(mapNumber);
  if (!n) invalid(memberAt, "bad number in the PAX sparse map");
  mapNumber.clear();
  mapNumbers.push_back(*n);
  if (mapNumbers.size() == 1) {
    mapCount = *n;
    if (mapCount > limits.maxSparseExtents) {
      overLimit("sparse extents (maxSparseExtents)", mapCount, limits.maxSparseExtents, memberAt);
    }
  } else if (mapNumbers.size() % 2 == 1) {
    entry.sparse.push_back({mapNumbers[mapNumbers.size() - 2], mapNumbers.back()});
  }
  if (mapNumbers.size() != 2 * mapCount + 1) return;
  uint64_t mapEnd = roundUp(mapBytes);
  if (mapEnd > stored) invalid(memberAt, "PAX sparse map runs past the member's data");
  checkExtents(entry.sparse, entry.size, stored - mapEnd, memberAt);
  mapNumbers.clear();
  emit(stored - mapEnd, mapEnd - mapBytes);  // the data starts after the map's padding
}

void TarParser::State::emit(uint64_t dataBytes, uint64_t padding) {
  if (entries + dropped >= limits.maxEntries) {
    overLimit("entries (maxEntries)", entries + dropped + 1, limits.maxEntries, memberAt);
  }
  if (entry.type == EntryType::kRegular) entry.dataOffset = offset + padding;
  if (drop) {
    ++dropped;
    if (droppedNames.size() < kMaxDroppedNames) droppedNames.push_back(shown(rawName));
  } else {
    ++entries;
    sink(std::move(entry));
  }
  entry = Entry();
  skipThen(padding + roundUp(dataBytes));
}

TarParser::TarParser(EntrySink sink, TarLimits limits) : state_(std::make_unique<State>()) {
  state_->sink = std::move(sink);
  state_->limits = limits;
  state_->block.reserve(kBlock);
}
TarParser::~TarParser() = default;
TarParser::TarParser(TarParser&&) noexcept = default;
TarParser& TarParser::operator=(TarParser&&) noexcept = default;

void TarParser::feed(std::string_view bytes) { state_->feed(bytes); }

void TarParser::finish() {
  const State& s = *state_;
  switch (s.phase) {
    case Phase::kEnded:
      return;
    case Phase::kHeader:
      if ((s.block.empty() || s.block.size() == kBlock) && !s.memberOpen) return;
      invalid(s.memberAt, "the stream ends inside a header");
    case Phase::kRecord:
      invalid(s.memberAt, "the stream ends inside an extended header");
    case Phase::kGnuSparse:
    case Phase::kSparseMap:
      invalid(s.memberAt, "the stream ends inside a sparse map");
    case Phase::kSkip:
      invalid(s.memberAt, "the stream ends inside a member's data");
  }
}

bool TarParser::ended() const { return state_->ended; }
uint64_t TarParser::offset() const { return state_->offset; }
uint64_t TarParser::entries() const { return state_->entries; }
uint64_t TarParser::dropped() const { return state_->dropped; }
const std::vector<std::string>& TarParser::droppedNames() const { return state_->droppedNames; }

std::optional<std::string> cleanPath(std::string_view name) {
  std::vector<std::string_view> parts;
  while (!name.empty()) {
    size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    name = slash == std::string_view::npos ? std::string_view() : name.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string path;
  for (std::string_view part : parts) {
    if (!path.empty()) path += '/';
    path += part;
  }
  return path;
}

}  // namespace regfs::layers
