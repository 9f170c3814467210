#pragma once
// One single-node Ceph for every test in this executable (started by the global test
// environment, stopped by PID when the run ends), and a fresh bucket per test.

#include <string>
#include <vector>

#include "common/config/config.h"
#include "support/ceph.h"

namespace regfs::testing {

CephCluster& sharedCeph();
// A new, empty bucket on the shared cluster.
std::string newBucket();
// distribution's storage.s3 settings for `bucket` on the shared cluster.
S3StorageConfig s3Config(const std::string& bucket, const std::string& rootdirectory = "/");
// Keys under an upload session in `bucket`, once none is left or after 10 s: a registry
// removes a committed session on remote storage after its answer.
std::vector<std::string> uploadKeysLeft(const std::string& bucket);

}  // namespace regfs::testing
