#include "common/layers/export.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/layers/file_reader.h"

namespace regfs::layers {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kFlushAt = 1 << 20;
constexpr size_t kChunk = 256 * 1024;  // file data read per FileReader call
constexpr size_t kNameField = 100;

// The stream, gathered into pieces of about kFlushAt before they go to the sink.
class TarOut {
 public:
  explicit TarOut(const TarSink& sink) : sink_(sink) {}
  void write(std::string_view bytes) {
    buffer_.append(bytes);
    written_ += bytes.size();
    if (buffer_.size() >= kFlushAt) flush();
  }
  void pad() {  // to the next block boundary
    if (size_t rest = written_ % kBlock) write(std::string(kBlock - rest, '\0'));
  }
  void flush() {
    if (!buffer_.empty()) sink_(buffer_);
    buffer_.clear();
  }
  uint64_t written() const { return written_; }

 private:
  const TarSink& sink_;
  std::string buffer_;
  uint64_t written_ = 0;
};

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
    return {block_, kBlock};
  }

 private:
  char block_[kBlock] = {};
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

// One member: what its header says, before it is split into header fields and PAX records.
struct Member {
  std::string name;  // directories end in '/'
  char type = '0';
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  int64_t mtimeSec = 0;
  uint32_t mtimeNsec = 0;
  uint64_t size = 0;
  std::string link;  // symlink target, or the name a hardlink names
  uint32_t devMajor = 0, devMinor = 0;
  const std::vector<std::pair<std::string, std::string>>* xattrs = nullptr;
};

void writeHeader(TarOut& out, const Member& m) {
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
    out.write(x.finish());
    out.write(pax);
    out.pad();
  }
  out.write(h.finish());
}

char typeflag(EntryType type) {
  switch (type) {
    case EntryType::kRegular:
      return '0';
    case EntryType::kHardlink:  // never in a tree: a hardlink is another name of an inode
      return '1';
    case EntryType::kSymlink:
      return '2';
    case EntryType::kCharDevice:
      return '3';
    case EntryType::kBlockDevice:
      return '4';
    case EntryType::kDirectory:
      return '5';
    case EntryType::kFifo:
      return '6';
  }
  return '0';
}

class Exporter {
 public:
  Exporter(const Store& store, const FileTree& tree, const TarSink& sink)
      : store_(store),
        tree_(tree),
        out_(sink),
        blobs_(tree.indexes.size()),
        streams_(tree.indexes.size()) {}

  ExportStats run() {
    // Depth first, children in name order; a stack of (inode, path) still to write.
    std::vector<std::pair<uint32_t, std::string>> pending;
    pushChildren(FsTree::kRoot, "", pending);
    while (!pending.empty()) {
      auto [n, path] = std::move(pending.back());
      pending.pop_back();
      write(n, path);
      if (tree_.tree.inode(n).children.empty()) continue;
      pushChildren(n, path + "/", pending);
    }
    out_.write(std::string(2 * kBlock, '\0'));
    out_.flush();
    stats_.bytes = out_.written();
    return stats_;
  }

 private:
  void pushChildren(uint32_t dir, const std::string& prefix,
                    std::vector<std::pair<uint32_t, std::string>>& pending) {
    const auto& children = tree_.tree.inode(dir).children;
    for (auto it = children.rbegin(); it != children.rend(); ++it)
      pending.emplace_back(it->second, prefix + it->first);
  }

