#include "support/store_check.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "common/digest.h"
#include "common/error.h"
#include "common/layers/layer_index.h"
#include "common/manifest.h"
#include "common/names.h"
#include "common/store/store.h"
#include "support/process.h"

namespace regfs::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> components(const fs::path& relative) {
  std::vector<std::string> out;
  for (const auto& part : relative) out.push_back(part.string());
  return out;
}

std::optional<DigestAlgorithm> algorithmNamed(const std::string& name) {
  if (name == "sha256") return DigestAlgorithm::kSha256;
  if (name == "sha512") return DigestAlgorithm::kSha512;
  return std::nullopt;
}

// The digest a link's directory names ("<alg>/<hex>/link"), if it is that kind of link.
std::optional<Digest> digestNamedByDirs(const std::vector<std::string>& parts) {
  if (parts.size() < 3) return std::nullopt;
  const std::string& alg = parts[parts.size() - 3];
  if (!algorithmNamed(alg)) return std::nullopt;
  return Digest::tryParse(alg + ":" + parts[parts.size() - 2]);
}

class Checker {
 public:
  Checker(const fs::path& root, std::map<std::string, std::string>& verified)
      : root_(root), v2_(root / "docker/registry/v2"), verified_(verified) {}

  StoreReport run() {
    if (fs::exists(v2_)) {
      walkFiles();
      walkStore();
    }
    return std::move(report_);
  }

 private:
  void problem(const std::string& what) { report_.problems.push_back(what); }

  void walkFiles() {
    std::set<fs::path> uploadDirs;
    for (auto it = fs::recursive_directory_iterator(v2_); it != fs::recursive_directory_iterator();
         ++it) {
      if (it->is_symlink()) {
        problem("symlink in the store: " + rel(it->path()));
        continue;
      }
      if (!it->is_regular_file()) continue;
      const fs::path& path = it->path();
      std::string name = path.filename().string();
      std::vector<std::string> parts = components(fs::relative(path, v2_));
      if (name.rfind(".regfs-tmp-", 0) == 0) {
        // Under _layer_index/: the server's background indexer writing one (layer_indexer.h),
        // not a request's leftover.
        if (parts[0] != "_layer_index") report_.tempFiles++;
        continue;
      }
      auto uploads = std::find(parts.begin(), parts.end(), "_uploads");
      if (parts[0] == "repositories" && uploads != parts.end()) {
        // _regfs_writer: a request was writing the session (a crash leaves it).
        if (uploads + 3 == parts.end() &&
            (name == "data" || name == "startedat" || name == "_regfs_writer")) {
          uploadDirs.insert(path.parent_path());
        } else {
          problem("unexpected file among uploads: " + rel(path));
        }
        continue;
      }
      if (parts[0] == "blobs") {
        checkBlobFile(path, parts);
      } else if (parts[0] == "_layer_index") {
        checkLayerIndexFile(path, parts);
      } else if (parts[0] == "repositories" && name == "link") {
        checkLinkFile(path, parts);
      } else {
        problem("unexpected file: " + rel(path));
      }
    }
    report_.uploads = uploadDirs.size();
  }

  // _layer_index/<alg>/<hh>/<hex>/index: the contents index of a blob of the store, written
  // whole (the server builds them after pushes; common/layers/layer_index.h).
  void checkLayerIndexFile(const fs::path& path, const std::vector<std::string>& parts) {
    auto alg = parts.size() == 5 ? algorithmNamed(parts[1]) : std::nullopt;
    auto digest = alg ? Digest::tryParse(parts[1] + ":" + parts[3]) : std::nullopt;
    if (!digest || parts[4] != "index" || parts[2] != parts[3].substr(0, 2)) {
      problem("unexpected file among layer indexes: " + rel(path));
      return;
    }
    ++report_.layerIndexes;
    if (!fs::exists(v2_ / "blobs" / parts[1] / parts[2] / parts[3] / "data"))
      problem("layer index of a blob that is not there: " + rel(path));
    try {
      layers::decodeIndex(readFile(path), *digest);
    } catch (const Error& e) {
      problem("layer index that is not whole: " + rel(path) + ": " + e.what());
    }
  }

