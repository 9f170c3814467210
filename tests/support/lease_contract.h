#pragma once
// The store's lease (common/store/lease.h) on a driver, as a suite run against every driver
// the DriverContract runs on: two holders, expiry, and claims that race.
//   INSTANTIATE_TEST_SUITE_P(Fs, LeaseContract, ::testing::Values(DriverMaker{...}), driverName);

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/store/layout.h"
#include "common/store/lease.h"
#include "support/driver_contract.h"

namespace regfs::testing {

class LeaseContract : public DriverContract {
 protected:
  // Each holder through a driver of its own, as two replicas are.
  Lease leaseOf(const std::string& holder) { return Lease(another(), layout::gcLease(), holder); }
  static std::chrono::system_clock::time_point at(int seconds) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000 + seconds));
  }
};

TEST_P(LeaseContract, OneHolderUntilItExpires) {
  Lease a = leaseOf("host-a/1");
  Lease b = leaseOf("host-b/2");
  EXPECT_FALSE(a.read());
  auto claimA = a.claim(at(0), std::chrono::seconds(60));
  ASSERT_TRUE(claimA);
  EXPECT_TRUE(a.confirm(*claimA));
  EXPECT_FALSE(b.claim(at(30), std::chrono::seconds(60))) << "taken while held";
  EXPECT_FALSE(a.claim(at(30), std::chrono::seconds(60))) << "not taken twice in one term";
  auto seen = b.read();
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->holder, "host-a/1");
  EXPECT_EQ(seen->expires, at(60));
  // The holder died: at expiry the other takes it over.
  auto claimB = b.claim(at(61), std::chrono::seconds(60));
  ASSERT_TRUE(claimB);
  EXPECT_TRUE(b.confirm(*claimB));
  EXPECT_FALSE(a.confirm(*claimA));
  a.release(*claimA);  // not a's any more: stays
  EXPECT_TRUE(b.confirm(*claimB));
  b.release(*claimB);
  EXPECT_FALSE(b.read());
}

TEST_P(LeaseContract, OfClaimsThatRaceOnlyTheLastWriteConfirms) {
  Lease a = leaseOf("host-a/1");
  Lease b = leaseOf("host-b/2");
  // Both read a free lease before either wrote, then both write: the settle between claim
  // and confirmation lets each see who won.
  auto claimA = a.claim(at(0), std::chrono::seconds(60));
  ASSERT_TRUE(claimA);
  driver->remove(layout::gcLease());  // what b read: nothing yet
  auto claimB = b.claim(at(0), std::chrono::seconds(60));
  ASSERT_TRUE(claimB);
  EXPECT_FALSE(a.confirm(*claimA));
  EXPECT_TRUE(b.confirm(*claimB));
}

TEST_P(LeaseContract, ADamagedLeaseIsNone) {
  driver->writeAtomic(layout::gcLease(), "not a lease");
  Lease a = leaseOf("host-a/1");
  EXPECT_FALSE(a.read());
  auto claim = a.claim(at(0), std::chrono::seconds(60));
  ASSERT_TRUE(claim);
  EXPECT_TRUE(a.confirm(*claim));
  EXPECT_EQ(parseLease(formatLease(*claim)), claim);
  EXPECT_FALSE(parseLease("holder x\ntoken \nexpires 1\n"));
  EXPECT_FALSE(parseLease("holder x\ntoken t\nexpires 1x\n"));
  EXPECT_FALSE(parseLease("holder x\ntoken t\nexpires 1\nmore\n"));
}

TEST_P(LeaseContract, RemoveEmptyDirectoryLeavesOneWithFiles) {
  const std::string dir = "/docker/registry/v2/repositories/a";
  driver->writeAtomic(dir + "/b/_layers/link", "x");
  EXPECT_FALSE(driver->removeEmptyDirectory(dir));
  EXPECT_TRUE(driver->stat(dir + "/b/_layers/link"));
  driver->remove(dir + "/b/_layers");
  EXPECT_EQ(driver->removeEmptyDirectory(dir + "/b"), traits().directories);
  EXPECT_FALSE(driver->removeEmptyDirectory(dir + "/missing"));
}

}  // namespace regfs::testing
