// runRetention on a real local store: push times from link mtimes, removals through the
// store's operations, and writes that happen between a decision and its application.
#include "common/lifecycle/retention_run.h"

#include <gtest/gtest.h>

#include <atomic>

#include "common/storage/forwarding_driver.h"
#include "common/store/layout.h"
#include "support/process.h"
#include "support/store_builder.h"

namespace regfs::lifecycle {
namespace {

using namespace regfs::testing;
using std::chrono::hours;

void ageFile(const TempDir& dir, const std::string& driverPath, hours ago) {
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ::time(nullptr) - ago.count() * 3600;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir.path().string() + driverPath).c_str(), times, 0), 0);
}

// team/*: tags older than 24h go, and untagged manifests older than 24h.
RetentionRunOptions teamPolicy() {
  RetentionRunOptions o;
  RetentionPolicy p;
  p.repositories.push_back(NameGlob::parse("team/*"));
  p.removeOlderThan = hours(24);
  p.untaggedOlderThan = hours(24);
  o.policies.push_back(p);
  return o;
}

class RetentionRunTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  Repository app = store.repository(RepoName::parse("team/app"));
  BuiltImage m1 = pushImage(store, app, {"one"});
  BuiltImage m2 = pushImage(store, app, {"two"});

  void SetUp() override {
    app.putTag(Tag::parse("old"), m1.manifest);
    app.putTag(Tag::parse("new"), m2.manifest);
    age(layout::tagCurrentLink(app.name(), Tag::parse("old")), hours(100));
    age(layout::revisionLink(app.name(), m1.manifest), hours(100));
    age(layout::revisionLink(app.name(), m2.manifest), hours(100));
  }

  void age(const std::string& driverPath, hours ago) { ageFile(dir, driverPath, ago); }

  RetentionRunOptions options() { return teamPolicy(); }
};

TEST_F(RetentionRunTest, RemovesOldTagsAndTheirManifestsThroughTheStore) {
  RetentionRunOptions o = options();
  std::vector<std::string> removed;
  o.removed = [&](const RepoName& repo, const std::optional<Tag>& tag, const Digest& d) {
    removed.push_back(repo.str() + (tag ? ":" + tag->str() : "@" + d.str()));
  };
  RetentionReport report = runRetention(store, o);
  EXPECT_EQ(report.tagsRemoved, 1u);
  EXPECT_EQ(report.manifestsRemoved, 1u);
  EXPECT_FALSE(app.resolveTag(Tag::parse("old")));
  EXPECT_FALSE(app.hasManifest(m1.manifest));
  EXPECT_EQ(app.resolveTag(Tag::parse("new")), m2.manifest);
  EXPECT_TRUE(app.hasManifest(m2.manifest));
  EXPECT_EQ(removed, (std::vector<std::string>{"team/app:old", "team/app@" + m1.manifest.str()}));
}

TEST_F(RetentionRunTest, DryRunReportsTheSameAndChangesNothing) {
  RetentionRunOptions o = options();
  o.dryRun = true;
  RetentionReport report = runRetention(store, o);
  EXPECT_EQ(report.tagsRemoved, 1u);
  EXPECT_EQ(report.manifestsRemoved, 1u);
  ASSERT_EQ(report.plans.size(), 1u);
  EXPECT_EQ(app.resolveTag(Tag::parse("old")), m1.manifest);
  EXPECT_TRUE(app.hasManifest(m1.manifest));
}

TEST_F(RetentionRunTest, TheInjectedClockDecidesAges) {
  RetentionRunOptions o = options();
  o.now = [] { return std::chrono::system_clock::now() + hours(48); };  // "new" is 48h old
  runRetention(store, o);
  EXPECT_TRUE(app.listTags().empty());
  EXPECT_TRUE(app.listManifests().empty());
}

TEST_F(RetentionRunTest, ATagMovedAfterTheDecisionStays) {
  RetentionRunOptions o = options();
  o.decided = [&](const RetentionPlan&) { app.putTag(Tag::parse("old"), m2.manifest); };
  RetentionReport report = runRetention(store, o);
  EXPECT_EQ(report.tagsRemoved, 0u);
  EXPECT_EQ(app.resolveTag(Tag::parse("old")), m2.manifest);
  ASSERT_EQ(report.skipped.size(), 1u);
  // The manifest it pointed at is untagged and old: it goes as decided.
  EXPECT_EQ(report.manifestsRemoved, 1u);
  EXPECT_FALSE(app.hasManifest(m1.manifest));
}

