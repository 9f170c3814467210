// The FUSE operations inside images: every reply comes from the tree of files of the layers
// (fs/contents.h) and the layer indexes behind it, which never change under an inode number.

#include "fs/contents_ops.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace regfs::view {
namespace {

// Inside images: the layer that supplied an entry, and the entry's own extended attributes
// from its tar header: "user.*" as they are, every other one (security.capability, trusted.*)
// under this prefix, since the mount stores and enforces none of them.
constexpr std::string_view kLayerXattr = "user.oci.layer";
constexpr std::string_view kForeignXattrPrefix = "user.regfs.xattr.";

// The name an entry's tar xattr `name` has on the mount.
std::string shownXattrName(const std::string& name) {
  if (name.starts_with(kUserXattrPrefix)) return name;
  return std::string(kForeignXattrPrefix) + name;
}

// The extended attributes of an entry inside an image, by the names the mount shows.
std::vector<std::pair<std::string, std::string>> contentsXattrs(ViewFs& f, fuse_ino_t ino) {
  auto place = f.contentsPlace(*f.view().snapshot(), ino);
  if (!place) throw Error(ErrorKind::kNotFound, "no such inode");
  auto tree = f.treeOf(*place);
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back(kLayerXattr, tree->layerOf(place->n).str());
  if (const layers::Entry* e = tree->entry(place->n)) {
    for (const auto& [name, value] : e->xattrs) out.emplace_back(shownXattrName(name), value);
  }
  return out;
}

// An inode inside a tree as the kernel found it: its place, its tree and its entry (nullptr
// for a directory no layer lists).
struct Located {
  ViewFs::ContentsPlace place;
  std::shared_ptr<const FileTree> tree;
  const layers::Entry* entry = nullptr;
};

// Inode `ino`; nullopt, ENOENT answered, when the kernel holds no such inode.
std::optional<Located> locate(fuse_req_t req, ViewFs& f, fuse_ino_t ino) {
  auto place = f.contentsPlace(*f.view().snapshot(), ino);
  if (!place) {
    fuse_reply_err(req, ENOENT);
    return std::nullopt;
  }
  auto tree = f.treeOf(*place);
  const layers::Entry* entry = tree->entry(place->n);
  return Located{*place, std::move(tree), entry};
}

// Inode `ino` when it is a regular file; else nullopt, answered with ENOENT, EISDIR or
// `otherwise`.
std::optional<Located> locateFile(fuse_req_t req, ViewFs& f, fuse_ino_t ino, int otherwise) {
  auto found = locate(req, f, ino);
  if (!found) return std::nullopt;
  const layers::Entry* e = found->entry;
  if (!e || e->type != layers::EntryType::kRegular) {
    fuse_reply_err(req, !e || e->type == layers::EntryType::kDirectory ? EISDIR : otherwise);
    return std::nullopt;
  }
  return found;
}

}  // namespace

// LOOKUP below a contents directory: a name in the tree of files from layers.
void contentsLookup(fuse_req_t req, ViewFs& f, const ViewFs::ContentsPlace& parent,
                    const char* name) {
  auto tree = f.treeOf(parent);
  const auto& children = tree->tree.inode(parent.n).children;
  std::string_view wanted(name);
  auto it = std::lower_bound(children.begin(), children.end(), wanted,
                             [](const auto& child, std::string_view n) { return child.first < n; });
  if (it == children.end() || it->first != wanted) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  ViewFs::ContentsPlace place = parent;
  place.n = it->second;
  place.parent = parent.n;
  place.position = static_cast<uint32_t>(it - children.begin());
  fuse_entry_param e = f.contentsEntry(*tree, place);
  if (!S_ISDIR(e.attr.st_mode)) f.statHabits().lookedUpFile(fuse_req_ctx(req)->pid);
  f.rememberContents(e.ino, place);
  if (fuse_reply_entry(req, &e) != 0) f.forget(e.ino, 1);
}

void contentsGetattr(fuse_req_t req, ViewFs& f, const Snapshot& snap, fuse_ino_t ino) {
  auto place = f.contentsPlace(snap, ino);
  if (!place) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e = f.contentsEntry(*f.treeOf(*place), *place);
  fuse_reply_attr(req, &e.attr, e.attr_timeout);
}

void contentsReadlink(fuse_req_t req, ViewFs& f, fuse_ino_t ino) {
  auto found = locate(req, f, ino);
  if (!found) return;
  const layers::Entry* e = found->entry;
  if (!e || e->type != layers::EntryType::kSymlink) {
    fuse_reply_err(req, EINVAL);
  } else {
    fuse_reply_readlink(req, e->linkTarget.c_str());
  }
}

