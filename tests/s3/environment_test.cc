// The global environment: starts Ceph once before the first test. A cluster that cannot
// start fails every test with the daemons' logs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "shared_ceph.h"
#include "support/poll.h"

namespace regfs::testing {
namespace {

std::unique_ptr<CephCluster> cluster;
std::string startFailure;

class CephEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      cluster = std::make_unique<CephCluster>();
      std::cout << "[ceph] single-node Ceph answering S3 after " << cluster->startTime().count()
                << " ms" << std::endl;
    } catch (const std::exception& e) {
      startFailure = e.what();
    }
  }
  void TearDown() override {
    auto started = std::chrono::steady_clock::now();
    cluster.reset();
    std::cout << "[ceph] stopped in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count()
              << " ms" << std::endl;
  }
};

[[maybe_unused]] ::testing::Environment* const environment =
    ::testing::AddGlobalTestEnvironment(new CephEnvironment);

}  // namespace

CephCluster& sharedCeph() {
  if (!cluster) throw std::runtime_error("single-node Ceph did not start: " + startFailure);
  return *cluster;
}

std::string newBucket() {
  static std::atomic<int> next{0};
  std::string name = "regfs-" + std::to_string(next++);
  sharedCeph().createBucket(name);
  return name;
}

S3StorageConfig s3Config(const std::string& bucket, const std::string& rootdirectory) {
  S3StorageConfig c;
  c.region = CephCluster::kRegion;
  c.regionEndpoint = sharedCeph().s3Endpoint();
  c.bucket = bucket;
  c.accessKey = CephCluster::kAccessKey;
  c.secretKey = CephCluster::kSecretKey;
  c.secure = false;
  c.rootDirectory = rootdirectory;
  c.chunkSize = 5 << 20;
  return c;
}

std::vector<std::string> uploadKeysLeft(const std::string& bucket) {
  std::vector<std::string> left;
  waitUntil(
      [&] {
        left.clear();
        for (const auto& k : sharedCeph().listObjects(bucket)) {
          if (k.find("/_uploads/") != std::string::npos) left.push_back(k);
        }
        return left.empty();
      },
      std::chrono::seconds(10), std::chrono::milliseconds(100));
  return left;
}

}  // namespace regfs::testing
