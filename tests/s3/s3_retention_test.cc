// A retention run on S3 (radosgw): push times come from the objects' LastModified through
// the driver, removals go through the same store operations, and a tag pushed between the
// decision and its application keeps the manifest it points at.
#include <gtest/gtest.h>

#include "common/lifecycle/retention_run.h"
#include "common/storage/s3_driver.h"
#include "shared_ceph.h"
#include "support/store_builder.h"

namespace regfs::testing {
namespace {

TEST(S3RetentionTest, RemovesWhatNoRuleKeepsAndKeepsWhatAPushTakesDuringTheRun) {
  Store store(makeS3Driver(s3Config(newBucket())));
  Repository repo = store.repository(RepoName::parse("ci/app"));
  BuiltImage a = pushImage(store, repo, {"a"});
  BuiltImage b = pushImage(store, repo, {"b"});
  BuiltImage untagged = pushImage(store, repo, {"c"});
  BuiltImage later = pushImage(store, repo, {"d"});
  repo.putTag(Tag::parse("a"), a.manifest);
  repo.putTag(Tag::parse("b"), b.manifest);
  repo.putTag(Tag::parse("later"), later.manifest);

  lifecycle::RetentionRunOptions options;
  RetentionPolicy policy;
  policy.repositories.push_back(NameGlob::parse("ci/**"));
  policy.keepTags.push_back(TagPattern::parse("b"));
  policy.untaggedOlderThan = std::chrono::hours(1);
  options.policies.push_back(policy);
  // Two hours from now, everything pushed above is old.
  options.now = [] { return std::chrono::system_clock::now() + std::chrono::hours(2); };
  // While the plan is applied, a push tags `later` again as `again`.
  options.decided = [&](const lifecycle::RetentionPlan&) {
    repo.putTag(Tag::parse("again"), later.manifest);
  };
  lifecycle::RetentionReport report = lifecycle::runRetention(store, options);

  EXPECT_EQ(report.tagsRemoved, 2u);  // a and later
  EXPECT_FALSE(repo.resolveTag(Tag::parse("a")));
  EXPECT_FALSE(repo.resolveTag(Tag::parse("later")));
  EXPECT_EQ(repo.resolveTag(Tag::parse("b")), b.manifest);
  EXPECT_EQ(repo.resolveTag(Tag::parse("again")), later.manifest);
  EXPECT_EQ(report.manifestsRemoved, 2u);  // a's and the untagged one
  EXPECT_FALSE(repo.hasManifest(a.manifest));
  EXPECT_FALSE(repo.hasManifest(untagged.manifest));
  EXPECT_TRUE(repo.hasManifest(b.manifest));
  EXPECT_TRUE(repo.hasManifest(later.manifest));
}

}  // namespace
}  // namespace regfs::testing