// READDIR(PLUS) of a directory in a tree of files from layers. The tree never changes, so
// every chunk of a listing reads the same entries.
void contentsReaddir(fuse_req_t req, ViewFs& f, const ViewFs::ContentsPlace& dir, size_t size,
                     off_t offset, bool plus) {
  auto tree = f.treeOf(dir);
  const layers::Inode& inode = tree->tree.inode(dir.n);
  const layers::Entry* e = tree->entry(dir.n);
  if (e && e->type != layers::EntryType::kDirectory) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  // Attributes of files only for a reader that looks at its files (fs/stat_habits.h).
  bool files = plus && f.statHabits().statsFiles(fuse_req_ctx(req)->pid);
  std::vector<char> buf(size);
  size_t used = 0;
  for (size_t i = static_cast<size_t>(std::max<off_t>(offset, 0)); i < inode.children.size(); ++i) {
    ViewFs::ContentsPlace place = dir;
    place.n = inode.children[i].second;
    place.parent = dir.n;
    place.position = static_cast<uint32_t>(i);
    fuse_entry_param entry = f.contentsEntry(*tree, place);
    const char* name = inode.children[i].first.c_str();
    size_t room = size - used;
    off_t next = static_cast<off_t>(i + 1);
    size_t len;
    if (plus) {
      // Node id 0: the name and type only, no inode for the kernel to build or forget.
      bool full = files || S_ISDIR(entry.attr.st_mode);
      if (!full) entry.ino = 0;
      len = fuse_add_direntry_plus(req, buf.data() + used, room, name, &entry, next);
      if (len > room) break;
      if (full) f.rememberContents(entry.ino, place);
    } else {
      len = fuse_add_direntry(req, buf.data() + used, room, name, &entry.attr, next);
      if (len > room) break;
    }
    used += len;
  }
  fuse_reply_buf(req, buf.data(), used);
}

// OPEN of a file inside an image: a reader of its layer's stream, from the layer's index.
void contentsOpen(fuse_req_t req, ViewFs& f, fuse_ino_t ino, fuse_file_info* fi) {
  auto found = locateFile(req, f, ino, EACCES);
  if (!found) return;
  const ViewFs::ContentsPlace* place = &found->place;
  std::shared_ptr<const FileTree> tree = found->tree;
  auto file = std::make_unique<ContentsFile>();
  file->tree = tree;
  file->reader = std::make_unique<layers::FileReader>(tree->streamOf(place->n), *found->entry);
  auto handle = std::make_unique<OpenFile>();
  handle->contents = std::move(file);
  OpenFile* open = f.hold(std::move(handle));
  fi->fh = reinterpret_cast<uint64_t>(open);
  fi->keep_cache = 1;  // immutable under its inode number
  fi->noflush = 1;
  if (fuse_reply_open(req, fi) != 0) {
    f.drop(open);  // the kernel never got it
    return;
  }
  if (place->parent != layers::Inode::kNone)
    f.prefetcher().opened(tree, place->base, place->parent, place->position);
}

void contentsRead(fuse_req_t req, ContentsFile& file, size_t size, off_t offset) {
  std::vector<char> buf(size);
  size_t n;
  {
    std::lock_guard lock(file.mutex);
    n = file.reader->read(static_cast<uint64_t>(offset), buf.data(), size);
  }
  fuse_reply_buf(req, buf.data(), n);
}

void contentsReadByInode(fuse_req_t req, ViewFs& f, fuse_ino_t ino, size_t size, off_t offset) {
  auto found = locateFile(req, f, ino, EINVAL);
  if (!found) return;
  const ViewFs::ContentsPlace* place = &found->place;
  const std::shared_ptr<const FileTree>& tree = found->tree;
  // The start of a file: what an OPEN was to the read-ahead.
  if (offset == 0 && place->parent != layers::Inode::kNone)
    f.prefetcher().opened(tree, place->base, place->parent, place->position);
  if (auto data = f.prefetcher().take(ino)) {
    auto from = std::min(data->size(), static_cast<size_t>(offset));
    fuse_reply_buf(req, data->data() + from, std::min(size, data->size() - from));
    return;
  }
  // The layer's shared stream readers continue where the last file read from them ended.
  layers::FileReader reader(tree->streamOf(place->n), *found->entry);
  std::vector<char> buf(size);
  size_t n = reader.read(static_cast<uint64_t>(offset), buf.data(), size);
  fuse_reply_buf(req, buf.data(), n);
}

void contentsGetxattr(fuse_req_t req, ViewFs& f, fuse_ino_t ino, const char* name, size_t size) {
  if (!std::string_view(name).starts_with(kUserXattrPrefix)) {
    fuse_reply_err(req, EOPNOTSUPP);  // as for the rest of the view
    return;
  }
  for (const auto& [shown, value] : contentsXattrs(f, ino)) {
    if (shown == name) return replyXattr(req, value, size);
  }
  fuse_reply_err(req, ENODATA);
}

void contentsListxattr(fuse_req_t req, ViewFs& f, fuse_ino_t ino, size_t size) {
  std::string names;
  for (const auto& [shown, value] : contentsXattrs(f, ino)) names.append(shown).push_back('\0');
  replyXattr(req, names, size);
}

}  // namespace regfs::view
