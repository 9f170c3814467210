#include "common/store/repository_delete.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "common/error.h"
#include "common/store/layout.h"
#include "common/store/lease.h"

namespace regfs {
namespace {

// How often a push waiting for a delete to end looks at the fence again.
constexpr std::chrono::milliseconds kFencePoll{100};
// Rounds of a push's confirmation that may outlast the settle before it gives up.
constexpr int kMaxSlowRounds = 5;

Lease fenceOf(const Store& store, const RepoName& name, std::string holder) {
  return Lease(store.driverPtr(), layout::repositoryDeleteFence(name), std::move(holder));
}

// Every "<subject alg>/<hex>/<referrer alg>/<hex>/link" under the repository's _referrers.
std::vector<std::pair<Digest, Digest>> listReferrerLinks(const Store& store, const RepoName& name) {
  std::vector<std::pair<Digest, Digest>> out;
  std::string root = layout::repositoryReferrersDir(name) + "/";
  for (const auto& [path, info] : store.driver().listTree(layout::repositoryReferrersDir(name))) {
    if (path.compare(0, root.size(), root) != 0) continue;
    std::vector<std::string_view> parts;
    std::string_view rest = std::string_view(path).substr(root.size());
    for (size_t slash; (slash = rest.find('/')) != std::string_view::npos;) {
      parts.push_back(rest.substr(0, slash));
      rest.remove_prefix(slash + 1);
    }
    if (parts.size() != 4 || rest != layout::kLinkFile) continue;
    std::optional<Digest> subject, referrer;
    for (DigestAlgorithm a : kDigestAlgorithms) {
      if (parts[0] == digestAlgorithmName(a)) subject = layout::digestFromDirNames(a, parts[1]);
      if (parts[2] == digestAlgorithmName(a)) referrer = layout::digestFromDirNames(a, parts[3]);
    }
    if (subject && referrer) out.emplace_back(*subject, *referrer);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Removes the repository's directory and then each parent's, up to repositories/, while
// they are empty: a nested repository, or a push that began meanwhile, keeps its own.
void removeEmptyDirectories(StorageDriver& driver, const RepoName& name) {
  std::string dir = layout::repositoryDir(name);
  std::string root = layout::repositoriesRoot();
  while (dir.size() > root.size() && driver.removeEmptyDirectory(dir)) dir = parentPath(dir);
}

// The fence, taken as a lease: one delete of a repository at a time.
LeaseRecord raiseFence(Lease& fence, const RepoName& name, std::chrono::milliseconds settle) {
  auto claim = fence.claim(std::chrono::system_clock::now(), kRepositoryDeleteFenceTtl);
  if (claim) {
    std::this_thread::sleep_for(settle);
    if (fence.confirm(*claim)) return *claim;
  }
  std::string by = "another delete";
  if (auto current = fence.read()) by = current->holder;
  throw Error(ErrorKind::kTooManyRequests,
              "repository " + name.str() + " is being deleted by " + by + "; try again later");
}

// The fence while the delete runs; dropped when it ends, also when it failed part-way, so
// that pushes go on at once rather than when the fence expires.
class RaisedFence {
 public:
  RaisedFence(Lease& fence, LeaseRecord claim) : fence_(fence), claim_(std::move(claim)) {}
  RaisedFence(const RaisedFence&) = delete;
  RaisedFence& operator=(const RaisedFence&) = delete;
  ~RaisedFence() {
    try {
      fence_.release(claim_);
    } catch (const Error& e) {
      spdlog::warn("a repository delete's fence stays until it expires: {}", e.what());
    }
  }
  void renew() {
    claim_.expires = std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now() +
                                                             kRepositoryDeleteFenceTtl);
    fence_.write(claim_);
  }

 private:
  Lease& fence_;
  LeaseRecord claim_;
};

bool fenceStands(const Lease& fence) {
  auto current = fence.read();
  return current && current->expires > std::chrono::system_clock::now();
}

// W of the push's loop: writes again whatever of the push is missing. False when something
// it names is gone for good.
bool rewritePush(Store& store, Repository& repo, const PushedManifest& pushed) {
  for (const Digest& blob : pushed.blobs) {
    if (repo.hasLayer(blob)) continue;
    if (!store.statBlob(blob)) return false;
    repo.linkLayer(blob);
  }
  for (const Digest& child : pushed.manifests) {
    if (!repo.hasManifest(child)) return false;
  }
  repo.putManifest(pushed.bytes);
  // A tag another push moved meanwhile is theirs now; only a removed one is written again.
  if (pushed.tag && !repo.resolveTag(*pushed.tag)) repo.putTag(*pushed.tag, pushed.digest);
  if (pushed.subject) repo.addReferrer(*pushed.subject, pushed.digest);
  return true;
}

}  // namespace

RepositoryContents listRepositoryContents(const Store& store, const RepoName& name) {
  Repository repo = store.repository(name);
  RepositoryContents c;
  c.tags = repo.listTags();
  c.revisions = repo.listManifests();
  c.layers = repo.listLayers();
  c.referrers = listReferrerLinks(store, name);
  c.uploads = repo.listUploads();
  return c;
}

RepositoryContents deleteRepository(Store& store, const RepoName& name,
                                    const RepositoryDeleteOptions& options) {
  if (!store.repository(name).exists())
    throw Error(ErrorKind::kNameUnknown, "repository name not known: " + name.str());
  if (options.dryRun) return listRepositoryContents(store, name);
  StorageDriver& driver = store.driver();
  Lease fence = fenceOf(store, name, options.holder.empty() ? thisProcessHolder() : options.holder);
  auto settle = std::max<std::chrono::milliseconds>(options.settle, kRepositoryDeleteSettle);
  RepositoryContents gone;
  {
    RaisedFence raised(fence, raiseFence(fence, name, settle));
    gone = listRepositoryContents(store, name);
    // Uploads first: a session's commit can then no longer link a blob into what goes.
    driver.remove(layout::uploadsDir(name));
    raised.renew();
    // Tags before revisions, as a manifest delete does: no tag names a missing revision.
    driver.remove(layout::tagsDir(name));
    driver.remove(layout::manifestsDir(name));
    raised.renew();
    driver.remove(layout::repositoryReferrersDir(name));
    driver.remove(layout::repositoryLayersDir(name));
  }
  removeEmptyDirectories(driver, name);
  return gone;
}

void confirmManifestPush(Store& store, Repository& repo, const PushedManifest& pushed) {
  Lease fence = fenceOf(store, repo.name(), {});
  for (int slow = 0;; ++slow) {
    // Storage so slow that one round outlasts the settle cannot prove the push whole.
    if (slow == kMaxSlowRounds) {
      throw Error(ErrorKind::kIo, "storage too slow to confirm " + repo.name().str() + "@" +
                                      pushed.digest.str() + " against repository deletes");
    }
    auto start = std::chrono::steady_clock::now();
    if (fenceStands(fence)) {
      std::this_thread::sleep_for(kFencePoll);
      slow = -1;  // waiting for a delete is no slowness
      continue;
    }
    if (!rewritePush(store, repo, pushed)) {
      if (pushed.tag && repo.resolveTag(*pushed.tag) == pushed.digest) repo.deleteTag(*pushed.tag);
      throw Error(ErrorKind::kManifestBlobUnknown,
                  "what " + repo.name().str() + "@" + pushed.digest.str() +
                      " names was removed while it was pushed (a repository delete); push again");
    }
    if (!fenceStands(fence) && std::chrono::steady_clock::now() - start < kRepositoryDeleteSettle)
      return;
  }
}

}  // namespace regfs
