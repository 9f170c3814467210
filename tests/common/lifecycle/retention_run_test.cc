// runRetention on a real local store: push times from link mtimes, removals through the
// store's operations, and writes that happen between a decision and its application.
#include "common/lifecycle/retention_run.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <utility>

#include "common/storage/forwarding_driver.h"
#include "common/store/layout.h"
#include "common/store/repository_delete.h"
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

// Runs `before` or `after` when a revision link's directory is removed.
class RevisionRemovalHook : public ForwardingDriver {
 public:
  using ForwardingDriver::ForwardingDriver;
  void remove(const std::string& p) override {
    bool revision = p.find("/_manifests/revisions/") != std::string::npos;
    if (revision && before) std::exchange(before, nullptr)();
    ForwardingDriver::remove(p);
    if (revision && after) std::exchange(after, nullptr)();
  }
  std::function<void()> before;
  std::function<void()> after;
};

// A push as the API makes it: the revision, the tag, then its confirmation against deletes.
void pushTag(Store& store, Repository& repo, const BuiltImage& image, const Tag& tag) {
  repo.putManifest(image.bytes);
  repo.putTag(tag, image.manifest);
  PushedManifest pushed{image.manifest, image.bytes, tag, {}, {}, {}};
  pushed.blobs.push_back(image.config);
  pushed.blobs.insert(pushed.blobs.end(), image.layers.begin(), image.layers.end());
  confirmManifestPush(store, repo, pushed);
}

class RetentionRaceTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::shared_ptr<RevisionRemovalHook> driver =
      std::make_shared<RevisionRemovalHook>(makeFsDriver(dir.path()));
  Store store{driver};
  Repository app = store.repository(RepoName::parse("team/app"));
  BuiltImage old = pushImage(store, app, {"old"});
  Tag again = Tag::parse("again");

  void SetUp() override {
    ageFile(dir, layout::revisionLink(app.name(), old.manifest), hours(100));
  }

  void expectTaggedAndWhole(const RetentionReport& report) {
    EXPECT_EQ(report.manifestsRemoved, 0u);
    EXPECT_TRUE(app.hasManifest(old.manifest));
    EXPECT_EQ(app.resolveTag(again), old.manifest);
    EXPECT_EQ(app.getManifest(old.manifest), old.bytes);
  }
};

// The push lands between the run's reading of the tags and its removal, whole: the reading
// after the removal sees its tag and the revision goes back.
TEST_F(RetentionRaceTest, APushConfirmedJustBeforeTheRemovalKeepsItsManifest) {
  driver->before = [&] { pushTag(store, app, old, again); };
  std::vector<Digest> removed;
  RetentionRunOptions o = teamPolicy();
  o.removed = [&](const RepoName&, const std::optional<Tag>&, const Digest& d) {
    removed.push_back(d);
  };
  RetentionReport report = runRetention(store, o);
  expectTaggedAndWhole(report);
  EXPECT_TRUE(removed.empty());  // no notification for what was put back
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].find("put back"), std::string::npos);
}

// The push lands right after the removal: its confirmation writes the revision again.
TEST_F(RetentionRaceTest, APushJustAfterTheRemovalKeepsItsManifest) {
  driver->after = [&] { pushTag(store, app, old, again); };
  expectTaggedAndWhole(runRetention(store, teamPolicy()));
}

// A revision that cannot be read appears right after the removal: what it references is
// unknown, so the removed manifest goes back.
TEST_F(RetentionRaceTest, AnUnreadableRevisionAfterTheRemovalPutsItBack) {
  driver->after = [&] { app.putManifest("not json"); };
  RetentionReport report = runRetention(store, teamPolicy());
  EXPECT_EQ(report.manifestsRemoved, 0u);
  EXPECT_EQ(app.getManifest(old.manifest), old.bytes);
  ASSERT_EQ(report.skipped.size(), 2u);
  EXPECT_NE(report.skipped[1].find("what holds it is unknown"), std::string::npos);
}

// Pushes tagging old untagged manifests while a run removes them: every tag still names a
// manifest the repository has, whatever the interleaving.
TEST(RetentionRaceStressTest, TagsPushedDuringARunNeverPointAtRemovedManifests) {
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  Repository repo = store.repository(RepoName::parse("team/many"));
  std::vector<BuiltImage> images;
  for (int i = 0; i < 60; ++i) {
    images.push_back(pushImage(store, repo, {"layer " + std::to_string(i)}));
    ageFile(dir, layout::revisionLink(repo.name(), images.back().manifest), hours(100));
  }
  RetentionRunOptions o = teamPolicy();
  o.recheckAfter = std::chrono::milliseconds(2);
  std::atomic<bool> done{false};
  int pushFailures = 0;
  std::thread pusher([&] {
    // From the last image down, against the run's order (digest order is arbitrary).
    for (size_t i = images.size(); i-- > 0 && !done;) {
      try {
        pushTag(store, repo, images[i], Tag::parse("t" + std::to_string(i)));
      } catch (const Error&) {
        // A revision link written while the run removes it can fail (the push's client hears
        // an error and pushes again); what it wrote before must still hold.
        ++pushFailures;
      }
    }
  });
  std::string runFailure;
  try {
    runRetention(store, o);
  } catch (const std::exception& e) {
    runFailure = e.what();
  }
  done = true;
  pusher.join();
  EXPECT_EQ(runFailure, "");
  RecordProperty("pushFailures", pushFailures);
  for (const auto& [tag, target] : repo.resolveTags()) {
    EXPECT_TRUE(repo.hasManifest(target)) << tag.str();
  }
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
