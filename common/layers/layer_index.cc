#include "common/layers/layer_index.h"

#include <zstd.h>

#include <cstring>

namespace regfs::layers {
namespace {

constexpr std::string_view kIndexMagic = "RGFSLIDX";
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 8 + 4 + 8 + 8;
constexpr size_t kChecksumSize = 32;

[[noreturn]] void corrupt(const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument, "layer index: " + why);
}

void putFixed(std::string& out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t getFixed(std::string_view in, size_t at, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i)
    value |= uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
  return value;
}

// The body: LEB128 numbers and length-prefixed strings, written and read field for field in
// the same order by encodeBody and decodeBody.
class BodyWriter {
 public:
  void number(uint64_t value) {
    while (value >= 0x80) {
      out_ += static_cast<char>((value & 0x7f) | 0x80);
      value >>= 7;
    }
    out_ += static_cast<char>(value);
  }
  void signedNumber(int64_t value) {  // zigzag
    number((static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63));
  }
  void bytes(std::string_view value) {
    number(value.size());
    out_ += value;
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class BodyReader {
 public:
  explicit BodyReader(std::string_view in) : in_(in) {}
  uint64_t number() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= in_.size()) corrupt("the body ends inside a number");
      auto byte = static_cast<unsigned char>(in_[at_++]);
      value |= uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return value;
    }
    corrupt("a number is too long");
  }
  uint32_t number32() {
    uint64_t value = number();
    if (value > UINT32_MAX) corrupt("a number is out of range");
    return static_cast<uint32_t>(value);
  }
  int64_t signedNumber() {
    uint64_t value = number();
    return static_cast<int64_t>((value >> 1) ^ (~(value & 1) + 1));
  }
  std::string bytes() {
    uint64_t size = number();
    if (size > in_.size() - at_) corrupt("a string runs past the body");
    std::string value(in_.substr(at_, size));
    at_ += size;
    return value;
  }
  // A count of things that take at least one byte each: never more than the bytes left, so
  // nothing is allocated for what the body cannot hold.
  size_t count() {
    uint64_t n = number();
    if (n > in_.size() - at_) corrupt("a count runs past the body");
    return static_cast<size_t>(n);
  }
  bool done() const { return at_ == in_.size(); }

 private:
  std::string_view in_;
  size_t at_ = 0;
};

void encodeEntry(BodyWriter& w, const Entry& e) {
  w.bytes(e.path);
  w.number(static_cast<uint64_t>(e.type));
  w.number(e.mode);
  w.number(e.uid);
  w.number(e.gid);
  w.signedNumber(e.mtimeSec);
  w.number(e.mtimeNsec);
  w.number(e.size);
  w.number(e.dataOffset);
  w.bytes(e.linkTarget);
  w.number(e.devMajor);
  w.number(e.devMinor);
  w.number(e.xattrs.size());
  for (const auto& [name, value] : e.xattrs) {
    w.bytes(name);
    w.bytes(value);
  }
  w.number(e.sparse.size());
  for (const Extent& x : e.sparse) {
    w.number(x.offset);
    w.number(x.length);
  }
}

Entry decodeEntry(BodyReader& r, uint64_t streamSize) {
  Entry e;
  e.path = r.bytes();
  uint64_t type = r.number();
  if (type > static_cast<uint64_t>(EntryType::kFifo)) corrupt("an entry has an unknown type");
  e.type = static_cast<EntryType>(type);
  e.mode = r.number32();
  if (e.mode > 07777) corrupt("an entry has mode bits past 07777");
  e.uid = r.number32();
  e.gid = r.number32();
  e.mtimeSec = r.signedNumber();
  e.mtimeNsec = r.number32();
  if (e.mtimeNsec >= 1'000'000'000) corrupt("an entry's mtime has too many nanoseconds");
  e.size = r.number();
  e.dataOffset = r.number();
  e.linkTarget = r.bytes();
  e.devMajor = r.number32();
  e.devMinor = r.number32();
  e.xattrs.resize(r.count());
  for (auto& [name, value] : e.xattrs) {
    name = r.bytes();
    value = r.bytes();
  }
  e.sparse.resize(r.count());
  uint64_t stored = 0;
  for (Extent& x : e.sparse) {
    x.offset = r.number();
    x.length = r.number();
    if (x.length > e.size || x.offset > e.size - x.length) corrupt("a sparse run is past its file");
    stored += x.length;
  }
  if (e.sparse.empty()) stored = e.size;
  if (e.type == EntryType::kRegular &&
      (e.dataOffset > streamSize || stored > streamSize - e.dataOffset))
    corrupt("an entry's data is past the end of the stream");
  return e;
}

std::string encodeBody(const LayerIndex& index) {
  BodyWriter w;
  w.bytes(index.blob.str());
  w.number(index.failure ? 1 : 0);
  if (index.failure) {
    w.number(static_cast<uint64_t>(index.failure->kind));
    w.bytes(index.failure->message);
    w.bytes(index.failure->limits);
  }
  const SeekPoints& s = index.stream;
  w.number(static_cast<uint64_t>(s.compression));
  w.number(s.compressedSize);
  w.number(s.uncompressedSize);
  w.number(s.checkpoints.size());
  for (const Checkpoint& c : s.checkpoints) {
    w.number(c.out);
    w.number(c.in);
    w.number(c.bits);
    w.bytes(c.window);
  }
  w.number(index.droppedEntries);
  w.number(index.droppedNames.size());
  for (const std::string& name : index.droppedNames) w.bytes(name);
  w.number(index.entries.size());
  for (const Entry& e : index.entries) encodeEntry(w, e);
  return std::move(w.out());
}

LayerIndex decodeBody(std::string_view body, const Digest& expected) {
  BodyReader r(body);
  if (r.bytes() != expected.str()) corrupt("it is the index of another blob");
  LayerIndex index{expected};
  if (r.number() != 0) {
    LayerIndex::Failure failure;
    uint64_t kind = r.number();
    if (kind != static_cast<uint64_t>(ErrorKind::kInvalidArgument) &&
        kind != static_cast<uint64_t>(ErrorKind::kSizeInvalid))
      corrupt("it records a failure of an unknown kind");
    failure.kind = static_cast<ErrorKind>(kind);
    failure.message = r.bytes();
    failure.limits = r.bytes();
    index.failure = std::move(failure);
  }
  SeekPoints& s = index.stream;
  uint64_t compression = r.number();
  if (compression > static_cast<uint64_t>(Compression::kZstd)) corrupt("unknown compression");
  s.compression = static_cast<Compression>(compression);
  s.compressedSize = r.number();
  s.uncompressedSize = r.number();
  s.checkpoints.resize(r.count());
  for (size_t i = 0; i < s.checkpoints.size(); ++i) {
    Checkpoint& c = s.checkpoints[i];
    c.out = r.number();
    c.in = r.number();
    uint64_t bits = r.number();
    if (bits > 7) corrupt("a checkpoint has more than 7 bits");
    c.bits = static_cast<uint8_t>(bits);
    c.window = r.bytes();
    if (c.out > s.uncompressedSize || c.in > s.compressedSize ||
        (i > 0 && c.out <= s.checkpoints[i - 1].out))
      corrupt("the checkpoints are out of order or past the stream");
  }
  index.droppedEntries = r.number();
  index.droppedNames.resize(r.count());
  for (std::string& name : index.droppedNames) name = r.bytes();
  index.entries.resize(r.count());
  for (Entry& e : index.entries) e = decodeEntry(r, s.uncompressedSize);
  if (!r.done()) corrupt("bytes follow the body");
  return index;
}

std::string sha256(std::string_view bytes) {
  Hasher hasher(DigestAlgorithm::kSha256);
  hasher.update(bytes);
  std::string hex = hasher.digest().hex();
  std::string raw;
  for (size_t i = 0; i < hex.size(); i += 2)
    raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return raw;
}

}  // namespace

