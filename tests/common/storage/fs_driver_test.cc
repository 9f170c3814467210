// The StorageDriver contract (support/driver_contract.h) and the store's lease on it
// (support/lease_contract.h) on the local file system: a new root below
// a temp dir per test, which the driver creates on first write.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "common/storage/driver.h"
#include "common/storage/observed_driver.h"
#include "support/driver_contract.h"
#include "support/lease_contract.h"
#include "support/process.h"

namespace regfs::testing {
namespace {

DriverMaker fsDriver() {
  DriverMaker maker;
  maker.name = "fs";
  maker.newStorage = [](const std::filesystem::path& scratch) {
    return (scratch / "store").string();
  };
  maker.open = [](const std::string& root) { return makeFsDriver(root); };
  return maker;
}

// The same driver under an ObservedDriver (common/storage/observed_driver.h), which regfs-server
// puts under its store.
DriverMaker observedFsDriver() {
  DriverMaker maker = fsDriver();
  maker.name = "observed_fs";
  maker.open = [](const std::string& root) {
    auto driver = std::make_shared<ObservedDriver>(makeFsDriver(root));
    driver->observe([](std::string_view) {});
    return std::shared_ptr<StorageDriver>(driver);
  };
  return maker;
}

INSTANTIATE_TEST_SUITE_P(Fs, DriverContract, ::testing::Values(fsDriver(), observedFsDriver()),
                         driverName);
INSTANTIATE_TEST_SUITE_P(Fs, LeaseContract, ::testing::Values(fsDriver()), driverName);

TEST(ParentPath, DropsTheLastName) {
  EXPECT_EQ(parentPath("/a/b/c"), "/a/b");
  EXPECT_EQ(parentPath("/a"), "/");
  EXPECT_EQ(parentPath("/"), "/");
}

// A removal of a directory that a writer keeps writing into (a manifest's revision link
// removed while a push writes it again) removes it, never failing because the directory
// filled up between its listing and its removal. (A write whose temp file or directory the
// removal takes fails: the writer's client hears an error and tries again.)
TEST(FsDriverRemove, ADirectoryWrittenIntoMeanwhileIsRemoved) {
  TempDir dir;
  auto driver = makeFsDriver((dir.path() / "store").string());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      try {
        driver->writeAtomic("/d/link" + std::to_string(i % 4), "x");
      } catch (const Error&) {
        // The removal took its directory or its temp file: the next write makes them again.
      }
    }
  });
  std::string failure;
  std::filesystem::path written = dir.path() / "store" / "d";
  for (int round = 0; round < 2000 && failure.empty(); ++round) {
    while (!std::filesystem::exists(written)) std::this_thread::yield();
    try {
      driver->remove("/d");
    } catch (const Error& e) {
      failure = e.what();
    }
  }
  stop = true;
  writer.join();
  EXPECT_EQ(failure, "");
}

}  // namespace
}  // namespace regfs::testing
