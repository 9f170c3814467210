#include "fs/view.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_set>

#include "common/error.h"
#include "fs/manifest_parts.h"

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

std::string manifestDirName(const Digest& manifest) { return "@" + manifest.str(); }
std::string tagAliasName(std::string_view tag) { return "@tag:" + std::string(tag); }

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
  return it == nodes_.end() ? nullptr : &it->second;
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

// ---------------------------------------------------------------------------------------
// Building a snapshot

// What a rebuild may reuse from the last one: manifests and blob metadata are immutable
// under their digest, so they are read and parsed once. Entries a rebuild did not touch
// are dropped, which keeps the cache as big as the store.
struct View::Cache {
  std::unordered_map<Digest, std::shared_ptr<const ManifestParts>> manifests;
  std::unordered_map<Digest, BlobInfo> blobs;  // only blobs that exist
  std::unordered_set<Digest> usedManifests, usedBlobs;

  void startRound() {
    usedManifests.clear();
    usedBlobs.clear();
  }
  void endRound() {
    std::erase_if(manifests, [&](const auto& e) { return !usedManifests.contains(e.first); });
    std::erase_if(blobs, [&](const auto& e) { return !usedBlobs.contains(e.first); });
  }
};

class SnapshotBuilder {
 public:
  SnapshotBuilder(const Store& store, View::Cache& cache) : store_(store), cache_(cache) {
    snapshot_ = std::make_shared<Snapshot>();
    Node root;
    root.ino = kRootIno;
    root.kind = NodeKind::kDirectory;
    snapshot_->nodes_.emplace(kRootIno, std::move(root));
  }

  std::shared_ptr<Snapshot> build() {
    struct RepoState {
      Repository repo;
      std::string path;
      std::vector<Digest> manifests;
    };
    std::vector<RepoState> repos;
    // Pass 1: every repository's directory (and its namespaces) and its revisions, so
    // that pass 2 knows which names are directories before it places the tags.
    for (const std::string& name : store_.catalog(std::numeric_limits<size_t>::max())) {
      auto repoName = RepoName::tryParse(name);
      if (!repoName) continue;
      Repository repo = store_.repository(*repoName);
      ensureDirectory(name);
      repos.push_back({repo, name, repo.listManifests()});
    }
    for (const RepoState& r : repos) {
      for (const Digest& m : r.manifests) addManifest(r.path, m);
    }
    for (const RepoState& r : repos) {
      for (const Tag& tag : r.repo.listTags()) {
        auto target = r.repo.resolveTag(tag);
        auto info = r.repo.statTag(tag);
        if (!target || !info) continue;  // deleted while we looked
        std::string name = tag.str();
        if (snapshot_->nodes_.contains(directoryIno(joinPath(r.path, name)))) name = tagAliasName(name);
        addSymlink(r.path, name, manifestDirName(*target), info->mtime);
      }
    }
    finishDirectories();
    return snapshot_;
  }

 private:
  Node& nodeAt(uint64_t ino) { return snapshot_->nodes_.at(ino); }

  // Creates the directory at `path` and its parents; returns its inode number.
  uint64_t ensureDirectory(std::string_view path) {
    if (path.empty()) return kRootIno;
    uint64_t ino = directoryIno(path);
    if (snapshot_->nodes_.contains(ino)) return ino;
    size_t slash = path.rfind('/');
    std::string_view parentPath = slash == std::string_view::npos ? "" : path.substr(0, slash);
    std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    uint64_t parent = ensureDirectory(parentPath);
    Node dir;
    dir.ino = ino;
    dir.kind = NodeKind::kDirectory;
    snapshot_->nodes_.emplace(ino, std::move(dir));
    link(parent, std::string(name), ino);
    return ino;
  }

  void link(uint64_t parent, std::string name, uint64_t ino) {
    nodeAt(parent).children.emplace_back(std::move(name), ino);
  }

  void addSymlink(const std::string& dirPath, const std::string& name, const std::string& target,
                  const timespec& mtime) {
    std::string path = joinPath(dirPath, name);
    Node n;
    n.ino = symlinkIno(path, target);
    n.kind = NodeKind::kSymlink;
    n.size = target.size();
    n.mtime = mtime;
    n.nlink = 1;
    n.target = target;
    uint64_t ino = n.ino;
    snapshot_->nodes_.emplace(ino, std::move(n));
    link(directoryIno(dirPath), name, ino);
  }

  // Links the blob as `name` in the directory; false when the blob is not in the store.
  bool addFile(uint64_t dirIno, const std::string& name, const Digest& blob,
               const std::string& mediaType) {
    auto info = statBlob(blob);
    if (!info) return false;
    uint64_t ino = fileIno(blob);
    auto [it, inserted] = snapshot_->nodes_.try_emplace(ino);
    Node& n = it->second;
    if (inserted) {
      n.ino = ino;
      n.kind = NodeKind::kFile;
      n.size = info->size;
      n.mtime = info->mtime;
      n.digest = blob;
      n.mediaType = mediaType;
    }
    ++n.nlink;
    link(dirIno, name, ino);
    return true;
  }

