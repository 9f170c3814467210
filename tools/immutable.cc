// regfsctl immutable ROOT [--config FILE] [--json]
// Lists regfs.immutable's rules and the tags of the store they make immutable.
#include <iostream>

#include "common/lifecycle/immutable.h"
#include "tools/command.h"
#include "tools/lifecycle_rules.h"
#include "tools/output.h"

namespace regfs::tools {
namespace {

struct ImmutableOptions {
  std::string root;
  std::string config;
  bool json = false;
};

struct ProtectedTag {
  std::string repository;
  std::string tag;
  lifecycle::ImmutableMatch match;
};

std::vector<ProtectedTag> protectedTags(Store& store, const std::vector<ImmutableRule>& rules) {
  std::vector<ProtectedTag> out;
  if (rules.empty()) return out;
  constexpr size_t kPage = 1000;
  std::string last;
  for (;;) {
    std::vector<std::string> names = store.catalog(kPage, last);
    for (const std::string& name : names) {
      auto repo = RepoName::tryParse(name);
      if (!repo) continue;
      for (const Tag& tag : store.repository(*repo).listTags()) {
        if (auto match = lifecycle::immutableRuleFor(rules, *repo, tag))
          out.push_back(ProtectedTag{name, tag.str(), *match});
      }
    }
    if (names.size() < kPage) break;
    last = names.back();
  }
  return out;
}

int runImmutable(const ImmutableOptions& opts) {
  RegfsConfig rules = lifecycleRules(opts.root, opts.config);
  StoreAt at = openStore(opts.root);
  std::vector<ProtectedTag> tags = protectedTags(*at.store, rules.immutable);
  if (opts.json) {
    JsonOut out;
    out.w().StartObject();
    out.key("rules");
    out.w().StartArray();
    for (const ImmutableRule& r : rules.immutable) {
      out.w().StartObject();
      out.key("repositories");
      out.w().StartArray();
      for (const NameGlob& g : r.repositories) out.string(g.str());
      out.w().EndArray();
      out.key("tags");
      out.w().StartArray();
      for (const TagPattern& p : r.tags) out.string(p.str());
      out.w().EndArray();
      out.w().EndObject();
    }
    out.w().EndArray();
    out.key("tags");
    out.w().StartArray();
    for (const ProtectedTag& t : tags) {
      out.w().StartObject();
      out.field("repository", t.repository);
      out.field("tag", t.tag);
      out.field("rule", static_cast<uint64_t>(t.match.rule));
      out.w().EndObject();
    }
    out.w().EndArray();
    out.w().EndObject();
    out.print();
    return kExitOk;
  }
  for (size_t i = 0; i < rules.immutable.size(); ++i) {
    lifecycle::ImmutableMatch m{i, "", ""};
    for (const NameGlob& g : rules.immutable[i].repositories)
      m.repositories += (m.repositories.empty() ? "" : ", ") + g.str();
    for (const TagPattern& p : rules.immutable[i].tags)
      m.pattern += (m.pattern.empty() ? "" : ", ") + p.str();
    std::cout << "rule " << lifecycle::describeImmutable(m) << "\n";
  }
  for (const ProtectedTag& t : tags) {
    std::cout << "immutable " << t.repository << ":" << t.tag << " ("
              << lifecycle::describeImmutable(t.match) << ")\n";
  }
  std::cout << rules.immutable.size() << " rules, " << tags.size() << " immutable tags\n";
  return kExitOk;
}

}  // namespace

void addImmutableCommand(Commands& commands) {
  auto opts = std::make_shared<ImmutableOptions>();
  Command cmd = commands.add("immutable", "list regfs.immutable's rules and the tags they protect",
                             [opts] { return runImmutable(*opts); });
  addRootArgument(cmd, opts->root);
  cmd.option("-c,--config", opts->config,
             "the config.yml holding the rules (default: ROOT, when it is one)");
  addJsonFlag(cmd, opts->json);
}

}  // namespace regfs::tools