TEST_F(RetentionRunTest, AManifestTaggedAfterTheDecisionStays) {
  RetentionRunOptions o = options();
  o.decided = [&](const RetentionPlan&) { app.putTag(Tag::parse("again"), m1.manifest); };
  RetentionReport report = runRetention(store, o);
  EXPECT_EQ(report.tagsRemoved, 1u);
  EXPECT_EQ(report.manifestsRemoved, 0u);
  EXPECT_TRUE(app.hasManifest(m1.manifest));
  EXPECT_EQ(app.resolveTag(Tag::parse("again")), m1.manifest);
}

TEST_F(RetentionRunTest, AnIndexPushedAfterTheDecisionKeepsItsChildren) {
  RetentionRunOptions o = options();
  o.decided = [&](const RetentionPlan&) { pushIndex(app, {m1}); };
  RetentionReport report = runRetention(store, o);
  EXPECT_EQ(report.tagsRemoved, 1u);
  EXPECT_EQ(report.manifestsRemoved, 0u);
  EXPECT_TRUE(app.hasManifest(m1.manifest));
}

TEST_F(RetentionRunTest, AnUnreadableManifestKeepsUntaggedManifestsButNotTheTagDecisions) {
  store.driver().writeAtomic(layout::blobData(m2.manifest), "not json");
  RetentionReport report = runRetention(store, options());
  EXPECT_EQ(report.tagsRemoved, 1u);
  EXPECT_EQ(report.manifestsRemoved, 0u);
  EXPECT_TRUE(app.hasManifest(m1.manifest));
  ASSERT_EQ(report.skipped.size(), 1u);
}

TEST_F(RetentionRunTest, AManifestTaggedWhileOthersAreRemovedStays) {
  BuiltImage m3 = pushImage(store, app, {"three"});
  age(layout::revisionLink(app.name(), m3.manifest), hours(100));
  RetentionRunOptions o = options();
  o.recheckAfter = std::chrono::nanoseconds(0);
  std::vector<Digest> removed;
  o.removed = [&](const RepoName&, const std::optional<Tag>& tag, const Digest& d) {
    if (tag) return;
    removed.push_back(d);
    // After the first removal, the other old untagged manifest is tagged again.
    app.putTag(Tag::parse("again"), d == m1.manifest ? m3.manifest : m1.manifest);
  };
  RetentionReport report = runRetention(store, o);
  EXPECT_EQ(report.manifestsRemoved, 1u);
  ASSERT_EQ(removed.size(), 1u);
  Digest tagged = removed[0] == m1.manifest ? m3.manifest : m1.manifest;
  EXPECT_TRUE(app.hasManifest(tagged));
  EXPECT_EQ(app.resolveTag(Tag::parse("again")), tagged);
  EXPECT_FALSE(app.hasManifest(removed[0]));
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].find("referenced during the run"), std::string::npos);
}

class CountingDriver : public ForwardingDriver {
 public:
  using ForwardingDriver::ForwardingDriver;
  std::string read(const std::string& p) const override {
    reads++;
    return ForwardingDriver::read(p);
  }
  mutable std::atomic<size_t> reads{0};
};

// A run reads each tag and revision a bounded number of times, however many of them it
// removes: reading every tag for each removed manifest made 10,000 tags take minutes.
TEST(RetentionRunCostTest, ReadsGrowWithTheRepositoryNotWithItsSquare) {
  TempDir dir;
  auto driver = std::make_shared<CountingDriver>(makeFsDriver(dir.path()));
  Store store(driver);
  Repository repo = store.repository(RepoName::parse("team/many"));
  constexpr size_t kTags = 200;  // half old: 100 tags and their manifests go
  for (size_t i = 0; i < kTags; ++i) {
    BuiltImage image = pushImage(store, repo, {"layer " + std::to_string(i)});
    Tag tag = Tag::parse("t" + std::to_string(i));
    repo.putTag(tag, image.manifest);
    if (i % 2 != 0) continue;
    ageFile(dir, layout::tagCurrentLink(repo.name(), tag), hours(100));
    ageFile(dir, layout::revisionLink(repo.name(), image.manifest), hours(100));
  }
  RetentionRunOptions o = teamPolicy();
  o.recheckAfter = hours(1);
  driver->reads = 0;
  RetentionReport report = runRetention(store, o);
  EXPECT_EQ(report.tagsRemoved, kTags / 2);
  EXPECT_EQ(report.manifestsRemoved, kTags / 2);
  // Reading every remaining tag per removed manifest would be kTags / 2 * kTags / 2 reads.
  RecordProperty("reads", static_cast<int>(driver->reads.load()));
  EXPECT_LT(driver->reads.load(), 5 * kTags);
}

}  // namespace
}  // namespace regfs::lifecycle