  void checkBlobFile(const fs::path& path, const std::vector<std::string>& parts) {
    // blobs/<alg>/<hh>/<hex>/data
    auto alg = parts.size() == 5 ? algorithmNamed(parts[1]) : std::nullopt;
    auto digest = alg ? Digest::tryParse(parts[1] + ":" + parts[3]) : std::nullopt;
    if (!digest || parts[4] != "data" || parts[2] != parts[3].substr(0, 2)) {
      problem("unexpected file among blobs: " + rel(path));
      return;
    }
    report_.blobs++;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      problem("blob " + digest->str() + " vanished during the check");
      return;
    }
    std::string identity = std::to_string(st.st_ino) + " " + std::to_string(st.st_size) + " " +
                           std::to_string(st.st_mtim.tv_sec) + "." +
                           std::to_string(st.st_mtim.tv_nsec);
    auto known = verified_.find(path.string());
    if (known != verified_.end() && known->second == identity) return;
    std::string bytes = readFile(path);
    Digest actual = Digest::of(bytes, *alg);
    if (actual != *digest) {
      problem("blob " + digest->str() + " holds " + std::to_string(bytes.size()) +
              " bytes hashing to " + actual.str() +
              (bytes.empty() ? " (empty: torn write)" : " (torn or corrupt)"));
      return;
    }
    verified_[path.string()] = identity;
  }

  void checkLinkFile(const fs::path& path, const std::vector<std::string>& parts) {
    std::string bytes = readFile(path);
    auto digest = Digest::tryParse(bytes);
    if (!digest || digest->str() != bytes) {
      problem("link " + rel(path) + " holds " + std::to_string(bytes.size()) +
              " bytes that are not a digest" +
              (bytes.empty() ? " (empty: torn write)" : ": \"" + bytes.substr(0, 80) + "\""));
      return;
    }
    bool current = parts.size() >= 2 && parts[parts.size() - 2] == "current";
    if (current) return;
    auto named = digestNamedByDirs(parts);
    if (!named) {
      problem("link in an unexpected place: " + rel(path));
    } else if (*named != *digest) {
      problem("link " + rel(path) + " names " + digest->str() +
              ", not the digest of its directory");
    }
  }

  void walkStore() {
    Store store = Store::openLocal(root_);
    for (const std::string& name : store.catalog(1u << 20)) {
      report_.repositories++;
      Repository repo = store.repository(RepoName::parse(name));
      try {
        checkRepository(store, repo);
      } catch (const std::exception& e) {
        problem("repository " + name + ": " + e.what());
      }
    }
  }

  void checkRepository(Store& store, Repository& repo) {
    const std::string& name = repo.name().str();
    std::set<Digest> revisions;
    for (const Digest& d : repo.listManifests()) revisions.insert(d);
    for (const Digest& d : repo.listLayers()) {
      if (!store.statBlob(d)) problem(name + ": layer link to missing blob " + d.str());
    }
    for (const Digest& d : revisions) {
      report_.manifests++;
      if (!store.statBlob(d)) {
        problem(name + ": revision " + d.str() + " whose blob is missing");
        continue;
      }
      std::optional<Manifest> manifest;
      try {
        manifest = parseStoredManifest(store.readBlob(d));
      } catch (const Error& e) {
        problem(name + ": revision " + d.str() + " does not parse: " + e.what());
        continue;
      }
      for (const Descriptor& blob : manifest->requiredBlobs()) {
        if (!repo.hasLayer(blob.digest)) {
          problem(name + ": manifest " + d.str() + " needs " + blob.digest.str() + ", not linked");
        } else if (!store.statBlob(blob.digest)) {
          problem(name + ": manifest " + d.str() + " needs " + blob.digest.str() + ", missing");
        }
      }
      for (const Descriptor& child : manifest->manifestReferences()) {
        if (!revisions.count(child.digest)) {
          problem(name + ": index " + d.str() + " names " + child.digest.str() +
                  ", not a revision");
        }
      }
    }
    for (const Tag& tag : repo.listTags()) {
      report_.tags++;
      auto target = repo.resolveTag(tag);
      if (!target) {
        problem(name + ":" + tag.str() + " has no readable current link");
      } else if (!revisions.count(*target)) {
        problem(name + ":" + tag.str() + " points at " + target->str() + ", not a revision");
      }
    }
  }

  std::string rel(const fs::path& p) const { return fs::relative(p, root_).string(); }

  fs::path root_;
  fs::path v2_;
  std::map<std::string, std::string>& verified_;
  StoreReport report_;
};

}  // namespace

std::string StoreReport::describe() const {
  std::ostringstream out;
  out << problems.size() << " problem(s) in a store of " << blobs << " blobs, " << repositories
      << " repositories, " << manifests << " manifests, " << tags << " tags";
  for (const std::string& p : problems) out << "\n  " << p;
  return out.str();
}

StoreReport StoreChecker::check() { return Checker(root_, verified_).run(); }

std::string listTree(const std::filesystem::path& dir) {
  std::vector<std::string> lines;
  std::error_code ec;
  for (auto it =
           fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) {
      lines.push_back(fs::relative(it->path(), dir).string() + " " +
                      std::to_string(it->file_size(ec)));
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

CommandResult runFsck(const std::filesystem::path& rootdirectory,
                      const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {(binDir() / "regfsctl").string(), "fsck", rootdirectory.string(),
                                   "--grace", "0s"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv);
}

}  // namespace regfs::testing
