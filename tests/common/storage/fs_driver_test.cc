// The StorageDriver contract (support/driver_contract.h) and the store's lease on it
// (support/lease_contract.h) on the local file system: a new root below
// a temp dir per test, which the driver creates on first write.
#include <gtest/gtest.h>

#include "common/storage/driver.h"
#include "common/storage/observed_driver.h"
#include "support/driver_contract.h"
#include "support/lease_contract.h"

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

}  // namespace
}  // namespace regfs::testing
