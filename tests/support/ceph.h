#pragma once
// Test support: a single-node Ceph (one monitor, one bluestore OSD on a sparse file,
// radosgw; an MDS and ceph-fuse mounts for CephFS on demand) in a temp directory, every daemon in
// the foreground on 127.0.0.1 and stopped by PID when the object goes away. radosgw serves S3 with
// one user whose keys are fixed, over plain HTTP and over HTTPS with a self-signed certificate.
// Start-up throws with the daemons' logs when a step fails: tests fail, never skip.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace regfs::testing {

class CephCluster {
 public:
  static constexpr const char* kAccessKey = "REGFSTESTACCESSKEY01";
  static constexpr const char* kSecretKey = "regfs-test-secret-key-0123456789abcdefghij";
  static constexpr const char* kRegion = "us-east-1";

  CephCluster();
  ~CephCluster();
  CephCluster(const CephCluster&) = delete;
  CephCluster& operator=(const CephCluster&) = delete;

  // "http://127.0.0.1:PORT"
  std::string s3Endpoint() const { return "http://127.0.0.1:" + std::to_string(rgwPort_); }
  int s3Port() const { return rgwPort_; }
  // "https://127.0.0.1:PORT": the same gateway over TLS, with a self-signed certificate for
  // IP:127.0.0.1 and DNS:localhost (`s3Certificate()`, its own CA).
  std::string s3HttpsEndpoint() const {
    return "https://127.0.0.1:" + std::to_string(rgwHttpsPort_);
  }
  int s3HttpsPort() const { return rgwHttpsPort_; }
  const std::filesystem::path& s3Certificate() const { return certificate_; }
  // How long start-up took, monitor to a radosgw that answers.
  std::chrono::milliseconds startTime() const { return startTime_; }

  // Creates a bucket (PUT /bucket signed with the test user's keys).
  void createBucket(const std::string& bucket) const;
  // Keys of every object in `bucket` (ListObjectsV2 through radosgw-admin).
  std::vector<std::string> listObjects(const std::string& bucket) const;
  // Stops radosgw (by PID) / starts it again on the same port.
  void stopGateway();
  void startGateway();

  // CephFS: on first use creates its pools and file system and starts an MDS; then mounts
  // it with ceph-fuse as client `client` (one per simulated host) on a new directory.
  // Mounts are unmounted and their processes stopped by PID with the cluster.
  std::filesystem::path mountCephFs(const std::string& client);

  // The YAML block of distribution's s3 driver for `bucket` (under `storage:`), indented
  // by two spaces; blob GETs are redirected to presigned URLs only with `redirect`.
  std::string storageYaml(const std::string& bucket, const std::string& rootdirectory = "/",
                          bool redirect = false) const;

  std::string logs() const;

 private:
  CommandResult ceph(const std::vector<std::string>& args) const;
  void waitForOsd();
  void waitForGateway();

  TempDir dir_;
  std::filesystem::path conf_;
  int rgwPort_ = 0;
  int rgwHttpsPort_ = 0;
  std::filesystem::path certificate_;
  std::chrono::milliseconds startTime_{0};
  void startMds();

  std::unique_ptr<Process> mon_, osd_, rgw_, mds_;
  std::vector<std::pair<std::filesystem::path, std::unique_ptr<Process>>> mounts_;
};

// A relay in front of a cluster's radosgw (tests/support/s3_proxy.py): it logs the line of
// every request that goes through, and with `dropAnswerTo` (a Python regular expression)
// loses the answer to the first request whose line matches it (radosgw carries it out, the
// client's connection is closed instead of answered) and answers a retry of it with 404
// NoSuchUpload, as AWS S3 answers a repeated CompleteMultipartUpload; with `holdFirst`, holds
// the first request whose line matches it for `holdSeconds` before it goes on (a slow
// request). Stopped by PID when the object goes away.
class S3Relay {
 public:
  explicit S3Relay(const CephCluster& ceph, const std::string& dropAnswerTo = "",
                   const std::string& holdFirst = "", double holdSeconds = 0);
  ~S3Relay();
  S3Relay(const S3Relay&) = delete;
  S3Relay& operator=(const S3Relay&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The cluster's storageYaml with this relay as the endpoint.
  std::string storageYaml(const std::string& bucket) const;
  // "METHOD TARGET" of every request so far, in order; a lost answer adds "DROPPED ...".
  std::vector<std::string> requests() const;

 private:
  const CephCluster& ceph_;
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace regfs::testing