std::string IndexLimits::fingerprint() const {
  return "tar:" + std::to_string(tar.maxEntries) + "," + std::to_string(tar.maxPathBytes) + "," +
         std::to_string(tar.maxDepth) + "," + std::to_string(tar.maxExtendedBytes) + "," +
         std::to_string(tar.maxXattrBytes) + "," + std::to_string(tar.maxSparseExtents) +
         ";scan:" + std::to_string(scan.span) + "," + std::to_string(scan.maxUncompressed) + "," +
         std::to_string(scan.windowShare) + ";index:" + std::to_string(maxIndexBytes);
}

LayerIndex buildIndex(const BlobSource& blob, const Digest& digest, const IndexLimits& limits) {
  LayerIndex index{digest};
  TarParser parser([&](Entry&& entry) { index.entries.push_back(std::move(entry)); }, limits.tar);
  try {
    index.stream = scanStream(
        blob, [&](std::string_view bytes) { parser.feed(bytes); }, limits.scan);
    parser.finish();
    index.droppedEntries = parser.dropped();
    index.droppedNames = parser.droppedNames();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kInvalidArgument && e.kind() != ErrorKind::kSizeInvalid) throw;
    index = LayerIndex{digest};
    index.failure = LayerIndex::Failure{e.kind(), e.what(), limits.fingerprint()};
  }
  return index;
}

std::string encodeIndex(const LayerIndex& index) {
  std::string body = encodeBody(index);
  std::string stored(ZSTD_compressBound(body.size()), '\0');
  size_t n = ZSTD_compress(stored.data(), stored.size(), body.data(), body.size(), 3);
  if (ZSTD_isError(n))
    throw Error(ErrorKind::kInternal, std::string("layer index: ") + ZSTD_getErrorName(n));
  stored.resize(n);
  std::string out(kIndexMagic);
  putFixed(out, kVersion, 4);
  putFixed(out, body.size(), 8);
  putFixed(out, stored.size(), 8);
  out += stored;
  out += sha256(out);
  return out;
}

LayerIndex decodeIndex(std::string_view bytes, const Digest& expected, const IndexLimits& limits) {
  if (bytes.size() < kHeaderSize + kChecksumSize || !bytes.starts_with(kIndexMagic))
    corrupt("not an index file");
  if (bytes.size() > limits.maxIndexBytes) corrupt("the file is over the size limit");
  std::string_view covered = bytes.substr(0, bytes.size() - kChecksumSize);
  if (sha256(covered) != bytes.substr(covered.size())) corrupt("the checksum does not match");
  if (getFixed(bytes, 8, 4) != kVersion) corrupt("another format version");
  uint64_t bodySize = getFixed(bytes, 12, 8);
  uint64_t storedSize = getFixed(bytes, 20, 8);
  if (storedSize != covered.size() - kHeaderSize) corrupt("the stored body has the wrong size");
  if (bodySize > limits.maxIndexBytes) corrupt("the body is over the size limit");
  std::string body(bodySize, '\0');
  size_t n = ZSTD_decompress(body.data(), body.size(), covered.data() + kHeaderSize, storedSize);
  if (ZSTD_isError(n) || n != bodySize) corrupt("the body does not decompress");
  return decodeBody(body, expected);
}

}  // namespace regfs::layers
