// The StorageDriver contract (support/driver_contract.h) and the store's lease on it
// (support/lease_contract.h) on S3: a new bucket on
// the shared radosgw per test.
#include <gtest/gtest.h>

#include "common/storage/s3_driver.h"
#include "shared_ceph.h"
#include "support/driver_contract.h"
#include "support/lease_contract.h"

namespace regfs::testing {
namespace {

DriverMaker s3Driver() {
  DriverMaker maker;
  maker.name = "s3";
  maker.newStorage = [](const std::filesystem::path&) { return newBucket(); };
  maker.open = [](const std::string& bucket) { return makeS3Driver(s3Config(bucket)); };
  maker.directories = false;
  maker.appendsVisible = false;
  maker.local = false;
  return maker;
}

INSTANTIATE_TEST_SUITE_P(S3, DriverContract, ::testing::Values(s3Driver()), driverName);
INSTANTIATE_TEST_SUITE_P(S3, LeaseContract, ::testing::Values(s3Driver()), driverName);

}  // namespace
}  // namespace regfs::testing
