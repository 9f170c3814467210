#include "common/maintenance/purge.h"

#include <gtest/gtest.h>

#include "common/store/layout.h"
#include "common/utc.h"
#include "support/process.h"

namespace regfs {
namespace {

using namespace regfs::testing;
using namespace std::chrono_literals;

TEST(ParseRfc3339Test, AcceptsWhatDistributionWrites) {
  auto t = parseRfc3339("2024-05-01T12:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*t), 1714564800);
  EXPECT_EQ(parseRfc3339("2024-05-01T14:00:00+02:00"), t);
  EXPECT_EQ(parseRfc3339("2024-05-01T11:30:00-00:30"), t);
  EXPECT_EQ(parseRfc3339("2024-05-01T12:00:00.000000000Z"), t);
  EXPECT_GT(*parseRfc3339("2024-05-01T12:00:00.5Z"), *t);
  for (const char* bad : {"", "2024-05-01", "2024-05-01T12:00:00", "2024-13-01T12:00:00Z",
                          "2024-05-01T12:00:00Zjunk", "2024-05-01 12:00:00Z", "yesterday"}) {
    EXPECT_FALSE(parseRfc3339(bad)) << bad;
  }
}

class PurgeTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());

  std::string startUpload(const std::string& repo, const std::string& startedAt) {
    Repository r = store.repository(RepoName::parse(repo));
    std::string uuid = r.startUpload();
    r.openUpload(uuid).write("some bytes");
    store.driver().writeAtomic(layout::uploadStartedAt(r.name(), uuid), startedAt);
    return uuid;
  }
};

TEST_F(PurgeTest, RemovesSessionsStartedBeforeTheCutoffOnly) {
  Repository app = store.repository(RepoName::parse("team/app"));
  app.putManifest("{}");
  std::string stale = startUpload("team/app", "2020-01-01T00:00:00Z");
  std::string fresh = startUpload("team/app", rfc3339Now());
  // A first push that never reached a manifest: no _manifests, still purged.
  std::string orphan = startUpload("team/new", "2020-01-01T00:00:00+01:00");
  // No readable startedat: left alone, as distribution does.
  std::string torn = startUpload("team/app", "not a time");

  auto cutoff = std::chrono::system_clock::now() - 168h;
  PurgeResult dry = purgeUploads(store, cutoff, true);
  EXPECT_EQ(dry.sessions, 4u);
  ASSERT_EQ(dry.purged.size(), 2u);
  EXPECT_TRUE(app.statUpload(stale));

  PurgeResult r = purgeUploads(store, cutoff);
  ASSERT_EQ(r.purged.size(), 2u);
  EXPECT_EQ(r.purged[0].repository, "team/app");
  EXPECT_EQ(r.purged[0].uuid, stale);
  EXPECT_EQ(r.purged[0].size, 10u);
  EXPECT_EQ(r.purged[1].repository, "team/new");
  EXPECT_EQ(r.purged[1].uuid, orphan);
  EXPECT_FALSE(app.statUpload(stale));
  EXPECT_TRUE(app.statUpload(fresh));
  EXPECT_TRUE(app.statUpload(torn));
  EXPECT_FALSE(store.repository(RepoName::parse("team/new")).statUpload(orphan));
}

}  // namespace
}  // namespace regfs
