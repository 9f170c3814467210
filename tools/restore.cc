// regfsctl restore BACKUP_DIR ROOT
// Turns a copy of the mounted view (rsync -aH MOUNT/ BACKUP_DIR/) back into a store:
// blobs, revisions, layer links and tags (from the tag symlinks). Every file is hashed
// and must match its digest; the first one that does not is named and nothing is
// written. ROOT is a rootdirectory or a config.yml naming one, as for the other commands;
// that directory must not exist or be empty: the store is built in a sibling directory
// and renamed into place only when complete, so there is never a half store there.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/error.h"
#include "common/manifest.h"
#include "common/names.h"
#include "common/store/store.h"
#include "common/unique_fd.h"
#include "common/view/names.h"
#include "tools/command.h"

namespace regfs::tools {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunk = 1 << 20;

// A bad argument (exit status 2).
[[noreturn]] void refuse(const std::string& message) {
  throw Error(ErrorKind::kInvalidArgument, message);
}

// A backup whose content is not what the view wrote: a file that does not match the digest
// naming it, or one the view never holds (exit status 65, a data error).
[[noreturn]] void badBackup(const std::string& message) {
  throw Error(ErrorKind::kDigestInvalid, message);
}

struct ManifestDir {
  RepoName repo;
  Digest digest;
  fs::path dir;
  std::string bytes;
  std::optional<Manifest> parsed;
  std::vector<std::pair<Digest, fs::path>> blobs;  // config and layers, as verified
};

struct TagLink {
  RepoName repo;
  Tag tag;
  Digest target;
  fs::path path;
};

struct Backup {
  std::vector<ManifestDir> manifests;
  std::vector<TagLink> tags;
};

// Streams `path` through `fn` in chunks.
void forEachChunk(const fs::path& path, const std::function<void(const char*, size_t)>& fn) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throwErrno("open", path.string(), errno);
  std::vector<char> buf(kChunk);
  while (true) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("read", path.string(), errno);
    }
    if (n == 0) break;
    fn(buf.data(), static_cast<size_t>(n));
  }
}

// Hashes files once per inode: hard links in the backup are the same blob.
class Verifier {
 public:
  void verify(const fs::path& path, const Digest& expected) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) throwErrno("stat", path.string(), errno);
    if (!S_ISREG(st.st_mode))
      badBackup("corrupted backup: " + path.string() + " is not a regular file");
    auto key = std::make_pair(st.st_dev, st.st_ino);
    if (auto it = seen_.find(key); it != seen_.end()) {
      if (it->second != expected)
        badBackup("corrupted backup: " + path.string() + " is " + it->second.str() + ", expected " +
                  expected.str());
      return;
    }
    Hasher hasher(expected.algorithm());
    forEachChunk(path, [&](const char* p, size_t n) { hasher.update(p, n); });
    Digest actual = hasher.digest();
    if (actual != expected) {
      badBackup("corrupted backup: " + path.string() + " has digest " + actual.str() +
                ", expected " + expected.str());
    }
    seen_.emplace(key, actual);
  }

 private:
  std::map<std::pair<dev_t, ino_t>, Digest> seen_;
};

std::vector<fs::directory_entry> sortedEntries(const fs::path& dir) {
  std::vector<fs::directory_entry> out{fs::directory_iterator(dir), fs::directory_iterator()};
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.path() < b.path(); });
  return out;
}

// The view's layout: namespace and repository directories; in a repository, tag symlinks
// ("<tag>" or "@tag:<tag>" -> "@<digest>") and manifest directories ("@<digest>").
void scan(const fs::path& dir, const std::string& repoPath, Backup& backup) {
  for (const fs::directory_entry& e : sortedEntries(dir)) {
    std::string name = e.path().filename().string();
    if (e.is_symlink()) {
      auto repo = RepoName::tryParse(repoPath);
      auto tag = Tag::tryParse(view_names::tagOfEntry(name));
      std::string target = fs::read_symlink(e.path()).string();
      auto digest = view_names::manifestDirDigest(target);
      if (!repo || !tag || !digest)
        badBackup("not a tag of the view: " + e.path().string() + " -> " + target);
      backup.tags.push_back({*repo, *tag, *digest, e.path()});
    } else if (e.is_directory() && name.starts_with(view_names::kManifestDirPrefix)) {
      auto repo = RepoName::tryParse(repoPath);
      auto digest = view_names::manifestDirDigest(name);
      if (!repo || !digest) badBackup("not a manifest directory of the view: " + e.path().string());
      backup.manifests.push_back({*repo, *digest, e.path(), {}, {}, {}});
    } else if (e.is_directory()) {
      std::string child = repoPath.empty() ? name : repoPath + "/" + name;
      if (!RepoName::tryParse(child)) badBackup("not a repository name: " + e.path().string());
      scan(e.path(), child, backup);
    } else {
      badBackup("unexpected file in the backup: " + e.path().string());
    }
  }
}

