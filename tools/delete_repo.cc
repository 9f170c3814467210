// regfsctl delete-repo ROOT NAME [--dry-run] [--json]
// Deletes a repository: its tags, revisions, layer links, referrer links and upload sessions
// (common/store/repository_delete.h); its blobs go at the next garbage-collect. Safe while
// regfs servers push into it.
#include <iostream>

#include "common/error.h"
#include "common/names.h"
#include "common/store/repository_delete.h"
#include "tools/command.h"
#include "tools/output.h"

namespace regfs::tools {
namespace {

struct DeleteRepoOptions {
  std::string root;
  std::string name;
  bool dryRun = false;
  bool json = false;
};

void printJson(const std::string& name, bool dryRun, const RepositoryContents& c) {
  JsonOut out;
  auto digests = [&](std::string_view key, const std::vector<Digest>& list) {
    out.key(key);
    out.w().StartArray();
    for (const Digest& d : list) out.string(d.str());
    out.w().EndArray();
  };
  out.w().StartObject();
  out.field("repository", name);
  out.field("dryRun", dryRun);
  out.key("tags");
  out.w().StartArray();
  for (const Tag& t : c.tags) out.string(t.str());
  out.w().EndArray();
  digests("manifests", c.revisions);
  digests("layers", c.layers);
  out.key("referrers");
  out.w().StartArray();
  for (const auto& [subject, referrer] : c.referrers) {
    out.w().StartObject();
    out.field("subject", subject.str());
    out.field("referrer", referrer.str());
    out.w().EndObject();
  }
  out.w().EndArray();
  out.key("uploads");
  out.w().StartArray();
  for (const UploadInfo& u : c.uploads) out.string(u.uuid);
  out.w().EndArray();
  out.w().EndObject();
  out.print();
}

void printText(const std::string& name, bool dryRun, const RepositoryContents& c) {
  const char* verb = dryRun ? "would delete" : "deleted";
  for (const Tag& t : c.tags) std::cout << verb << " tag " << name << ":" << t.str() << "\n";
  for (const Digest& d : c.revisions)
    std::cout << verb << " manifest " << name << "@" << d.str() << "\n";
  for (const Digest& d : c.layers) std::cout << verb << " layer link " << d.str() << "\n";
  for (const auto& [subject, referrer] : c.referrers)
    std::cout << verb << " referrer link " << subject.str() << " <- " << referrer.str() << "\n";
  for (const UploadInfo& u : c.uploads) std::cout << verb << " upload " << u.uuid << "\n";
  std::cout << verb << " repository " << name << ": " << c.tags.size() << " tags, "
            << c.revisions.size() << " manifests, " << c.layers.size() << " layer links, "
            << c.referrers.size() << " referrer links, " << c.uploads.size()
            << " uploads; its blobs go at the next garbage-collect\n";
}

int runDeleteRepo(const DeleteRepoOptions& opts) {
  RepoName name = RepoName::parse(opts.name);
  StoreAt at = openStore(opts.root);
  RepositoryDeleteOptions options;
  options.dryRun = opts.dryRun;
  RepositoryContents gone = deleteRepository(*at.store, name, options);
  if (opts.json) {
    printJson(name.str(), opts.dryRun, gone);
  } else {
    printText(name.str(), opts.dryRun, gone);
  }
  return kExitOk;
}

}  // namespace

void addDeleteRepoCommand(Commands& commands) {
  auto opts = std::make_shared<DeleteRepoOptions>();
  Command cmd = commands.add("delete-repo",
                             "delete a repository (nested repositories stay); its blobs go at "
                             "the next garbage-collect",
                             [opts] { return runDeleteRepo(*opts); });
  addRootArgument(cmd, opts->root);
  cmd.required("NAME", opts->name, "the repository, e.g. library/alpine");
  cmd.flag("--dry-run", opts->dryRun, "print what would be deleted, change nothing");
  addJsonFlag(cmd, opts->json);
}

}  // namespace regfs::tools
