#include "common/store/layout.h"

#include <algorithm>

namespace regfs::layout {
namespace {

std::string join(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(a.size() + 1 + b.size());
  out += a;
  out += '/';
  out += b;
  return out;
}

// "<alg>/<hex>", the way distribution splits a digest into two directories.
std::string digestDirs(const Digest& d) { return join(d.algorithmName(), d.hex()); }

}  // namespace

std::string v2Root() { return "/docker/registry/v2"; }
std::string blobsRoot() { return v2Root() + "/blobs"; }

std::string blobAlgorithmDir(DigestAlgorithm algorithm) {
  return join(blobsRoot(), digestAlgorithmName(algorithm));
}

std::string blobPrefixDir(DigestAlgorithm algorithm, std::string_view prefix) {
  return join(blobAlgorithmDir(algorithm), prefix);
}

std::string blobDir(const Digest& d) {
  return join(blobPrefixDir(d.algorithm(), d.hex().substr(0, 2)), d.hex());
}

std::string blobData(const Digest& d) { return join(blobDir(d), kDataFile); }

std::string healthProbeFile() { return v2Root() + "/_regfs_health"; }
std::string repositoriesRoot() { return v2Root() + "/repositories"; }
std::string repositoryDir(std::string_view name) { return join(repositoriesRoot(), name); }
std::string repositoryDir(const RepoName& repo) { return repositoryDir(repo.str()); }
std::string manifestsDir(const RepoName& repo) { return join(repositoryDir(repo), kManifestsDir); }

std::optional<PathInRepositories> splitRepositoryPath(std::string_view path) {
  std::string root = repositoriesRoot() + "/";
  if (!path.starts_with(root) || path.size() == root.size()) return std::nullopt;
  path.remove_prefix(root.size());
  // The name ends before the first component that starts with '_'.
  size_t end = path.starts_with('_') ? 0 : path.find("/_");
  if (end == 0) return std::nullopt;
  if (end == std::string_view::npos) return PathInRepositories{std::string(path), ""};
  return PathInRepositories{std::string(path.substr(0, end)), std::string(path.substr(end + 1))};
}

std::string layersDir(const RepoName& repo, DigestAlgorithm algorithm) {
  return join(repositoryDir(repo), join(kLayersDir, digestAlgorithmName(algorithm)));
}

std::string layerLink(const RepoName& repo, const Digest& d) {
  return join(join(layersDir(repo, d.algorithm()), d.hex()), kLinkFile);
}

std::string revisionsDir(const RepoName& repo, DigestAlgorithm algorithm) {
  return join(manifestsDir(repo), join("revisions", digestAlgorithmName(algorithm)));
}

std::string revisionLink(const RepoName& repo, const Digest& d) {
  return join(join(revisionsDir(repo, d.algorithm()), d.hex()), kLinkFile);
}

std::string tagsDir(const RepoName& repo) { return join(manifestsDir(repo), "tags"); }
std::string tagDir(const RepoName& repo, const Tag& tag) { return join(tagsDir(repo), tag.str()); }

std::string tagCurrentLink(const RepoName& repo, const Tag& tag) {
  return join(join(tagDir(repo, tag), "current"), kLinkFile);
}

std::string tagIndexDir(const RepoName& repo, const Tag& tag, DigestAlgorithm algorithm) {
  return join(join(tagDir(repo, tag), "index"), digestAlgorithmName(algorithm));
}

std::string tagIndexLink(const RepoName& repo, const Tag& tag, const Digest& d) {
  return join(join(tagIndexDir(repo, tag, d.algorithm()), d.hex()), kLinkFile);
}

std::string mirrorDir(const RepoName& repo) { return join(repositoryDir(repo), kMirrorDir); }

std::string mirrorTagRecord(const RepoName& repo, const Tag& tag) {
  return join(join(mirrorDir(repo), "tags"), tag.str());
}

std::string mirrorManifestRecord(const RepoName& repo, const Digest& digest) {
  return join(join(mirrorDir(repo), "manifests"), digestDirs(digest));
}

std::string mirrorLayerRecord(const RepoName& repo, const Digest& digest) {
  return join(join(mirrorDir(repo), "layers"), digestDirs(digest));
}

std::string uploadsDir(const RepoName& repo) { return join(repositoryDir(repo), kUploadsDir); }
std::string uploadDir(const RepoName& repo, std::string_view uuid) {
  return join(uploadsDir(repo), uuid);
}
std::string uploadData(const RepoName& repo, std::string_view uuid) {
  return join(uploadDir(repo, uuid), kDataFile);
}
std::string uploadStartedAt(const RepoName& repo, std::string_view uuid) {
  return join(uploadDir(repo, uuid), "startedat");
}
std::string uploadWriter(const RepoName& repo, std::string_view uuid) {
  return join(uploadDir(repo, uuid), "_regfs_writer");
}

std::string referrersDir(const RepoName& repo, const Digest& subject, DigestAlgorithm algorithm) {
  return join(join(join(repositoryDir(repo), kReferrersDir), digestDirs(subject)),
              digestAlgorithmName(algorithm));
}

std::string referrerLink(const RepoName& repo, const Digest& subject, const Digest& referrer) {
  return join(join(referrersDir(repo, subject, referrer.algorithm()), referrer.hex()), kLinkFile);
}

std::string repositoryDeleteFence(const RepoName& repo) {
  return join(repositoryDir(repo), "_regfs_deleting");
}
std::string repositoryLayersDir(const RepoName& repo) {
  return join(repositoryDir(repo), kLayersDir);
}
std::string repositoryReferrersDir(const RepoName& repo) {
  return join(repositoryDir(repo), kReferrersDir);
}

std::string gcLease() { return v2Root() + "/_regfs_gc_lease"; }

std::string quarantineDir() { return join(v2Root(), kQuarantineDir); }

std::string quarantineAlgorithmDir(DigestAlgorithm algorithm) {
  return join(quarantineDir(), digestAlgorithmName(algorithm));
}

std::string quarantineEntry(const Digest& d) { return join(quarantineDir(), digestDirs(d)); }

std::string quarantineData(const Digest& d) { return join(quarantineEntry(d), kDataFile); }

std::string layerIndexRoot() { return join(v2Root(), kLayerIndexDir); }

std::string layerIndexAlgorithmDir(DigestAlgorithm algorithm) {
  return join(layerIndexRoot(), digestAlgorithmName(algorithm));
}

std::string layerIndexDir(const Digest& d) {
  return join(join(layerIndexAlgorithmDir(d.algorithm()), d.hex().substr(0, 2)), d.hex());
}

std::string layerIndexFile(const Digest& d) { return join(layerIndexDir(d), "index"); }

bool isValidUploadId(std::string_view uuid) {
  if (uuid.empty() || uuid.size() > 128) return false;
  return std::all_of(uuid.begin(), uuid.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::optional<Digest> digestFromDirNames(DigestAlgorithm algorithm, std::string_view hex) {
  std::string text(digestAlgorithmName(algorithm));
  text += ':';
  text += hex;
  return Digest::tryParse(text);
}

StoreFile classifyFile(std::string_view path) {
  StoreFile file;
  const std::string root = v2Root();
  if (!path.starts_with(root) || path.size() <= root.size() || path[root.size()] != '/')
    return file;
  std::vector<std::string_view> parts;
  for (std::string_view rest = path.substr(root.size() + 1); !rest.empty();) {
    size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  auto digestAt = [&](size_t alg, size_t hex) {
    return Digest::tryParse(std::string(parts[alg]) + ":" + std::string(parts[hex]));
  };
  auto shape = [&](size_t from, std::initializer_list<std::string_view> tail) {
    if (parts.size() != from + tail.size()) return false;
    size_t i = from;
    for (std::string_view t : tail) {
      if (!t.empty() && parts[i] != t) return false;
      ++i;
    }
    return true;
  };
  using Kind = StoreFile::Kind;
  if (shape(0, {"blobs", "", "", "", kDataFile})) {
    file.digest = digestAt(1, 3);
    if (file.digest && file.digest->hex().substr(0, 2) == parts[2]) file.kind = Kind::kBlobData;
    return file;
  }
  if (shape(0, {kQuarantineDir, "", "", kDataFile})) {
    file.digest = digestAt(1, 2);
    if (file.digest) file.kind = Kind::kQuarantinedData;
    return file;
  }
  if (shape(0, {kLayerIndexDir, "", "", "", "index"})) {
    file.digest = digestAt(1, 3);
    if (file.digest && file.digest->hex().substr(0, 2) == parts[2]) file.kind = Kind::kLayerIndex;
    return file;
  }
  if (parts[0] != "repositories") return file;
  // The repository's name: the components before the first "_" one.
  size_t i = 1;
  while (i < parts.size() && !parts[i].starts_with('_')) ++i;
  if (i == 1 || i == parts.size()) return file;
  if (parts[i] != kManifestsDir && parts[i] != kLayersDir && parts[i] != kUploadsDir) return file;
  std::string name(parts[1]);
  for (size_t j = 2; j < i; ++j) name += "/" + std::string(parts[j]);
  file.repository = RepoName::tryParse(name);
  if (!file.repository) return file;
  file.kind = Kind::kRepositoryData;
  if (shape(i, {kLayersDir, "", "", kLinkFile})) {
    file.digest = digestAt(i + 1, i + 2);
    if (file.digest) file.kind = Kind::kLayerLink;
  } else if (shape(i, {kManifestsDir, "revisions", "", "", kLinkFile})) {
    file.digest = digestAt(i + 2, i + 3);
    if (file.digest) file.kind = Kind::kRevisionLink;
  } else if (shape(i, {kManifestsDir, "tags", "", "current", kLinkFile})) {
    file.tag = Tag::tryParse(parts[i + 2]);
    if (file.tag) file.kind = Kind::kTagCurrentLink;
  } else if (shape(i, {kManifestsDir, "tags", "", "index", "", "", kLinkFile})) {
    file.tag = Tag::tryParse(parts[i + 2]);
    file.digest = digestAt(i + 4, i + 5);
    if (file.tag && file.digest) file.kind = Kind::kTagIndexLink;
  }
  return file;
}

}  // namespace regfs::layout