// Reads and checks one manifest directory: manifest.json has the directory's digest, and
// every config and layer file has a digest the manifest lists (and, for a manifest regfs
// can parse, every blob it lists is there).
void verifyManifestDir(ManifestDir& m, Verifier& verifier) {
  fs::path manifestFile = m.dir / view_names::kManifestFile;
  if (!fs::is_regular_file(manifestFile))
    badBackup("incomplete backup: " + manifestFile.string() + " is missing");
  forEachChunk(manifestFile, [&](const char* p, size_t n) { m.bytes.append(p, n); });
  Digest actual = Digest::of(m.bytes, m.digest.algorithm());
  if (actual != m.digest) {
    badBackup("corrupted backup: " + manifestFile.string() + " has digest " + actual.str() +
              ", expected " + m.digest.str());
  }
  try {
    m.parsed = parseStoredManifest(m.bytes);
  } catch (const Error& e) {
    // Not a manifest regfs understands: its files are still checked by their digests.
    if (!isManifestParseError(e.kind())) throw;
  }
  auto listed = [&](const Digest& d) { return m.bytes.find(d.str()) != std::string::npos; };

  std::map<Digest, fs::path> found;
  fs::path config = m.dir / view_names::kConfigFile;
  if (fs::exists(config)) {
    std::optional<Digest> want =
        m.parsed && m.parsed->config ? std::optional(m.parsed->config->digest) : std::nullopt;
    if (!want) {
      // Only a lenient reading knows the config; its digest is in the bytes somewhere.
      Hasher h;
      forEachChunk(config, [&](const char* p, size_t n) { h.update(p, n); });
      if (!listed(h.digest()))
        badBackup("corrupted backup: " + config.string() + " is not listed by its manifest");
      want = h.digest();
    }
    verifier.verify(config, *want);
    found.emplace(*want, config);
  }
  fs::path layers = m.dir / view_names::kLayersDir;
  if (fs::is_directory(layers)) {
    for (const fs::directory_entry& e : sortedEntries(layers)) {
      auto d = view_names::layerFileDigest(e.path().filename().string(), m.digest.algorithm());
      if (!d) badBackup("not a layer file of the view: " + e.path().string());
      if (!listed(*d))
        badBackup("corrupted backup: " + e.path().string() + " is not listed by its manifest");
      verifier.verify(e.path(), *d);
      found.emplace(*d, e.path());
    }
  }
  if (m.parsed) {
    for (const Descriptor& d : m.parsed->blobReferences()) {
      if (!found.contains(d.digest)) {
        badBackup("incomplete backup: " + m.dir.string() + " lacks blob " + d.digest.str());
      }
    }
  }
  for (auto& [d, p] : found) m.blobs.emplace_back(d, p);
}

// Streams a verified file into the store through an upload session (hashing again what is
// actually written) and links it into `repo`.
void restoreBlob(Store& store, Repository& repo, const Digest& digest, const fs::path& path) {
  if (store.statBlob(digest)) {
    repo.linkLayer(digest);
    return;
  }
  std::string uuid = repo.startUpload();
  Hasher hasher(digest.algorithm());
  {
    UploadWriter writer = repo.openUpload(uuid, 0);
    forEachChunk(path, [&](const char* p, size_t n) {
      writer.write(p, n);
      hasher.update(p, n);
    });
    writer.sync();
  }
  repo.commitUpload(uuid, digest, hasher.digest());
}

// Removes the directory tree unless committed.
class TempTree {
 public:
  explicit TempTree(fs::path path) : path_(std::move(path)) {}
  ~TempTree() {
    if (!committed_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const fs::path& path() const { return path_; }
  void commit() { committed_ = true; }

 private:
  fs::path path_;
  bool committed_ = false;
};

void fsyncDir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) throwErrno("fsync", dir.string(), errno);
}

int runRestore(const std::string& backupArg, const std::string& rootArg) {
  fs::path backup = backupArg;
  fs::path named = newStoreRoot(rootArg);  // ROOT itself, or the rootdirectory of its config
  fs::path root = fs::absolute(named).lexically_normal();
  if (root.filename().empty()) root = root.parent_path();
  if (!fs::is_directory(backup)) refuse(backupArg + ": not a directory");
  bool rootExists = fs::exists(root);
  if (rootExists && (!fs::is_directory(root) || !fs::is_empty(root))) {
    refuse(named.string() +
           ": exists and is not empty; restore only into a new or empty directory");
  }

  // Read and verify everything before writing anything.
  Backup b;
  scan(backup, "", b);
  Verifier verifier;
  std::set<std::pair<std::string, Digest>> revisions;
  for (ManifestDir& m : b.manifests) {
    verifyManifestDir(m, verifier);
    revisions.emplace(m.repo.str(), m.digest);
  }
  for (const TagLink& t : b.tags) {
    if (!revisions.contains({t.repo.str(), t.target})) {
      badBackup("incomplete backup: tag " + t.path.string() + " points at " + t.target.str() +
                ", which the backup does not hold");
    }
  }

  std::random_device rd;
  TempTree temp(root.parent_path() /
                (".regfs-restore-" + root.filename().string() + "-" + std::to_string(rd())));
  fs::create_directories(temp.path());
  Store store = Store::openLocal(temp.path());
  for (const ManifestDir& m : b.manifests) {
    Repository repo = store.repository(m.repo);
    for (const auto& [digest, path] : m.blobs) restoreBlob(store, repo, digest, path);
    repo.putManifest(m.bytes);
  }
  for (const TagLink& t : b.tags) store.repository(t.repo).putTag(t.tag, t.target);

  if (rootExists) fs::remove(root);  // empty, checked above
  fs::rename(temp.path(), root);
  temp.commit();
  fsyncDir(root.parent_path());
  std::printf("restored %zu manifests and %zu tags into %s\n", b.manifests.size(), b.tags.size(),
              root.c_str());
  return 0;
}

}  // namespace

// Declares "restore" with its arguments and run function.
void addRestoreCommand(Commands& commands) {
  auto backup = std::make_shared<std::string>();
  auto root = std::make_shared<std::string>();
  Command cmd = commands.add(
      "restore",
      "turn an rsync -aH copy of the mounted view back into a store at ROOT (new or empty)",
      [backup, root] { return runRestore(*backup, *root); });
  cmd.required("BACKUP_DIR", *backup, "the copy of the view");
  cmd.required("ROOT", *root,
               "the new store: a rootdirectory that does not exist or is empty, or a config.yml "
               "naming one");
}

}  // namespace regfs::tools
