#include "common/layers/export.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/layers/file_reader.h"
#include "common/layers/tar_writer.h"

namespace regfs::layers {
namespace {

constexpr size_t kFlushAt = 1 << 20;
constexpr size_t kChunk = 256 * 1024;  // file data read per FileReader call

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
    if (size_t rest = written_ % kTarBlock) write(std::string(kTarBlock - rest, '\0'));
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
    out_.write(std::string(2 * kTarBlock, '\0'));
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
    TarMember m;
    ++stats_.entries;
    if (!e) {  // an implied directory
      m.name = path + "/";
      m.type = '5';
      m.mode = 0755;
      out_.write(tarHeader(m));
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
        out_.write(tarHeader(m));
        return;
      }
    }
    if (e->type != EntryType::kRegular) {
      out_.write(tarHeader(m));
      return;
    }
    m.size = e->size;
    out_.write(tarHeader(m));
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
