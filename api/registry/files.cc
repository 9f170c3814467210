// GET/HEAD /v2/<name>/_regfs/files/<reference>/<path>: a file inside an image (a regfs
// extension; docs/api.md says what it answers). A regular file's bytes (with Range), streamed
// from its layer through the layer's index; a directory's entries as JSON, in pages; anything
// else (a symlink, a device, a fifo) its own entry as JSON. Symlinks are never followed.
// An index names its image with ?platform=os/arch[/variant].
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "api/registry/errors.h"
#include "api/registry/handlers.h"
#include "api/registry/json_body.h"
#include "common/error.h"
#include "common/layers/file_reader.h"
#include "common/layers/image.h"
#include "common/layers/platform.h"
#include "common/manifest.h"
#include "common/percent.h"
#include "common/utc.h"

namespace regfs::api {
namespace {

// Entries of a directory per answer, at most (and when `n` is not given).
constexpr size_t kMaxListed = 1000;
// A file's bytes go to the connection in pieces of this size.
constexpr size_t kReadPiece = 256 << 10;

using layers::Entry;
using layers::EntryType;
using layers::FileTree;
using layers::Inode;

// The image a request names: its manifest and the layers of its root file system, or the
// answer that says why there is none.
struct Image {
  Digest manifest = Digest::of("");
  std::vector<Digest> layers;
  std::optional<Response> refusal;
};

Image imageFor(Repository& repo, const Request& request, const Route& route) {
  Image image;
  image.manifest = manifestDigestOf(repo, route);
  Manifest manifest = parseStoredManifest(repo.getManifest(image.manifest));
  if (manifest.kind == ManifestKind::kIndex) {
    auto platform = queryValue(request.query, "platform");
    if (!platform || platform->empty()) {
      image.refusal =
          errorResponse(RegfsError::kRootfsUnknown, route.reference + " is an index of " +
                                                        layers::platformsOf(manifest) +
                                                        ": name one with ?platform=");
      return image;
    }
    const Descriptor* child = layers::childFor(manifest, layers::parsePlatform(*platform));
    if (!child) {
      throw Error(ErrorKind::kManifestUnknown, "no " + *platform + " image in " + route.reference +
                                                   " (it has " + layers::platformsOf(manifest) +
                                                   ")");
    }
    image.manifest = child->digest;
    manifest = parseStoredManifest(repo.getManifest(image.manifest));
  }
  layers::ImageLayers found = layers::imageLayers(manifest);
  if (!found.why.empty()) {
    image.refusal = errorResponse(RegfsError::kRootfsUnknown,
                                  image.manifest.str() + " has no root file system: " + found.why);
  }
  for (const Descriptor& d : found.layers) image.layers.push_back(d.digest);
  return image;
}

bool isDirectory(const FileTree& tree, uint32_t n) {
  const Entry* e = tree.entry(n);
  return !e || e->type == EntryType::kDirectory;  // no entry: a directory no layer lists
}

// The inode at `path`, walked name by name so that a symlink or a file on the way is named.
uint32_t resolvePath(const FileTree& tree, const std::string& path, std::string& why) {
  uint32_t n = layers::FsTree::kRoot;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (!isDirectory(tree, n)) {
      const Entry* e = tree.entry(n);
      std::string at = "/" + path.substr(0, start - 1);
      why = e->type == EntryType::kSymlink
                ? at + " is a symlink to " + e->linkTarget + ", and symlinks are not followed"
                : at + " is not a directory";
      return Inode::kNone;
    }
    n = tree.tree.child(n, std::string_view(path).substr(start, slash - start));
    if (n == Inode::kNone) {
      why = "no /" + path + " in the image";
      return n;
    }
    start = slash + 1;
  }
  return n;
}

std::string_view typeName(EntryType type) {
  switch (type) {
    case EntryType::kRegular:
      return "file";
    case EntryType::kDirectory:
      return "directory";
    case EntryType::kSymlink:
      return "symlink";
    case EntryType::kHardlink:
      return "hardlink";
    case EntryType::kCharDevice:
      return "chardevice";
    case EntryType::kBlockDevice:
      return "blockdevice";
    case EntryType::kFifo:
      return "fifo";
  }
  return "unknown";
}

// One entry: what stat would say of it, and the layer that supplied it.
void writeEntry(JsonWriter& w, const FileTree& tree, uint32_t n, std::string_view name) {
  static const Entry kImplied = [] {
    Entry implied;  // as rootfs.h makes a directory no layer lists
    implied.type = EntryType::kDirectory;
    implied.mode = 0755;
    return implied;
  }();
  const Entry& e = tree.entry(n) ? *tree.entry(n) : kImplied;
  char mode[16];
  std::snprintf(mode, sizeof mode, "%04o", e.mode & 07777);
  w.StartObject();
  writeString(w, "name", name);
  writeString(w, "type", typeName(e.type));
  writeString(w, "mode", mode);
  w.Key("uid");
  w.Uint(e.uid);
  w.Key("gid");
  w.Uint(e.gid);
  w.Key("size");
  w.Uint64(e.size);
  writeString(w, "mtime", rfc3339(e.mtimeSec, e.mtimeNsec));
  if (e.type == EntryType::kSymlink) writeString(w, "target", e.linkTarget);
  if (e.type == EntryType::kCharDevice || e.type == EntryType::kBlockDevice) {
    w.Key("devMajor");
    w.Uint(e.devMajor);
    w.Key("devMinor");
    w.Uint(e.devMinor);
  }
  writeString(w, "layer", tree.layerOf(n).str());
  w.EndObject();
}

// The URL of this path again, with the query `query` ("n=…&last=…").
std::string selfUrl(const Route& route, const std::string& query) {
  return filesPath(route.name, route.reference, percentEncode(route.path, "/")) + "?" + query;
}

// The JSON answer for inode `n` at the request's path: its entry and, for a directory, its
// entries in name order from after `last`, up to `n` of them (Link names the next page).
Response describe(const Request& request, const Route& route, const Image& image,
                  const FileTree& tree, uint32_t n) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeString(w, "name", route.name);
  writeString(w, "reference", route.reference);
  writeString(w, "digest", image.manifest.str());
  writeString(w, "path", "/" + route.path);
  w.Key("entry");
  writeEntry(w, tree, n, route.path.substr(route.path.rfind('/') + 1));
  Response r(200);
  if (isDirectory(tree, n)) {
    Page page = pageParams(request);
    size_t limit = std::min(page.n.value_or(kMaxListed), kMaxListed);
    const auto& children = tree.tree.inode(n).children;
    auto from = std::upper_bound(
        children.begin(), children.end(), page.last,
        [](const std::string& last, const auto& child) { return last < child.first; });
    w.Key("entries");
    w.StartArray();
    size_t listed = 0;
    auto it = from;
    for (; it != children.end() && listed < limit; ++it, ++listed)
      writeEntry(w, tree, it->second, it->first);
    w.EndArray();
    if (it != children.end() && listed > 0) {
      std::string query =
          "n=" + std::to_string(limit) + "&last=" + queryEscape(std::prev(it)->first);
      if (auto platform = queryValue(request.query, "platform"))
        query += "&platform=" + queryEscape(*platform);
      r.set("Link", "<" + selfUrl(route, query) + ">; rel=\"next\"");
    }
  }
  w.EndObject();
  r.body = std::string(buf.GetString(), buf.GetSize()) + "\n";
  r.set("Content-Type", "application/json; charset=utf-8");
  return r;
}