  void write(uint32_t n, const std::string& path) {
    const Entry* e = tree_.entry(n);
    Member m;
    ++stats_.entries;
    if (!e) {  // an implied directory
      m.name = path + "/";
      m.type = '5';
      m.mode = 0755;
      writeHeader(out_, m);
      return;
    }
    m.type = typeflag(e->type);
    m.name = e->type == EntryType::kDirectory ? path + "/" : path;
    m.mode = e->mode & 07777;
    m.uid = e->uid;
    m.gid = e->gid;
    m.mtimeSec = e->mtimeSec;
    m.mtimeNsec = e->mtimeNsec;
    m.xattrs = &e->xattrs;
    if (e->type == EntryType::kSymlink) m.link = e->linkTarget;
    m.devMajor = e->devMajor;
    m.devMinor = e->devMinor;
    if (e->type != EntryType::kDirectory && tree_.tree.inode(n).nlink > 1) {
      auto [first, inserted] = firstNames_.try_emplace(n, path);
      if (!inserted) {
        m.type = '1';
        m.link = first->second;
        ++stats_.hardlinks;
        writeHeader(out_, m);
        return;
      }
    }
    if (e->type != EntryType::kRegular) {
      writeHeader(out_, m);
      return;
    }
    m.size = e->size;
    writeHeader(out_, m);
    writeData(n, *e);
  }

  void writeData(uint32_t n, const Entry& e) {
    uint32_t layer = tree_.tree.inode(n).layer;
    if (!blobs_[layer]) {
      blobs_[layer] = openBlobSource(store_, tree_.layerOf(n));
      streams_[layer] = std::make_unique<StreamReader>(*blobs_[layer], tree_.indexOf(n).stream);
    }
    FileReader reader(*streams_[layer], e);
    std::string chunk(kChunk, '\0');
    for (uint64_t at = 0; at < e.size;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, e.size - at));
      size_t got = reader.read(at, chunk.data(), want);
      if (got == 0)
        throw Error(ErrorKind::kIo,
                    "layer " + tree_.layerOf(n).str() + ": " + e.path + " ends before its size");
      out_.write(std::string_view(chunk.data(), got));
      at += got;
    }
    out_.pad();
  }

  const Store& store_;
  const FileTree& tree_;
  TarOut out_;
  // By layer, opened on first use. One stream reader per layer: tree order is mostly the
  // layer's own order, so reads go forward and the layer is decompressed about once.
  std::vector<std::unique_ptr<BlobSource>> blobs_;
  std::vector<std::unique_ptr<StreamReader>> streams_;
  std::map<uint32_t, std::string> firstNames_;  // inodes of several names: the first
  ExportStats stats_;
};

}  // namespace

ExportStats exportTree(const Store& store, const FileTree& tree, const TarSink& sink) {
  if (!tree.error.empty()) throw Error(ErrorKind::kUnsupported, tree.error);
  return Exporter(store, tree, sink).run();
}

std::vector<Digest> rootfsLayers(const Store& store, const ImageReference& ref,
                                 const std::optional<Platform>& platform) {
  Repository repo = store.repository(ref.name);
  if (!repo.exists())
    throw Error(ErrorKind::kNameUnknown, "no repository " + ref.name.str() + " in the store");
  std::optional<Tag> tag = ref.tag;
  if (!tag && !ref.digest) tag = Tag::parse("latest");  // NAME alone is NAME:latest
  Digest digest = repo.manifestOf(tag, ref.digest);
  Manifest manifest = parseStoredManifest(repo.getManifest(digest));
  if (manifest.kind == ManifestKind::kIndex) {
    Platform wanted = platform.value_or(hostPlatform());
    const Descriptor* child = childFor(manifest, wanted);
    if (!child)
      throw Error(ErrorKind::kManifestUnknown,
                  "no image for " + platformString(wanted) + " in the index (it has " +
                      platformsOf(manifest) + "); choose one with --platform");
    digest = child->digest;
    manifest = parseStoredManifest(repo.getManifest(digest));
  }
  ImageLayers image = imageLayers(manifest);
  if (!image.why.empty())
    throw Error(ErrorKind::kUnsupported, digest.str() + " has no root file system: " + image.why);
  std::vector<Digest> out;
  for (const Descriptor& layer : image.layers) out.push_back(layer.digest);
  return out;
}

}  // namespace regfs::layers
