// The regfs section: keys of regfs's own, which registry:2 ignores. indexing.enabled turns
// the server's background indexing of pushed layers on or off, ui.enabled the web UI; gc schedules
// garbage collection (interval, deleteuntagged, grace, settle); proxy.upstreams adds upstreams
// to the pull-through cache by name prefix (proxy_section.cc); retention and immutable hold
// the lifecycle rules (common/lifecycle/), checked here so that a bad pattern or duration
// stops the program that reads the file, naming the key.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/config/sections.h"
#include "common/error.h"

namespace regfs::config {
namespace {

// Each item of the list at `v` made into a pattern by `parse`; a bad one fails naming it.
template <typename Pattern, typename Parse>
std::vector<Pattern> patternList(Reader& reader, const Value& v, Parse parse) {
  std::vector<Pattern> out;
  auto texts = reader.stringList(v);
  if (!texts) return out;
  for (size_t i = 0; i < texts->size(); ++i) {
    try {
      out.push_back(parse((*texts)[i]));
    } catch (const Error& e) {
      reader.fail(itemOf(v, i), e.what());
    }
  }
  return out;
}

std::vector<NameGlob> repositoryGlobs(Reader& reader, const Value& rule) {
  Value v = childOf(rule, "repositories");
  auto globs = patternList<NameGlob>(reader, v, NameGlob::parse);
  if (globs.empty()) {
    reader.failMissing(rule, "repositories", "a list of repository patterns (\"**\": every one)");
  }
  return globs;
}

std::vector<TagPattern> tagPatterns(Reader& reader, const Value& v) {
  return patternList<TagPattern>(reader, v, TagPattern::parse);
}

// A duration above zero, as a string ("720h"); absent: nullopt.
std::optional<std::chrono::nanoseconds> age(Reader& reader, const Value& v) {
  auto d = reader.duration(v, false);
  if (d && *d <= std::chrono::nanoseconds(0)) reader.fail(v, "must be a duration above zero");
  return d;
}

RetentionPolicy readPolicy(Reader& reader, const Value& p) {
  RetentionPolicy out;
  out.repositories = repositoryGlobs(reader, p);
  out.protectTags = tagPatterns(reader, childOf(p, "protecttags"));
  Value keepLatest = childOf(p, "keeplatest");
  if (auto n = reader.integer(keepLatest)) {
    if (*n < 1 || *n > std::numeric_limits<int32_t>::max())
      reader.fail(keepLatest, "must be a number of tags, at least 1");
    out.keepLatest = static_cast<size_t>(*n);
  }
  out.keepTags = tagPatterns(reader, childOf(p, "keeptags"));
  out.removeOlderThan = age(reader, childOf(p, "removeolderthan"));
  out.untaggedOlderThan = age(reader, childOf(p, "untaggedolderthan"));
  out.deleteReferrers = reader.boolean(childOf(p, "deletereferrers")).value_or(false);
  return out;
}

void readRetention(Reader& reader, const Value& v, RetentionConfig& retention) {
  reader.requireMap(v);
  retention.enabled = reader.boolean(childOf(v, "enabled")).value_or(false);
  if (auto interval = age(reader, childOf(v, "interval"))) retention.interval = *interval;
  retention.dryRun = reader.boolean(childOf(v, "dryrun")).value_or(false);
  reader.forEachItem(childOf(v, "policies"), "policies",
                     [&](const Value& p) { retention.policies.push_back(readPolicy(reader, p)); });
}

ImmutableRule readImmutableRule(Reader& reader, const Value& r) {
  ImmutableRule out;
  out.repositories = repositoryGlobs(reader, r);
  out.tags = tagPatterns(reader, childOf(r, "tags"));
  if (out.tags.empty()) reader.failMissing(r, "tags", "a list of tag patterns");
  return out;
}

}  // namespace

void readRegfs(Reader& reader, const Value& v, RegfsConfig& regfs) {
  reader.requireMap(v);
  Value indexing = childOf(v, "indexing");
  reader.requireMap(indexing);
  if (auto on = reader.boolean(childOf(indexing, "enabled"))) regfs.indexingEnabled = *on;
  Value ui = childOf(v, "ui");
  reader.requireMap(ui);
  if (auto on = reader.boolean(childOf(ui, "enabled"))) regfs.uiEnabled = *on;
  regfs.uiRefresh = reader.duration(childOf(ui, "refresh"), false).value_or(regfs.uiRefresh);
  if (regfs.uiRefresh < std::chrono::nanoseconds(0)) reader.fail(ui, "refresh cannot be negative");
  Value gc = childOf(v, "gc");
  reader.requireMap(gc);
  GcScheduleConfig& g = regfs.gc;
  g.interval = reader.duration(childOf(gc, "interval"), false).value_or(g.interval);
  g.deleteUntagged = reader.boolean(childOf(gc, "deleteuntagged")).value_or(g.deleteUntagged);
  g.grace = reader.duration(childOf(gc, "grace"), false).value_or(g.grace);
  g.settle = reader.duration(childOf(gc, "settle"), false).value_or(g.settle);
  if (g.interval < std::chrono::nanoseconds(0) || g.grace < std::chrono::nanoseconds(0) ||
      g.settle < std::chrono::nanoseconds(0))
    reader.fail(gc, "durations cannot be negative");
  readRetention(reader, childOf(v, "retention"), regfs.retention);
  reader.forEachItem(childOf(v, "immutable"), "immutable tag rules", [&](const Value& r) {
    regfs.immutable.push_back(readImmutableRule(reader, r));
  });
  readPrefixUpstreams(reader, childOf(v, "proxy"), regfs.proxyUpstreams);
}

}  // namespace regfs::config
