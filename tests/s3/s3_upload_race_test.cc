// Two requests racing on one upload session through two replicas that share a store: on
// one bucket (S3 has no rename and no lock: a conditional PUT decides) and on CephFS
// through two ceph-fuse mounts (two hosts). One request writes the session; the other is
// refused and stores nothing; every blob answered 201 holds its digest's bytes.
#include <gtest/gtest.h>

#include <thread>

#include "common/storage/s3_driver.h"
#include "shared_ceph.h"
#include "support/server.h"
#include "support/store_check.h"
#include "support/upload_race.h"

namespace regfs::testing {
namespace {

constexpr int kRounds = 3;

// Races of every kind, the first request to `a` and the second to `b`; answers may name no
// store path or object key. Returns how many requests were accepted.
int raceEveryWay(RegfsServer& a, RegfsServer& b, size_t size) {
  int accepted = 0;
  uint64_t seed = 100;
  for (int round = 0; round < kRounds; ++round) {
    for (UploadRace race :
         {UploadRace::kTwoPuts, UploadRace::kTwoPatches, UploadRace::kPutDuringPatch}) {
      UploadRaceResult r =
          raceOnUpload(race, a.port(), b.port(), "race/blobs", size, seed++, "docker/registry/v2");
      for (const std::string& p : r.problems) ADD_FAILURE() << "round " << round << ": " << p;
      accepted += r.accepted;
    }
  }
  return accepted;
}

TEST(S3UploadRace, ReplicasOnOneBucketWriteASessionOneAtATime) {
  std::string bucket = newBucket();
  RegfsServerOptions options;
  options.storage = sharedCeph().storageYaml(bucket);
  options.env["REGISTRY_STORAGE_S3_CHUNKSIZE"] = std::to_string(5 << 20);
  RegfsServer a({}, options);
  RegfsServer b({}, options);
  // Past one part, so that parts go out while the bodies still arrive.
  EXPECT_EQ(raceEveryWay(a, b, (6 << 20) + 12345), 3 * kRounds);
  for (const auto& k : uploadKeysLeft(bucket)) ADD_FAILURE() << "left behind: " << k;
}

TEST(S3UploadRace, ReplicasOnCephFsWriteASessionOneAtATime) {
  auto hostA = sharedCeph().mountCephFs("racea");
  auto hostB = sharedCeph().mountCephFs("raceb");
  std::filesystem::create_directories(hostA / "race-registry");
  RegfsServer a(hostA / "race-registry");
  RegfsServer b(hostB / "race-registry");
  EXPECT_EQ(raceEveryWay(a, b, 1 << 20), 3 * kRounds);
  StoreReport report = checkStore(hostA / "race-registry");
  EXPECT_TRUE(report.clean()) << report.describe();
  EXPECT_EQ(report.uploads, 0u);
}

// The step a session's writer takes first: of many attempts at once on one key, one wins.
TEST(S3UploadRace, ExclusiveCreationHasOneWinner) {
  auto driver = makeS3Driver(s3Config(newBucket()));
  for (int round = 0; round < 5; ++round) {
    std::string path = "/docker/registry/v2/exclusive-" + std::to_string(round);
    std::atomic<int> won{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&, t] {
        if (driver->createExclusive(path, "writer " + std::to_string(t))) won++;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_FALSE(driver->createExclusive(path, "late"));
    driver->remove(path);
    EXPECT_TRUE(driver->createExclusive(path, "again"));
  }
}

}  // namespace
}  // namespace regfs::testing
