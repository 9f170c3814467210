// Repository delete and scheduled garbage collection on S3 (radosgw): a repository deleted
// through the API leaves _catalog; two replicas on the bucket with regfs.gc set run the
// collection once per interval between them (the lease in the bucket) and take the deleted
// repository's blobs; the other repository still pulls, through regfs and through Debian's
// docker-registry on the same bucket.
#include <gtest/gtest.h>

#include <chrono>

#include "common/digest.h"
#include "common/storage/s3_driver.h"
#include "common/store/layout.h"
#include "common/store/lease.h"
#include "common/store/store.h"
#include "shared_ceph.h"
#include "support/image.h"
#include "support/poll.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kRunLine[] = "blobs marked; removed";

TEST(S3RepositoryDeleteTest, DeletedThenCollectedByOneReplicaPerInterval) {
  ASSERT_TRUE(haveProgram("skopeo")) << "skopeo is required (scripts/setup.sh installs it)";
  TempDir work;
  std::string bucket = newBucket();
  std::string storage = sharedCeph().storageYaml(bucket);
  Store store(makeS3Driver(s3Config(bucket)));
  OciLayout oci(work / "oci");
  Blob base = oci.addLayer({{"etc/base", "shared by both repositories"}});
  Blob keptLayer = oci.addLayer({{"kept", "in the repository that stays"}});
  Blob goneLayer = oci.addLayer({{"gone", "in the repository that is deleted"}});
  Blob kept = oci.addImage({base, keptLayer});
  Blob gone = oci.addImage({base, goneLayer});
  oci.tag("kept", kept);
  oci.tag("gone", gone);
  {
    RegfsServerOptions o;
    o.storage = storage;
    RegfsServer server({}, o);
    ASSERT_EQ(skopeoCopy(oci.ref("kept"), "docker://" + server.host() + "/keep/app:v1").status, 0);
    ASSERT_EQ(skopeoCopy(oci.ref("gone"), "docker://" + server.host() + "/gone/app:v1").status, 0);
    Reply r = http("DELETE", server.url() + "/v2/gone/app/_regfs/repository");
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(http("GET", server.url() + "/v2/_catalog").body,
              "{\"repositories\":[\"keep/app\"]}\n");
    EXPECT_EQ(http("DELETE", server.url() + "/v2/gone/app/_regfs/repository").status, 404);
  }
  EXPECT_TRUE(store.statBlob(Digest::parse(goneLayer.digest))) << "blobs wait for the collection";

  RegfsServerOptions gc;
  gc.storage = storage;
  gc.extraConfig = "regfs:\n  gc:\n    interval: 2s\n    grace: 0s\n    settle: 300ms\n";
  auto start = std::chrono::steady_clock::now();
  MetricsServer a({}, gc);
  MetricsServer b({}, gc);
  auto runs = [&] {
    return occurrences(a.server->log(), kRunLine) + occurrences(b.server->log(), kRunLine);
  };
  ASSERT_TRUE(waitUntil([&] { return runs() >= 3; }, 90s)) << a.server->log() << b.server->log();
  size_t done = runs();
  size_t terms = static_cast<size_t>((std::chrono::steady_clock::now() - start) / 2s) + 1;
  EXPECT_LE(done, terms) << a.server->log() << b.server->log();
  EXPECT_EQ(sampleValue(a.metrics(), "regfs_gc_failures_total") +
                sampleValue(b.metrics(), "regfs_gc_failures_total"),
            0.0);
  Lease lease(store.driverPtr(), layout::gcLease(), "test");
  EXPECT_TRUE(lease.read()) << "the lease is an object in the bucket";

  EXPECT_FALSE(store.statBlob(Digest::parse(goneLayer.digest)));
  EXPECT_FALSE(store.statBlob(Digest::parse(gone.digest)));
  EXPECT_TRUE(store.statBlob(Digest::parse(base.digest)));
  EXPECT_TRUE(store.statBlob(Digest::parse(keptLayer.digest)));
  OciLayout back(work / "back");
  auto pulled = skopeoCopy("docker://" + b.server->host() + "/keep/app:v1", back.ref("v1"));
  EXPECT_EQ(pulled.status, 0) << pulled.err;
  auto reference = ReferenceRegistry::withStorage(storage);
  OciLayout fromReference(work / "from-reference");
  pulled = skopeoCopy("docker://" + reference->host() + "/keep/app:v1", fromReference.ref("v1"));
  EXPECT_EQ(pulled.status, 0) << pulled.err << reference->log();
}

}  // namespace
}  // namespace regfs::testing
