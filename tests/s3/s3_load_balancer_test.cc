// Replicas behind a load balancer: two regfs-servers on one bucket behind nginx, which sends
// each request to the next replica in turn (no sticky sessions), so the requests of one
// push and one pull are spread over both. docs/storage.md ("Replicas behind a load balancer")
// shows the same nginx settings.
#include <gtest/gtest.h>

#include <set>

#include "shared_ceph.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/nginx.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

TEST(S3LoadBalancerTest, ReplicasBehindRoundRobinServeOneRegistry) {
  ASSERT_TRUE(haveProgram("nginx")) << "nginx is required (scripts/setup.sh installs nginx-light)";
  ASSERT_TRUE(haveProgram("skopeo")) << "skopeo is required (scripts/setup.sh installs it)";
  RegfsServerOptions options;
  options.storage = sharedCeph().storageYaml(newBucket());
  options.env["REGISTRY_STORAGE_S3_CHUNKSIZE"] = std::to_string(5 << 20);
  RegfsServer a({}, options);
  RegfsServer b({}, options);
  // nginx sends each request to the next replica in turn.
  NginxProxy proxy({{"/v2/", {a.host(), b.host()}}});

  TempDir work;
  OciLayout oci(work / "oci");
  Blob small = oci.addLayer({{"etc/hello", "hello through the balancer"}});
  Blob big = oci.addLayer({{"opt/big.bin", randomBytes(12 << 20, 21)}});
  Blob image = oci.addImage({small, big});
  oci.tag("v1", image);
  auto pushed = skopeoCopy(oci.ref("v1"), "docker://" + proxy.host() + "/library/balanced:v1");
  ASSERT_EQ(pushed.status, 0) << pushed.err << a.log() << b.log();

  // Every blob upload took several requests; round-robin sent them to both replicas.
  std::set<std::string> uploadReplicas, allReplicas;
  for (const std::string& line : proxy.requests()) {
    std::string upstream = line.substr(line.rfind(' ') + 1);
    if (upstream == "-") continue;  // answered by nginx itself (skopeo tries https first)
    allReplicas.insert(upstream);
    if (line.find("/blobs/uploads/") != std::string::npos) uploadReplicas.insert(upstream);
  }
  EXPECT_EQ(uploadReplicas.size(), 2u)
      << "upload requests reached only " << uploadReplicas.size() << " replica(s)";

  OciLayout back(work / "back");
  auto pulled = skopeoCopy("docker://" + proxy.host() + "/library/balanced:v1", back.ref("v1"));
  ASSERT_EQ(pulled.status, 0) << pulled.err << a.log() << b.log();
  for (const Blob& blob : {small, big, image}) {
    std::string hex = blob.digest.substr(7);
    EXPECT_TRUE(readFile(back.dir() / "blobs" / "sha256" / hex) == blob.bytes)
        << blob.digest << " differs";
  }
  // Each replica on its own serves what went in through the balancer.
  for (const RegfsServer* s : {&a, &b}) {
    Reply manifest = http("GET", s->url() + "/v2/library/balanced/manifests/v1",
                          {"-H", "Accept: application/vnd.oci.image.manifest.v1+json"});
    EXPECT_EQ(manifest.status, 200) << s->log();
    EXPECT_TRUE(manifest.body == image.bytes);
  }
  EXPECT_EQ(allReplicas, (std::set<std::string>{a.host(), b.host()}));
}

}  // namespace
}  // namespace regfs::testing
