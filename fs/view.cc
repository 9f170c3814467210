#include "fs/view.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_set>

#include "common/error.h"
#include "common/layers/image.h"
#include "common/manifest.h"
#include "common/view/names.h"

namespace regfs::view {
namespace {

constexpr uint64_t kFileBit = uint64_t{1} << 62;
constexpr uint64_t kLow62 = kFileBit - 1;
constexpr uint64_t kDirectorySize = 4096;
constexpr blksize_t kBlockSize = 128 * 1024;

uint64_t first62Bits(std::string_view hex) {
  uint64_t v = 0;
  for (size_t i = 0; i < 16 && i < hex.size(); ++i) {
    char c = hex[i];
    v = (v << 4) | static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return v & kLow62;
}

uint64_t pathHashIno(std::string_view key) {
  uint64_t v = first62Bits(Digest::of(key).hex());
  return v < 2 ? v + 2 : v;
}

std::string joinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string out(dir);
  out += '/';
  out += name;
  return out;
}

bool newer(const timespec& a, const timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}

bool sameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

uint64_t fileIno(const Digest& blob) { return kFileBit | first62Bits(blob.hex()); }

uint64_t directoryIno(std::string_view path) {
  if (path.empty()) return kRootIno;
  std::string key = "d";
  key += '\0';
  key += path;
  return pathHashIno(key);
}

uint64_t symlinkIno(std::string_view path, std::string_view target) {
  std::string key = "l";
  key += '\0';
  key += path;
  key += '\0';
  key += target;
  return pathHashIno(key);
}

struct stat statOf(const Node& node, uid_t uid, gid_t gid) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = node.ino;
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_nlink = node.nlink;
  st.st_mtim = node.mtime;
  st.st_ctim = node.mtime;
  st.st_atim = node.mtime;
  st.st_blksize = kBlockSize;
  switch (node.kind) {
    case NodeKind::kDirectory:
      st.st_mode = S_IFDIR | 0555;
      st.st_size = kDirectorySize;
      break;
    case NodeKind::kFile:
      st.st_mode = S_IFREG | 0444;
      st.st_size = static_cast<off_t>(node.size);
      break;
    case NodeKind::kSymlink:
      st.st_mode = S_IFLNK | 0777;
      st.st_size = static_cast<off_t>(node.size);
      break;
  }
  // Whole 4 KiB blocks, as a local file system would allocate them, in 512-byte units.
  st.st_blocks = static_cast<blkcnt_t>((static_cast<uint64_t>(st.st_size) + 4095) / 4096 * 8);
  return st;
}

// ---------------------------------------------------------------------------------------
// Snapshot

const Node* Snapshot::node(uint64_t ino) const {
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : it->second.get();
}

const Node* Snapshot::child(uint64_t parentIno, std::string_view name) const {
  const Node* parent = node(parentIno);
  if (!parent || parent->kind != NodeKind::kDirectory) return nullptr;
  auto it = std::lower_bound(parent->children.begin(), parent->children.end(), name,
                             [](const auto& entry, std::string_view n) { return entry.first < n; });
  if (it == parent->children.end() || it->first != name) return nullptr;
  return node(it->second);
}

const Node* Snapshot::resolve(std::string_view path) const {
  const Node* n = node(kRootIno);
  while (n && !path.empty()) {
    size_t slash = path.find('/');
    std::string_view name = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    n = child(n->ino, name);
  }
  return n;
}

bool Snapshot::shares(const Snapshot& other, uint64_t ino) const {
  auto a = nodes_.find(ino);
  auto b = other.nodes_.find(ino);
  return a != nodes_.end() && b != other.nodes_.end() && a->second == b->second;
}

std::vector<uint64_t> Snapshot::changedSince(const Snapshot& before) const {
  std::vector<uint64_t> out;
  for (const auto& [ino, n] : nodes_) {
    auto it = before.nodes_.find(ino);
    if (it == before.nodes_.end() || it->second == n) continue;
    const Node& a = *it->second;
    const Node& b = *n;
    if (a.kind != b.kind || a.size != b.size || a.nlink != b.nlink || !sameTime(a.mtime, b.mtime) ||
        a.target != b.target || a.mediaType != b.mediaType || a.children != b.children) {
      out.push_back(ino);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Building a snapshot

namespace {

std::shared_ptr<Node> symlinkNode(const std::string& path, const std::string& target,
                                  const timespec& mtime) {
  auto n = std::make_shared<Node>();
  n->ino = symlinkIno(path, target);
  n->kind = NodeKind::kSymlink;
  n->size = target.size();
  n->mtime = mtime;
  n->nlink = 1;
  n->target = target;
  return n;
}

}  // namespace

// These types are members of View::Cache and SnapshotBuilder, so they are not in an
// anonymous namespace.

// Nodes under construction, by inode number, before they are frozen into a snapshot.
struct NodeTable {
  std::unordered_map<uint64_t, Node> nodes;  // references stay valid as it grows

  Node& at(uint64_t ino) { return nodes.at(ino); }

  // The directory at `path`, created (unlinked) if it is not in the table yet.
  Node& directory(std::string_view path) {
    uint64_t ino = directoryIno(path);
    auto [it, inserted] = nodes.try_emplace(ino);
    if (inserted) {
      it->second.ino = ino;
      it->second.kind = NodeKind::kDirectory;
    }
    return it->second;
  }

  void addSymlink(Node& dir, const std::string& dirPath, const std::string& name,
                  const std::string& target, const timespec& mtime) {
    auto n = symlinkNode(joinPath(dirPath, name), target, mtime);
    dir.children.emplace_back(name, n->ino);
    nodes.emplace(n->ino, std::move(*n));
  }

  // Sorts the directory's entries, counts its subdirectories and gives it the newest mtime
  // below it, finishing the table's directories below it first. `outside(ino)` answers for
  // children that are not in the table (files, directories finished earlier).
  template <typename Outside>
  timespec finish(uint64_t ino, const Outside& outside) {
    Node& dir = at(ino);
    std::sort(dir.children.begin(), dir.children.end());
    uint32_t subdirs = 0;
    timespec newest = dir.mtime;
    for (const auto& [name, childIno] : dir.children) {
      timespec m{};
      bool isDirectory = false;
      if (auto it = nodes.find(childIno); it != nodes.end()) {
        isDirectory = it->second.kind == NodeKind::kDirectory;
        m = isDirectory ? finish(childIno, outside) : it->second.mtime;
      } else if (const Node* c = outside(childIno)) {
        isDirectory = c->kind == NodeKind::kDirectory;
        m = c->mtime;
      }
      if (isDirectory) ++subdirs;
      if (newer(m, newest)) newest = m;
    }
    dir.nlink = 2 + subdirs;
    dir.mtime = newest;
    return newest;
  }
};

// One repository's manifest directories ("@sha256:<hex>" and all below), built from its
// list of revisions. Manifests and blobs are immutable under their digests, so a rebuild
// reuses the whole tree while the repository's revisions stay the same.
struct ManifestTree {
  std::vector<Digest> manifests;  // the revisions it was built from
  bool complete = true;           // every blob was there (else it is rebuilt every time)
  std::vector<std::pair<std::string, uint64_t>> entries;  // the manifest directories
  std::vector<std::shared_ptr<const Node>> nodes;         // directories and symlinks
  // One node per blob, nlink = its places in this repository, in order of first place.
  std::vector<Node> files;
};

// A tag as the last rebuild saw it. Its target is read again only when the link's mtime
// changed, or when the link was too new to trust its mtime (two writes within the file
// system's timestamp granularity would look the same). Its symlink node is reused while
// neither it nor its name in the directory changes.
struct TagSeen {
  std::string tag;
  Digest target;
  timespec mtime{};
  bool settled = false;
  std::string entry;  // its name in the repository's directory: the tag, or its alias
  std::shared_ptr<const Node> node;
};
constexpr time_t kSettleSeconds = 1;

// What a rebuild may reuse from the last one. Entries for repositories and blobs the
// store no longer has are dropped, which keeps the cache as big as the store.
struct BlobCache {
  std::unordered_map<Digest, std::shared_ptr<const ManifestParts>> manifests;
  std::unordered_map<Digest, BlobInfo> blobs;  // only blobs that exist
  bool contents = true;                        // ViewOptions::contents
};

struct View::Cache : BlobCache {
  std::unordered_map<std::string, std::shared_ptr<const ManifestTree>> trees;  // by repository
  std::unordered_map<std::string, std::vector<TagSeen>> tags;  // by repository, sorted by tag

  // Keeps only the manifests and blobs that the current trees show.
  void prune() {
    std::unordered_set<Digest> used;
    for (const auto& [path, tree] : trees) {
      used.insert(tree->manifests.begin(), tree->manifests.end());
      for (const Node& f : tree->files) used.insert(*f.digest);
    }
    std::erase_if(manifests, [&](const auto& e) { return !used.contains(e.first); });
    std::erase_if(blobs, [&](const auto& e) { return !used.contains(e.first); });
  }
};

namespace {

// True if two trees of one repository show the same: the same manifests, directories
// and blobs (what a missing blob changes).
bool sameTree(const ManifestTree& a, const ManifestTree& b) {
  if (a.manifests != b.manifests || a.entries != b.entries || a.nodes.size() != b.nodes.size() ||
      a.files.size() != b.files.size()) {
    return false;
  }
  for (size_t i = 0; i < a.files.size(); ++i) {
    if (a.files[i].ino != b.files[i].ino || a.files[i].nlink != b.files[i].nlink) return false;
  }
  return true;
}

// Builds the manifest directories of one repository.
class ManifestTreeBuilder {
 public:
  ManifestTreeBuilder(const Store& store, BlobCache& cache, std::string repoPath)
      : store_(store), cache_(cache), repoPath_(std::move(repoPath)) {}

  std::shared_ptr<const ManifestTree> build(std::vector<Digest> manifests) {
    auto tree = std::make_shared<ManifestTree>();
    for (const Digest& m : manifests) addManifest(*tree, m);
    tree->manifests = std::move(manifests);
    auto outside = [&](uint64_t ino) -> const Node* {
      auto it = files_.find(ino);
      return it == files_.end() ? nullptr : &it->second;
    };
    for (const auto& [name, ino] : tree->entries) table_.finish(ino, outside);
    tree->nodes.reserve(table_.nodes.size());
    for (auto& [ino, n] : table_.nodes) {
      n.stable = true;
      tree->nodes.push_back(std::make_shared<const Node>(std::move(n)));
    }
    tree->files.reserve(fileOrder_.size());
    for (uint64_t ino : fileOrder_) tree->files.push_back(std::move(files_.at(ino)));
    return tree;
  }

 private:
  void addManifest(ManifestTree& tree, const Digest& digest) {
    auto blob = statBlob(digest);
    auto parts = blob ? manifestParts(digest) : nullptr;
    if (!parts) {  // a revision whose blob is gone: nothing to show
      tree.complete = false;
      return;
    }
    std::string name = view_names::manifestDir(digest);
    std::string dirPath = joinPath(repoPath_, name);
    Node& dir = table_.directory(dirPath);
    dir.mtime = blob->mtime;
    tree.entries.emplace_back(name, dir.ino);
    addFile(tree, dir, std::string(view_names::kManifestFile), digest, parts->mediaType);
    if (parts->config) {
      addFile(tree, dir, std::string(view_names::kConfigFile), parts->config->digest,
              parts->config->mediaType);
    }
    if (!parts->blobs.empty()) {
      Node& layers = subdirectory(dir, dirPath, std::string(view_names::kLayersDir), blob->mtime);
      for (size_t i = 0; i < parts->blobs.size(); ++i) {
        const Descriptor& d = parts->blobs[i];
        addFile(tree, layers,
                view_names::layerFile(i, parts->blobs.size(), d.digest,
                                      layerFileExtension(d.mediaType)),
                d.digest, d.mediaType);
      }
    }
    if (cache_.contents) addContents(dir, dirPath, *parts, blob->mtime);
    if (!parts->children.empty()) {
      std::string platformsPath = joinPath(dirPath, view_names::kPlatformsDir);
      Node& platforms =
          subdirectory(dir, dirPath, std::string(view_names::kPlatformsDir), blob->mtime);
      std::vector<std::string> names = platformEntryNames(parts->children);
      for (size_t i = 0; i < parts->children.size(); ++i) {
        table_.addSymlink(platforms, platformsPath, names[i],
                          "../../" + view_names::manifestDir(parts->children[i].digest),
                          blob->mtime);
      }
    }
  }

  // rootfs/ and layer-contents/NN-<hex>/ of an image manifest: directories whose entries
  // come from the layers (contents.h), so the snapshot reads nothing of the layers here.
  void addContents(Node& dir, const std::string& dirPath, const ManifestParts& parts,
                   const timespec& mtime) {
    if (!parts.children.empty() || (!parts.config && parts.blobs.empty()) ||
        !layers::whyNoRootfs(parts.config, parts.blobs).empty())
      return;
    auto root = std::make_shared<ContentsRoot>();
    for (const Descriptor& d : parts.blobs) root->layers.push_back(d.digest);
    subdirectory(dir, dirPath, std::string(view_names::kRootfsDir), mtime).contents = root;
    if (parts.blobs.empty()) return;
    std::string perLayerPath = joinPath(dirPath, view_names::kLayerContentsDir);
    Node& perLayer = subdirectory(dir, dirPath, std::string(view_names::kLayerContentsDir), mtime);
    for (size_t i = 0; i < parts.blobs.size(); ++i) {
      auto one = std::make_shared<ContentsRoot>(ContentsRoot{{parts.blobs[i].digest}, false});
      std::string name = view_names::layerContentsDir(i, parts.blobs.size(), parts.blobs[i].digest);
      subdirectory(perLayer, perLayerPath, name, mtime).contents = one;
    }
  }

  Node& subdirectory(Node& parent, const std::string& parentPath, const std::string& name,
                     const timespec& mtime) {
    Node& dir = table_.directory(parentPath + "/" + name);
    dir.mtime = mtime;
    parent.children.emplace_back(name, dir.ino);
    return dir;
  }

  // Links the blob as `name` in the directory, if the blob is in the store.
  void addFile(ManifestTree& tree, Node& dir, const std::string& name, const Digest& blob,
               const std::string& mediaType) {
    auto info = statBlob(blob);
    if (!info) {
      tree.complete = false;
      return;
    }
    uint64_t ino = fileIno(blob);
    auto [it, inserted] = files_.try_emplace(ino);
    Node& n = it->second;
    if (inserted) {
      n.ino = ino;
      n.kind = NodeKind::kFile;
      n.size = info->size;
      n.mtime = info->mtime;
      n.digest = blob;
      n.mediaType = mediaType;
      n.stable = true;
      fileOrder_.push_back(ino);
    }
    ++n.nlink;
    dir.children.emplace_back(name, ino);
  }

  std::optional<BlobInfo> statBlob(const Digest& digest) {
    if (auto it = cache_.blobs.find(digest); it != cache_.blobs.end()) return it->second;
    auto info = store_.statBlob(digest);
    if (info) cache_.blobs.emplace(digest, *info);
    return info;
  }

  std::shared_ptr<const ManifestParts> manifestParts(const Digest& digest) {
    if (auto it = cache_.manifests.find(digest); it != cache_.manifests.end()) return it->second;
    std::string bytes;
    try {
      bytes = store_.readBlob(digest);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kBlobUnknown) return nullptr;
      throw;
    }
    auto parts = std::make_shared<const ManifestParts>(describeManifest(bytes));
    cache_.manifests.emplace(digest, parts);
    return parts;
  }

  const Store& store_;
  BlobCache& cache_;
  std::string repoPath_;
  NodeTable table_;
  std::unordered_map<uint64_t, Node> files_;
  std::vector<uint64_t> fileOrder_;
};

}  // namespace

class SnapshotBuilder {
 public:
  SnapshotBuilder(const Store& store, View::Cache& cache, const Snapshot* previous)
      : store_(store), cache_(cache), previous_(previous), snapshot_(std::make_shared<Snapshot>()) {
    top_.directory("");
    if (previous_) snapshot_->nodes_.reserve(previous_->nodes_.size());
  }

  std::shared_ptr<Snapshot> build() {
    ::clock_gettime(CLOCK_REALTIME, &now_);
    struct RepoState {
      std::string path;
      Repository repo;
      std::shared_ptr<const ManifestTree> tree;
    };
    std::vector<RepoState> repos;
    decltype(cache_.trees) trees;
    bool rebuilt = false;
    for (const std::string& name : store_.catalog(std::numeric_limits<size_t>::max())) {
      auto repoName = RepoName::tryParse(name);
      if (!repoName) continue;
      Repository repo = store_.repository(*repoName);
      ensureDirectory(name);
      std::vector<Digest> manifests = repo.listManifests();
      std::shared_ptr<const ManifestTree>& tree = trees[name];
      auto it = cache_.trees.find(name);
      const ManifestTree* before = it == cache_.trees.end() ? nullptr : it->second.get();
      if (before && before->complete && before->manifests == manifests) {
        tree = it->second;
      } else {
        tree = ManifestTreeBuilder(store_, cache_, name).build(std::move(manifests));
        // A tree missing blobs is built again every time; while they stay missing it
        // comes out the same, and the old one (whose nodes the snapshot holds) stays.
        if (before && sameTree(*before, *tree)) {
          tree = it->second;
        } else {
          rebuilt = true;
        }
      }
      repos.push_back({name, std::move(repo), tree});
    }
    rebuilt = rebuilt || trees.size() != cache_.trees.size();
    cache_.trees = std::move(trees);
    if (rebuilt) cache_.prune();

    decltype(cache_.tags) tags;
    bool tagsChanged = false;
    for (const RepoState& r : repos) {
      // Before the manifest directories join them, a repository's entries are the nested
      // repositories and namespaces, whose names its tags must yield.
      std::vector<std::string> nested;
      for (const auto& [name, ino] : top_.at(directoryIno(r.path)).children) nested.push_back(name);
      tags[r.path] = scanTags(r, std::move(cache_.tags[r.path]), nested, tagsChanged);
    }
    cache_.tags = std::move(tags);
    if (previous_ && !rebuilt && !tagsChanged) return nullptr;  // the same tree as before

    addFiles(repos);
    for (const RepoState& r : repos) {
      Node& dir = top_.at(directoryIno(r.path));
      for (const TagSeen& t : cache_.tags.at(r.path)) {
        dir.children.emplace_back(t.entry, t.node->ino);
        snapshot_->nodes_.emplace(t.node->ino, t.node);
      }
      dir.children.insert(dir.children.end(), r.tree->entries.begin(), r.tree->entries.end());
      for (const auto& n : r.tree->nodes) snapshot_->nodes_.emplace(n->ino, n);
    }
    top_.finish(kRootIno, [&](uint64_t ino) { return snapshot_->node(ino); });
    for (auto& [ino, n] : top_.nodes)
      snapshot_->nodes_.emplace(ino, std::make_shared<const Node>(std::move(n)));
    return snapshot_;
  }

 private:
  // Creates the directory at `path` and its parents; returns its inode number.
  uint64_t ensureDirectory(std::string_view path) {
    uint64_t ino = directoryIno(path);
    if (path.empty() || top_.nodes.contains(ino)) return ino;
    size_t slash = path.rfind('/');
    std::string_view parentPath = slash == std::string_view::npos ? "" : path.substr(0, slash);
    std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    uint64_t parent = ensureDirectory(parentPath);
    top_.directory(path);
    top_.at(parent).children.emplace_back(std::string(name), ino);
    return ino;
  }

  // The repository's tags, sorted by name: what changed is read and built again, the
  // rest is taken over from `before` (the last rebuild's list, also sorted). Sets
  // `changed` unless every tag's symlink is the one `before` had.
  template <typename Repo>
  std::vector<TagSeen> scanTags(const Repo& r, std::vector<TagSeen> before,
                                const std::vector<std::string>& nested, bool& changed) {
    std::vector<const Node*> old;
    for (const TagSeen& t : before) old.push_back(t.node.get());
    std::vector<TagSeen> out;
    size_t j = 0;
    for (auto& [tag, link] : r.repo.listTagLinks()) {
      const std::string& name = tag.str();
      while (j < before.size() && before[j].tag < name) ++j;
      TagSeen* last = j < before.size() && before[j].tag == name ? &before[j] : nullptr;
      std::optional<TagSeen> seen;
      if (last && last->settled && sameTime(last->mtime, link.mtime)) {
        seen = std::move(*last);
      } else if (auto target = r.repo.resolveTag(tag)) {
        seen = TagSeen{name, *target, link.mtime, link.mtime.tv_sec + kSettleSeconds < now_.tv_sec,
                       {},   {}};
        if (last && last->target == *target && sameTime(last->mtime, link.mtime)) {
          seen->entry = std::move(last->entry);  // read again, found the same
          seen->node = std::move(last->node);
        }
      } else {
        continue;  // deleted while we looked
      }
      bool shadowed = std::find(nested.begin(), nested.end(), name) != nested.end();
      std::string entry = shadowed ? view_names::tagAlias(name) : name;
      if (!seen->node || seen->entry != entry) {
        seen->entry = std::move(entry);
        seen->node = symlinkNode(joinPath(r.path, seen->entry),
                                 view_names::manifestDir(seen->target), seen->mtime);
      }
      out.push_back(std::move(*seen));
    }
    if (out.size() != old.size()) changed = true;
    for (size_t i = 0; !changed && i < out.size(); ++i) changed = out[i].node.get() != old[i];
    return out;
  }

  // One node per blob over all repositories: st_nlink counts every place, the media type
  // is the first place's. A node equal to the previous snapshot's is shared with it.
  template <typename Repos>
  void addFiles(const Repos& repos) {
    struct Places {
      const Node* first;
      uint32_t nlink;
    };
    std::unordered_map<uint64_t, Places> files;
    for (const auto& r : repos) {
      for (const Node& f : r.tree->files)
        files.try_emplace(f.ino, Places{&f, 0}).first->second.nlink += f.nlink;
    }
    for (const auto& [ino, places] : files) {
      const Node& f = *places.first;
      std::shared_ptr<const Node> shared;
      if (previous_) {
        auto it = previous_->nodes_.find(ino);
        if (it != previous_->nodes_.end() && it->second->nlink == places.nlink &&
            it->second->size == f.size && sameTime(it->second->mtime, f.mtime) &&
            it->second->mediaType == f.mediaType) {
          shared = it->second;
        }
      }
      if (!shared) {
        auto n = std::make_shared<Node>(f);
        n->nlink = places.nlink;
        shared = std::move(n);
      }
      snapshot_->nodes_.emplace(ino, std::move(shared));
    }
  }

  const Store& store_;
  View::Cache& cache_;
  const Snapshot* previous_;
  std::shared_ptr<Snapshot> snapshot_;
  NodeTable top_;  // the root, namespace and repository directories, and the tags
  timespec now_{};
};

// ---------------------------------------------------------------------------------------
// View

View::View(Store store, ViewOptions options)
    : store_(std::move(store)),
      options_(options),
      cache_(std::make_unique<Cache>()),
      contents_(store_) {
  cache_->contents = options_.contents;
}

View::~View() { refresher_.stop(); }

void View::refreshLoop() {
  auto lastTook = Clock::duration::zero();
  auto lastEnded = Clock::time_point{};
  bool failing = false;  // the last rebuild failed (said once, and once when it recovers)
  while (!refresher_.stopping()) {
    bool idle;
    Clock::duration rest;
    {
      std::lock_guard lock(currentMutex_);
      auto now = Clock::now();
      bool polling = now - lastAccess_ < options_.pollAfterAccess;
      idle = !refreshWanted_ && !polling;
      // At most half the time goes to rebuilding: rest as long as the last rebuild took,
      // counted from its end (an idle spell counts). When only polling, also until the
      // snapshot is maxAge old.
      rest = lastTook - (now - lastEnded);
      if (!refreshWanted_) rest = std::max(rest, options_.maxAge - (now - builtAt_));
    }
    if (idle) {
      refresher_.wait();  // for an access that asks for a rebuild
      continue;
    }
    if (!refresher_.sleepFor(rest)) break;
    auto started = Clock::now();
    {
      std::lock_guard lock(currentMutex_);
      refreshWanted_ = false;  // an access asking from now on asks for the next rebuild
    }
    try {
      refresh();
      if (failing) spdlog::info("view: the store can be read again; the view is current");
      failing = false;
    } catch (const std::exception& e) {
      // The store failed mid-walk; the previous snapshot stays and the next access retries.
      if (!failing) {
        spdlog::error("view: cannot read the store, the view keeps its last snapshot: {}",
                      e.what());
      }
      failing = true;
      std::lock_guard lock(currentMutex_);
      failedAt_ = started;  // releases the accesses waiting for this rebuild
      published_.notify_all();
    }
    lastEnded = Clock::now();
    lastTook = lastEnded - started;
  }
  std::lock_guard lock(currentMutex_);
  published_.notify_all();  // stopping: nothing waits for a rebuild that will not come
}

void View::startBackground() {
  std::lock_guard lock(currentMutex_);
  if (options_.background && !refresher_.started()) refresher_.start([this] { refreshLoop(); });
}

std::shared_ptr<const Snapshot> View::snapshot() {
  std::shared_ptr<const Snapshot> current;
  auto fresh = [&] { return Clock::now() - builtAt_ < options_.maxAge; };
  {
    std::unique_lock lock(currentMutex_);
    auto now = Clock::now();
    lastAccess_ = now;
    if (current_ && fresh()) return current_;
    if (current_ && refresher_.started()) return awaitFreshLocked(lock, now);
    current = current_;
  }
  std::unique_lock rebuild(rebuildMutex_, std::defer_lock);
  if (!current) {
    rebuild.lock();
  } else if (!rebuild.try_lock()) {
    return current;  // another thread is rebuilding; the previous snapshot will do meanwhile
  }
  {
    std::lock_guard lock(currentMutex_);
    if (current_ && fresh()) return current_;
  }
  return rebuildLocked(rebuild);
}

std::shared_ptr<const Snapshot> View::awaitFreshLocked(std::unique_lock<std::mutex>& lock,
                                                       Clock::time_point now) {
  if (!refreshWanted_) {
    refreshWanted_ = true;
    refresher_.wake();
  }
  // A rebuild in progress may do, if it started late enough; else the one asked for.
  auto oldest = now - options_.visibleWithin;
  published_.wait(
      lock, [&] { return builtAt_ >= oldest || failedAt_ >= oldest || refresher_.stopping(); });
  return current_;
}

std::shared_ptr<const Snapshot> View::refresh() {
  std::unique_lock rebuild(rebuildMutex_);
  return rebuildLocked(rebuild);
}

std::shared_ptr<const Snapshot> View::rebuildLocked(std::unique_lock<std::mutex>& rebuild) {
  auto started = Clock::now();
  std::shared_ptr<const Snapshot> previous;
  {
    std::lock_guard lock(currentMutex_);
    previous = current_;
  }
  std::shared_ptr<Snapshot> fresh = SnapshotBuilder(store_, *cache_, previous.get()).build();
  if (!fresh) {  // nothing changed: the current snapshot is as good as new
    std::lock_guard lock(currentMutex_);
    builtAt_ = started;
    published_.notify_all();
    return current_;
  }
  fresh->builtAt_ = started;
  {
    std::lock_guard lock(currentMutex_);
    current_ = fresh;
    builtAt_ = started;
    published_.notify_all();
  }
  // The next rebuild need not wait for this listener call, which may wait for kernel locks
  // held by requests that wait for that rebuild; the calls stay in order of the rebuilds.
  std::lock_guard tell(listenerMutex_);
  rebuild.unlock();
  if (previous && listener_) listener_(*previous, *fresh);
  std::lock_guard lock(currentMutex_);
  toldAt_ = started;
  published_.notify_all();
  return fresh;
}

void View::onRebuild(Listener listener) {
  std::lock_guard tell(listenerMutex_);
  listener_ = std::move(listener);
}

bool View::awaitListener(const Snapshot& snapshot, std::chrono::milliseconds bound) {
  std::unique_lock lock(currentMutex_);
  return published_.wait_for(
      lock, bound, [&] { return toldAt_ >= snapshot.builtAt() || refresher_.stopping(); });
}

}  // namespace regfs::view