  void addManifest(const std::string& repoPath, const Digest& digest) {
    auto blob = statBlob(digest);
    if (!blob) return;  // a revision whose blob is gone: nothing to show
    auto parts = manifestParts(digest);
    if (!parts) return;
    std::string dirPath = joinPath(repoPath, manifestDirName(digest));
    uint64_t dir = ensureDirectory(dirPath);
    nodeAt(dir).mtime = blob->mtime;
    addFile(dir, "manifest.json", digest, parts->mediaType);
    if (parts->config) addFile(dir, "config.json", parts->config->digest, parts->config->mediaType);
    if (!parts->blobs.empty()) {
      uint64_t layers = ensureDirectory(dirPath + "/layers");
      nodeAt(layers).mtime = blob->mtime;
      size_t width = std::max<size_t>(2, std::to_string(parts->blobs.size() - 1).size());
      for (size_t i = 0; i < parts->blobs.size(); ++i) {
        const Descriptor& d = parts->blobs[i];
        std::string index = std::to_string(i);
        if (index.size() < width) index.insert(0, width - index.size(), '0');
        addFile(layers, index + "-" + d.digest.hex() + layerFileExtension(d.mediaType), d.digest,
                d.mediaType);
      }
    }
    if (!parts->children.empty()) {
      std::string platformsPath = dirPath + "/platforms";
      uint64_t platforms = ensureDirectory(platformsPath);
      nodeAt(platforms).mtime = blob->mtime;
      std::vector<std::string> names = platformEntryNames(parts->children);
      for (size_t i = 0; i < parts->children.size(); ++i) {
        addSymlink(platformsPath, names[i], "../../" + manifestDirName(parts->children[i].digest),
                   blob->mtime);
      }
    }
  }

  std::optional<BlobInfo> statBlob(const Digest& digest) {
    cache_.usedBlobs.insert(digest);
    if (auto it = cache_.blobs.find(digest); it != cache_.blobs.end()) return it->second;
    auto info = store_.statBlob(digest);
    if (info) cache_.blobs.emplace(digest, *info);
    return info;
  }

  std::shared_ptr<const ManifestParts> manifestParts(const Digest& digest) {
    cache_.usedManifests.insert(digest);
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

  // Sorts every directory, counts subdirectories, and gives namespace and repository
  // directories the newest mtime below them (children first, so it propagates up).
  void finishDirectories() { finish(kRootIno); }

  timespec finish(uint64_t ino) {
    Node& dir = nodeAt(ino);
    std::sort(dir.children.begin(), dir.children.end());
    uint32_t subdirs = 0;
    timespec newest = dir.mtime;
    // `dir` stays valid: finishing children only modifies other nodes' fields.
    for (const auto& [name, childIno] : dir.children) {
      Node& c = nodeAt(childIno);
      timespec m = c.mtime;
      if (c.kind == NodeKind::kDirectory) {
        ++subdirs;
        m = finish(childIno);
      }
      if (newer(m, newest)) newest = m;
    }
    dir.nlink = 2 + subdirs;
    dir.mtime = newest;
    return newest;
  }

  const Store& store_;
  View::Cache& cache_;
  std::shared_ptr<Snapshot> snapshot_;
};

// ---------------------------------------------------------------------------------------
// View

View::View(Store store, ViewOptions options)
    : store_(std::move(store)), options_(options), cache_(std::make_unique<Cache>()) {
  if (options_.background) refresher_ = std::thread([this] { refreshLoop(); });
}

View::~View() {
  if (refresher_.joinable()) {
    {
      std::lock_guard lock(currentMutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    refresher_.join();
  }
}

void View::refreshLoop() {
  auto lastTook = std::chrono::steady_clock::duration::zero();
  while (true) {
    {
      std::unique_lock lock(currentMutex_);
      wake_.wait(lock, [&] { return refreshWanted_ || stopping_; });
      if (stopping_) return;
    }
    // Rest as long as the last rebuild took: at most half the time goes to rebuilding.
    std::this_thread::sleep_for(lastTook);
    auto started = std::chrono::steady_clock::now();
    try {
      refresh();
    } catch (const std::exception&) {
      // The store failed mid-walk; the previous snapshot stays and the next access retries.
    }
    lastTook = std::chrono::steady_clock::now() - started;
    std::lock_guard lock(currentMutex_);
    refreshWanted_ = false;
  }
}

std::shared_ptr<const Snapshot> View::snapshot() {
  std::shared_ptr<const Snapshot> current;
  auto fresh = [&] { return std::chrono::steady_clock::now() - builtAt_ < options_.maxAge; };
  {
    std::lock_guard lock(currentMutex_);
    if (current_ && fresh()) return current_;
    current = current_;
    if (current && options_.background) {
      if (!refreshWanted_) {
        refreshWanted_ = true;
        wake_.notify_one();
      }
      return current;
    }
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
  return rebuildLocked();
}

std::shared_ptr<const Snapshot> View::refresh() {
  std::lock_guard rebuild(rebuildMutex_);
  return rebuildLocked();
}

std::shared_ptr<const Snapshot> View::rebuildLocked() {
  auto started = std::chrono::steady_clock::now();
  cache_->startRound();
  std::shared_ptr<Snapshot> fresh = SnapshotBuilder(store_, *cache_).build();
  fresh->builtAt_ = started;
  cache_->endRound();
  std::lock_guard lock(currentMutex_);
  current_ = fresh;
  builtAt_ = started;
  return fresh;
}

}  // namespace regfs::view
