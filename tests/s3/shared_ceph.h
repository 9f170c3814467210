#pragma once
// One single-node Ceph for every test in this executable (started by the global test
// environment, stopped by PID when the run ends), and a fresh bucket per test.

#include <string>

#include "common/config/config.h"
#include "support/ceph.h"

namespace regfs::testing {

CephCluster& sharedCeph();
// A new, empty bucket on the shared cluster.
std::string newBucket();
// distribution's storage.s3 settings for `bucket` on the shared cluster.
S3StorageConfig s3Config(const std::string& bucket, const std::string& rootdirectory = "/");

}  // namespace regfs::testing