// `name` for Content-Disposition: an ASCII fallback and, when it has other bytes, the exact
// name as RFC 6266's filename*.
std::string attachment(std::string_view name) {
  std::string plain;
  bool ascii = true;
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    bool printable = c >= 0x20 && c < 0x7f;
    ascii = ascii && printable;
    plain += printable && ch != '"' && ch != '\\' ? ch : '_';
  }
  if (plain.empty()) plain = "file";
  std::string out = "attachment; filename=\"" + plain + "\"";
  // RFC 5987's attr-char: unreserved and !#$&+^`|
  if (!ascii) out += "; filename*=UTF-8''" + percentEncode(name, "!#$&+^`|");
  return out;
}

// A regular file's bytes, streamed from its layer on a reader thread of the connection layer.
Response fileBytes(Registry& registry, const Request& request, const Route& route,
                   std::shared_ptr<const FileTree> tree, uint32_t n) {
  uint64_t size = tree->entry(n)->size;
  Response r(200);
  r.set("Content-Type", "application/octet-stream");
  r.set("Content-Disposition", attachment(route.path.substr(route.path.rfind('/') + 1)));
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Content-Security-Policy", "default-src 'none'; sandbox");
  r.set("Accept-Ranges", "bytes");
  FileBody file{{}, {}, 0, size, {}, {}};
  if (auto refused = applyRange(request, size, "file", r, file)) return *refused;
  file.stream = [store = registry.fileTrees()->store(), tree = std::move(tree), n](
                    uint64_t offset, uint64_t length,
                    const std::function<bool(std::string_view)>& sink) {
    auto blob = layers::openBlobSource(store, tree->layerOf(n));
    layers::FileReader reader(*blob, tree->indexOf(n).stream, *tree->entry(n));
    std::string piece(static_cast<size_t>(std::min<uint64_t>(length, kReadPiece)), '\0');
    while (length > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(length, piece.size()));
      size_t got = reader.read(offset, piece.data(), want);
      if (got == 0) throw Error(ErrorKind::kIo, "a file inside a layer ended early");
      if (!sink(std::string_view(piece.data(), got))) return;
      offset += got;
      length -= got;
    }
  };
  r.file = std::move(file);
  return r;
}

}  // namespace

Response handleFiles(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  if (!registry.fileTrees())
    throw Error(ErrorKind::kUnsupported, "this server does not serve files inside images");
  Image image = imageFor(repo, request, route);
  if (image.refusal) return std::move(*image.refusal);
  layers::TreeSource source{image.layers, true};
  auto tree = registry.fileTrees()->cached(source);
  if (!tree) {
    // A missing index is built on a thread of its own while the client asks again.
    std::vector<std::shared_ptr<const layers::LayerIndex>> held;
    if (registry.indexBuilds()->pending(image.layers, held)) {
      return errorResponse(RegfsError::kIndexPending,
                           image.manifest.str() + ": its layers are being indexed; retry");
    }
    tree = registry.fileTrees()->tree(source);
  }
  if (!tree->error.empty()) return errorResponse(RegfsError::kLayerUnreadable, tree->error);
  std::string why;
  uint32_t n = resolvePath(*tree, route.path, why);
  if (n == Inode::kNone) return errorResponse(RegfsError::kFileUnknown, why);
  const Entry* e = tree->entry(n);
  if (e && e->type == EntryType::kRegular)
    return fileBytes(registry, request, route, std::move(tree), n);
  return describe(request, route, image, *tree, n);
}

}  // namespace regfs::api
