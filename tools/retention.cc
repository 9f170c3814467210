// regfsctl retention ROOT [--config FILE] [--dry-run] [--json]
// Applies regfs.retention's policies (common/lifecycle/retention_run.h) and prints what went,
// or would go, and the rule that decided.
#include <iostream>

#include "common/lifecycle/retention_run.h"
#include "tools/command.h"
#include "tools/lifecycle_rules.h"
#include "tools/output.h"

namespace regfs::tools {
namespace {

using lifecycle::RetentionPlan;
using lifecycle::RetentionReport;

struct RetentionOptions {
  std::string root;
  std::string config;
  bool dryRun = false;
  bool json = false;
};

std::string ago(lifecycle::TimePoint pushed, lifecycle::TimePoint now) {
  return humanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - pushed)) + " ago";
}

void printJson(const RetentionReport& r, bool dryRun, lifecycle::TimePoint now) {
  JsonOut out;
  out.w().StartObject();
  out.field("dryRun", dryRun);
  out.field("repositories", static_cast<uint64_t>(r.repositories));
  out.field("tagsRemoved", static_cast<uint64_t>(r.tagsRemoved));
  out.field("manifestsRemoved", static_cast<uint64_t>(r.manifestsRemoved));
  auto seconds = [&](lifecycle::TimePoint t) {
    return static_cast<uint64_t>(
        std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(now - t).count()));
  };
  out.key("plans");
  out.w().StartArray();
  for (const RetentionPlan& p : r.plans) {
    out.w().StartObject();
    out.field("repository", p.repository.str());
    out.field("policy", static_cast<uint64_t>(p.policy.value_or(0)));
    out.key("tags");
    out.w().StartArray();
    for (const auto& t : p.tags) {
      out.w().StartObject();
      out.field("tag", t.tag.tag.str());
      out.field("digest", t.tag.manifest.str());
      out.field("ageSeconds", seconds(t.tag.pushed));
      out.field("remove", t.remove);
      out.field("reason", lifecycle::reasonKey(t.reason));
      out.field("rule", t.rule);
      out.w().EndObject();
    }
    out.w().EndArray();
    out.key("untagged");
    out.w().StartArray();
    for (const auto& m : p.untagged) {
      out.w().StartObject();
      out.field("digest", m.digest.str());
      out.field("ageSeconds", seconds(m.pushed));
      out.field("remove", m.remove);
      out.field("reason", lifecycle::reasonKey(m.reason));
      out.field("rule", m.rule);
      out.w().EndObject();
    }
    out.w().EndArray();
    out.w().EndObject();
  }
  out.w().EndArray();
  out.key("skipped");
  out.w().StartArray();
  for (const std::string& s : r.skipped) out.string(s);
  out.w().EndArray();
  out.w().EndObject();
  out.print();
}

void printText(const RetentionReport& r, bool dryRun, lifecycle::TimePoint now) {
  const char* verb = dryRun ? "would remove" : "removed";
  for (const RetentionPlan& p : r.plans) {
    const std::string& name = p.repository.str();
    for (const auto& t : p.tags) {
      std::cout << (t.remove ? verb : "kept") << " tag " << name << ":" << t.tag.tag.str()
                << " (pushed " << ago(t.tag.pushed, now) << "; " << t.rule << ")\n";
    }
    for (const auto& m : p.untagged) {
      std::cout << (m.remove ? verb : "kept") << " manifest " << name << "@" << m.digest.str()
                << " (untagged, pushed " << ago(m.pushed, now) << "; " << m.rule << ")\n";
    }
  }
  for (const std::string& s : r.skipped) std::cout << "skipped " << s << "\n";
  std::cout << r.repositories << " repositories, " << r.plans.size() << " under a policy; " << verb
            << " " << r.tagsRemoved << " tags and " << r.manifestsRemoved
            << " untagged manifests\n";
}

int runRetentionCommand(const RetentionOptions& opts) {
  RegfsConfig rules = lifecycleRules(opts.root, opts.config);
  StoreAt at = openStore(opts.root);
  lifecycle::RetentionRunOptions run;
  run.policies = rules.retention.policies;
  run.immutable = rules.immutable;
  run.dryRun = opts.dryRun;
  lifecycle::TimePoint now = run.now();
  run.now = [now] { return now; };
  RetentionReport report = lifecycle::runRetention(*at.store, run);
  if (opts.json) {
    printJson(report, opts.dryRun, now);
  } else {
    printText(report, opts.dryRun, now);
  }
  return kExitOk;
}

}  // namespace

void addRetentionCommand(Commands& commands) {
  auto opts = std::make_shared<RetentionOptions>();
  Command cmd = commands.add(
      "retention",
      "remove the tags and untagged manifests regfs.retention's policies do not keep (safe "
      "while the server runs; see docs/tools.md)",
      [opts] { return runRetentionCommand(*opts); });
  addRootArgument(cmd, opts->root);
  cmd.option("-c,--config", opts->config,
             "the config.yml holding the rules (default: ROOT, when it is one)");
  cmd.flag("-d,--dry-run", opts->dryRun, "print what would be removed and why, change nothing");
  addJsonFlag(cmd, opts->json);
}

}  // namespace regfs::tools
