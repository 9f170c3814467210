#include "common/layout.h"

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

std::string blobDir(const Digest& d) {
  return join(join(blobAlgorithmDir(d.algorithm()), d.hex().substr(0, 2)), d.hex());
}

std::string blobData(const Digest& d) { return join(blobDir(d), kDataFile); }

std::string healthProbeFile() { return v2Root() + "/_regfs_health"; }
std::string repositoriesRoot() { return v2Root() + "/repositories"; }
std::string repositoryDir(std::string_view name) { return join(repositoriesRoot(), name); }
std::string repositoryDir(const RepoName& repo) { return repositoryDir(repo.str()); }
std::string manifestsDir(const RepoName& repo) { return join(repositoryDir(repo), kManifestsDir); }

std::string layersDir(const RepoName& repo, DigestAlgorithm algorithm) {
  return join(repositoryDir(repo), join("_layers", digestAlgorithmName(algorithm)));
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

std::string tagIndexLink(const RepoName& repo, const Tag& tag, const Digest& d) {
  return join(join(join(tagDir(repo, tag), "index"), digestDirs(d)), kLinkFile);
}

std::string uploadsDir(const RepoName& repo) { return join(repositoryDir(repo), "_uploads"); }
std::string uploadDir(const RepoName& repo, std::string_view uuid) {
  return join(uploadsDir(repo), uuid);
}
std::string uploadData(const RepoName& repo, std::string_view uuid) {
  return join(uploadDir(repo, uuid), kDataFile);
}
std::string uploadStartedAt(const RepoName& repo, std::string_view uuid) {
  return join(uploadDir(repo, uuid), "startedat");
}

std::string referrersDir(const RepoName& repo, const Digest& subject, DigestAlgorithm algorithm) {
  return join(join(join(repositoryDir(repo), "_referrers"), digestDirs(subject)),
              digestAlgorithmName(algorithm));
}

std::string referrerLink(const RepoName& repo, const Digest& subject, const Digest& referrer) {
  return join(join(referrersDir(repo, subject, referrer.algorithm()), referrer.hex()), kLinkFile);
}

std::string quarantineDir() { return v2Root() + "/_quarantine"; }

std::string quarantineEntry(const Digest& d) { return join(quarantineDir(), digestDirs(d)); }

std::string parentPath(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

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

}  // namespace regfs::layout
