// regfs-server on S3 (radosgw): skopeo and docker push and pull, the reference registry's s3-aws
// driver on the same bucket in both directions, replicas sharing one bucket, replicas on
// CephFS through two ceph-fuse mounts, regfsctl and regfs-mount on the bucket.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <regex>
#include <thread>

#include "shared_ceph.h"
#include "support/dockerd.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/server.h"
#include "support/view_fixture.h"

namespace regfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::map<std::string, std::string> blobsOf(const std::filesystem::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir / "blobs" / "sha256")) {
    out[e.path().filename().string()] = readFile(e.path());
  }
  return out;
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class S3RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(haveProgram("skopeo")) << "skopeo is required (scripts/setup.sh installs it)";
    bucket = newBucket();
    storage = sharedCeph().storageYaml(bucket);
  }

  RegfsServerOptions s3Options() const {
    RegfsServerOptions o;
    o.storage = storage;
    // chunksize at S3's minimum part, so a 12 MiB layer takes several parts.
    o.env["REGISTRY_STORAGE_S3_CHUNKSIZE"] = std::to_string(5 << 20);
    return o;
  }

  // An image with a small layer and one of 12 MiB of random bytes (several parts).
  Blob makeImage(OciLayout& oci, const std::string& tag, unsigned seed) {
    Blob small = oci.addLayer({{"etc/hello", "hello from " + tag}});
    Blob big = oci.addLayer({{"opt/big.bin", randomBytes(12 << 20, seed)}});
    Blob image = oci.addImage({small, big});
    oci.tag(tag, image);
    return image;
  }

  // Pulls `ref` into a fresh layout and checks every blob of `oci` it names came back.
  void expectPullsBack(const std::string& ref, const OciLayout& oci, const std::string& tag) {
    OciLayout back(work / ("back-" + tag + std::to_string(pulls_++)));
    auto r = skopeoCopy(ref, back.ref(tag));
    ASSERT_EQ(r.status, 0) << r.err;
    auto pushed = blobsOf(oci.dir());
    auto pulled = blobsOf(back.dir());
    EXPECT_GE(pulled.size(), 4u) << "config, manifest, two layers";
    for (const auto& [hex, bytes] : pulled) {
      ASSERT_TRUE(pushed.count(hex)) << hex << " was not pushed";
      EXPECT_TRUE(pushed.at(hex) == bytes) << hex << " differs";
    }
  }

  void expectReplicasServeOneRegistry(const std::vector<RegfsServer*>& replicas);

  // Pushes a new image through `server` as `repoTag` and writes work/config.yml naming the
  // bucket, for the tools that take a config as ROOT.
  Blob pushForTools(RegfsServer& server, const std::string& repoTag, unsigned seed) {
    OciLayout oci(work / ("oci-" + std::to_string(seed)));
    Blob image = makeImage(oci, "t", seed);
    auto r = skopeoCopy(oci.ref("t"), "docker://" + server.host() + "/" + repoTag);
    EXPECT_EQ(r.status, 0) << r.err << server.log();
    writeFile(work / "config.yml", "version: 0.1\nstorage:\n" + storage);
    return image;
  }

  TempDir work;
  std::string bucket;
  std::string storage;
  int pulls_ = 0;
};

TEST_F(S3RegistryTest, SkopeoPushesAndPullsThroughRegfsOnS3) {
  OciLayout oci(work / "oci");
  Blob image = makeImage(oci, "v1", 1);
  RegfsServerOptions options = s3Options();
  options.env["REGISTRY_HEALTH_STORAGEDRIVER_ENABLED"] = "true";
  RegfsServer server({}, options);
  // The storage check is named after the driver, as distribution names it.
  EXPECT_NE(server.log().find("health check storagedriver_s3:"), std::string::npos) << server.log();
  auto start = Clock::now();
  auto r = skopeoCopy(oci.ref("v1"), "docker://" + server.host() + "/library/app:v1");
  ASSERT_EQ(r.status, 0) << r.err << server.log();
  double push = secondsSince(start);
  start = Clock::now();
  expectPullsBack("docker://" + server.host() + "/library/app:v1", oci, "v1");
  std::cout << "[s3] skopeo through regfs on radosgw, ~12 MiB image: push " << push << " s, pull "
            << secondsSince(start) << " s" << std::endl;

  // The objects are where distribution's S3 driver keeps them, and no upload is left.
  auto keys = sharedCeph().listObjects(bucket);
  std::string hex = image.digest.substr(7);
  EXPECT_NE(std::find(keys.begin(), keys.end(),
                      "docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data"),
            keys.end());
  EXPECT_NE(
      std::find(keys.begin(), keys.end(),
                "docker/registry/v2/repositories/library/app/_manifests/tags/v1/current/link"),
      keys.end());
  for (const auto& k : uploadKeysLeft(bucket)) ADD_FAILURE() << "left behind: " << k;

  // Range requests on a blob streamed from S3.
  auto manifest = curl({"-sS", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                        server.url() + "/v2/library/app/manifests/v1"});
  ASSERT_EQ(manifest.out, image.bytes);
  Reply ranged = http("GET", server.url() + "/v2/library/app/blobs/" + image.digest,
                      {"-H", "Range: bytes=2-9"});
  EXPECT_EQ(ranged.status, 206);
  EXPECT_EQ(ranged.body, image.bytes.substr(2, 8));
}

TEST_F(S3RegistryTest, DockerPushesPullsAndRunsThroughRegfsOnS3) {
  DockerDaemon& daemon = sharedDockerDaemon();
  RegfsServer server({}, s3Options());
  const std::string local = "regfs-busybox:s3";
  const std::string remote = server.host() + "/library/busybox:s3";
  importBusyboxImage(daemon, local);
  auto docker = [&](const std::vector<std::string>& args) {
    CommandResult r = daemon.docker(args);
    EXPECT_EQ(r.status, 0) << args[0] << ": " << r.out << r.err << "\n--- registry log ---\n"
                           << server.log();
    return r;
  };
  docker({"tag", local, remote});
  docker({"push", remote});
  docker({"rmi", local, remote});
  docker({"pull", remote});
  CommandResult ran =
      docker({"run", "--rm", "--network", "none", remote, "/bin/echo", "hello from s3"});
  EXPECT_EQ(ran.out, "hello from s3\n");
  docker({"rmi", remote});
}

TEST_F(S3RegistryTest, BlobGetsRedirectToPresignedUrlsUnlessDisabled) {
  OciLayout oci(work / "oci");
  Blob image = makeImage(oci, "v1", 8);
  RegfsServerOptions o = s3Options();
  o.storage = sharedCeph().storageYaml(bucket, "/", /*redirect=*/true);
  RegfsServer server({}, o);
  auto r = skopeoCopy(oci.ref("v1"), "docker://" + server.host() + "/library/app:v1");
  ASSERT_EQ(r.status, 0) << r.err << server.log();
  std::string blobUrl = server.url() + "/v2/library/app/blobs/" + image.digest;
  Reply redirected = http("GET", blobUrl);
  EXPECT_EQ(redirected.status, 307);
  std::string location = redirected.header("location");
  EXPECT_EQ(
      location.rfind(sharedCeph().s3Endpoint() + "/" + bucket + "/docker/registry/v2/blobs/", 0),
      0u)
      << location;
  EXPECT_NE(location.find("X-Amz-Signature="), std::string::npos) << location;
  EXPECT_EQ(http("HEAD", blobUrl).status, 200) << "HEAD is answered by regfs";
  auto followed = curl({"-sS", "-L", blobUrl});
  EXPECT_EQ(followed.out, image.bytes) << "the presigned URL serves the blob";
  expectPullsBack("docker://" + server.host() + "/library/app:v1", oci, "v1");
}

TEST_F(S3RegistryTest, ReferenceRegistryServesWhatRegfsWroteAndTheReverse) {
  OciLayout oci(work / "oci");
  makeImage(oci, "from-regfs", 2);
  makeImage(oci, "from-reference", 3);
  RegfsServer server({}, s3Options());
  auto reference = ReferenceRegistry::withStorage(storage);

  auto start = Clock::now();
  auto r = skopeoCopy(oci.ref("from-regfs"), "docker://" + server.host() + "/team/app:from-regfs");
  ASSERT_EQ(r.status, 0) << r.err << server.log();
  std::cout << "[s3] skopeo through regfs on radosgw, ~12 MiB image: push " << secondsSince(start)
            << " s" << std::endl;
  expectPullsBack("docker://" + reference->host() + "/team/app:from-regfs", oci, "from-regfs");

  start = Clock::now();
  r = skopeoCopy(oci.ref("from-reference"),
                 "docker://" + reference->host() + "/team/app:from-reference");
  ASSERT_EQ(r.status, 0) << r.err << reference->log();
  std::cout << "[s3] skopeo through the reference registry on radosgw, ~12 MiB image: push "
            << secondsSince(start) << " s" << std::endl;
  expectPullsBack("docker://" + server.host() + "/team/app:from-reference", oci, "from-reference");

  auto tags = curl({"-sS", server.url() + "/v2/team/app/tags/list"});
  EXPECT_NE(tags.out.find("from-regfs"), std::string::npos) << tags.out;
  EXPECT_NE(tags.out.find("from-reference"), std::string::npos) << tags.out;
}

// Servers on one store serve one registry: a chunked upload started on the first and
// continued, one chunk each, on every other (each sees what the one before wrote), a push
// through the first pulled through the last, one image pushed through all at once.
void S3RegistryTest::expectReplicasServeOneRegistry(const std::vector<RegfsServer*>& replicas) {
  ASSERT_GE(replicas.size(), 2u);
  RegfsServer& first = *replicas.front();
  RegfsServer& last = *replicas.back();

  // Chunks of 6 MiB, the last of 3 MiB: one per replica.
  const size_t chunk = 6 << 20;
  std::string blob = randomBytes(chunk * (replicas.size() - 1) + (3 << 20), 4);
  std::string digest = digestOf(blob);
  Reply started = http("POST", first.url() + "/v2/library/split/blobs/uploads/");
  ASSERT_EQ(started.status, 202) << started.body;
  std::string location = started.header("location");
  ASSERT_FALSE(location.empty());
  std::string path = location.substr(location.find("/v2/"));
  for (size_t i = 0; i < replicas.size(); ++i) {
    RegfsServer& replica = *replicas[i];
    size_t offset = i * chunk;
    if (i > 0) {
      Reply status = http("GET", replica.url() + path);
      EXPECT_EQ(status.status, 204);
      EXPECT_EQ(status.header("range"), "0-" + std::to_string(offset - 1))
          << "replica " << i << " sees the chunks before";
    }
    std::string piece = blob.substr(offset, std::min(chunk, blob.size() - offset));
    auto file = work / ("chunk" + std::to_string(i));
    writeFile(file, piece);
    Reply patched = http("PATCH", replica.url() + path,
                         {"-H", "Content-Type: application/octet-stream", "-H",
                          "Content-Range: " + std::to_string(offset) + "-" +
                              std::to_string(offset + piece.size() - 1),
                          "--data-binary", "@" + file.string()});
    ASSERT_EQ(patched.status, 202) << "replica " << i << ": " << patched.body << replica.log();
    EXPECT_EQ(patched.header("range"), "0-" + std::to_string(offset + piece.size() - 1));
  }
  std::string sep = path.find('?') == std::string::npos ? "?" : "&";
  Reply committed = http("PUT", last.url() + path + sep + "digest=" + digest);
  ASSERT_EQ(committed.status, 201) << committed.body << last.log();
  for (RegfsServer* replica : replicas) {
    Reply fetched = http("GET", replica->url() + "/v2/library/split/blobs/" + digest);
    EXPECT_EQ(fetched.status, 200);
    EXPECT_TRUE(fetched.body == blob)
        << "every replica serves the blob (" << fetched.body.size() << " bytes)";
  }

  // An image pushed through the first is pulled through the last.
  OciLayout oci(work / "oci");
  makeImage(oci, "replicated", 5);
  auto r =
      skopeoCopy(oci.ref("replicated"), "docker://" + first.host() + "/library/app:replicated");
  ASSERT_EQ(r.status, 0) << r.err << first.log();
  expectPullsBack("docker://" + last.host() + "/library/app:replicated", oci, "replicated");

  // The same image pushed through every replica at once: all succeed, all serve it.
  makeImage(oci, "together", 6);
  std::vector<CommandResult> pushes(replicas.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < replicas.size(); ++i) {
    threads.emplace_back([&, i] {
      pushes[i] =
          skopeoCopy(oci.ref("together"), "docker://" + replicas[i]->host() + "/library/same:t");
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < replicas.size(); ++i) {
    ASSERT_EQ(pushes[i].status, 0)
        << "replica " << i << ": " << pushes[i].err << replicas[i]->log();
  }
  for (RegfsServer* replica : replicas) {
    expectPullsBack("docker://" + replica->host() + "/library/same:t", oci, "together");
  }
}

TEST_F(S3RegistryTest, ThreeReplicasOnOneBucketServeOneRegistry) {
  RegfsServer a({}, s3Options());
  RegfsServer b({}, s3Options());
  RegfsServer c({}, s3Options());
  expectReplicasServeOneRegistry({&a, &b, &c});
  for (const auto& k : uploadKeysLeft(bucket)) ADD_FAILURE() << "left behind: " << k;
}

TEST_F(S3RegistryTest, ReplicasOnCephFsServeOneRegistry) {
  // Two simulated hosts: each replica on its own ceph-fuse mount of one file system.
  auto hostA = sharedCeph().mountCephFs("hosta");
  auto hostB = sharedCeph().mountCephFs("hostb");
  std::filesystem::create_directories(hostA / "registry");
  RegfsServer a(hostA / "registry");
  RegfsServer b(hostB / "registry");
  expectReplicasServeOneRegistry({&a, &b});
  EXPECT_TRUE(std::filesystem::exists(
      hostB / "registry/docker/registry/v2/repositories/library/same/_manifests"));
}

TEST_F(S3RegistryTest, RegfsctlWorksOnTheBucketAConfigNames) {
  RegfsServer server({}, s3Options());
  Blob image;
  ASSERT_NO_FATAL_FAILURE(image = pushForTools(server, "library/tool:v1", 7));
  auto du = regfsctl({"du", (work / "config.yml").string()});
  ASSERT_EQ(du.status, 0) << du.err;
  EXPECT_NE(du.out.find("library/tool"), std::string::npos) << du.out;
  auto fsck = regfsctl({"fsck", (work / "config.yml").string()});
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;

  // Untagged and unreferenced, the image's blobs go with a garbage collection.
  Reply deleted = http("DELETE", server.url() + "/v2/library/tool/manifests/" + image.digest);
  ASSERT_EQ(deleted.status, 202) << deleted.body;
  auto gc = regfsctl(
      {"garbage-collect", (work / "config.yml").string(), "--grace", "0s", "--settle", "0s"});
  ASSERT_EQ(gc.status, 0) << gc.out << gc.err;
  for (const auto& k : sharedCeph().listObjects(bucket)) {
    EXPECT_EQ(k.find("docker/registry/v2/blobs/"), std::string::npos)
        << k << " outlived the collection";
  }
  fsck = regfsctl({"fsck", (work / "config.yml").string()});
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
}

// The listings of the bucket among the requests a relay saw: ListObjectsV2 and
// ListMultipartUploads, less the driver's start-up probe (one key, no prefix) and those
// confined to one object's own prefix (".../<hex>/": a stat, move or removal of one blob
// or link), with their prefixes.
std::vector<std::string> bucketListings(const S3Relay& relay) {
  static const std::regex kListing(R"(^GET /[^/?]+\?(.*&)?(list-type=2|uploads=)(&|$))");
  static const std::regex kPrefix(R"((^|&)prefix=([^&]*))");
  static const std::regex kOneObject(R"(%2F[0-9a-f]{64}(%2F|$))");
  std::vector<std::string> prefixes;
  for (const std::string& request : relay.requests()) {
    if (!std::regex_search(request, kListing)) continue;
    std::string query = request.substr(request.find('?') + 1);
    std::smatch prefix;
    if (!std::regex_search(query, prefix, kPrefix)) {
      EXPECT_NE(query.find("max-keys=1"), std::string::npos)
          << "a listing of the whole bucket: " << request;
      continue;
    }
    if (std::regex_search(prefix[2].str(), kOneObject)) continue;
    prefixes.push_back(std::regex_replace(prefix[2].str(), std::regex("%2F"), "/"));
  }
  return prefixes;
}

TEST_F(S3RegistryTest, GarbageCollectionListsTheBucketOnce) {
  RegfsServer server({}, s3Options());
  Blob kept, gone;
  ASSERT_NO_FATAL_FAILURE(kept = pushForTools(server, "library/kept:v1", 10));
  ASSERT_NO_FATAL_FAILURE(gone = pushForTools(server, "library/gone:v1", 11));
  Reply deleted = http("DELETE", server.url() + "/v2/library/gone/manifests/" + gone.digest);
  ASSERT_EQ(deleted.status, 202) << deleted.body;
  auto collect = [&](bool dryRun) {
    // regfsctl reaches radosgw through a relay that logs every request.
    S3Relay relay(sharedCeph());
    writeFile(work / "relayed.yml", "version: 0.1\nstorage:\n" + relay.storageYaml(bucket));
    std::vector<std::string> argv = {(binDir() / "regfsctl").string(),
                                     "garbage-collect",
                                     (work / "relayed.yml").string(),
                                     "--grace",
                                     "0s",
                                     "--settle",
                                     "0s"};
    if (dryRun) argv.push_back("--dry-run");
    auto gc = run(argv);
    EXPECT_EQ(gc.status, 0) << gc.out << gc.err;
    return bucketListings(relay);
  };

  // Marking and deciding what goes share one listing of the store.
  EXPECT_EQ(collect(true), std::vector<std::string>{"docker/registry/v2/"});
  // Sweeping lists the repositories once more, after the settle, for what writers did
  // meanwhile; nothing else is listed.
  EXPECT_EQ(collect(false),
            (std::vector<std::string>{"docker/registry/v2/", "docker/registry/v2/repositories/"}));

  auto keys = sharedCeph().listObjects(bucket);
  auto blobKey = [](const Blob& b) {
    std::string hex = b.digest.substr(7);
    return "docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
  };
  EXPECT_EQ(std::count(keys.begin(), keys.end(), blobKey(gone)), 0)
      << "the deleted image was swept";
  EXPECT_EQ(std::count(keys.begin(), keys.end(), blobKey(kept)), 1) << "the tagged one was kept";
  auto fsck = regfsctl({"fsck", (work / "config.yml").string()});
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
}

TEST_F(S3RegistryTest, ViewMountsTheBucketAConfigNames) {
  RegfsServer server({}, s3Options());
  Blob image;
  ASSERT_NO_FATAL_FAILURE(image = pushForTools(server, "library/app:v1", 9));
  MountedView view(work / "config.yml", work / "mnt");

  auto repo = view.path() / "library/app";
  EXPECT_EQ(std::filesystem::read_symlink(repo / "v1").string(), "@" + image.digest);
  auto dir = repo / ("@" + image.digest);
  EXPECT_EQ(readFile(dir / "manifest.json"), image.bytes);
  int layers = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "layers")) {
    // NN-<hex>.tar.gz: the bytes read through ranged GETs hash to the name.
    std::string name = e.path().filename().string();
    std::string hex = name.substr(3, 64);
    EXPECT_EQ(sha256Hex(readFile(e.path())), hex) << name << view.log();
    ++layers;
  }
  EXPECT_EQ(layers, 2);
}

// Images as files on S3: the view's rootfs/ reads files in place through ranged GETs, building
// the layer indexes in the bucket on first access; regfsctl sees and checks them there.
TEST_F(S3RegistryTest, ViewShowsTheFilesInsideImagesOnTheBucket) {
  RegfsServer server({}, s3Options());
  ASSERT_NO_FATAL_FAILURE(pushForTools(server, "library/app:v1", 10));
  MountedView view(work / "config.yml", work / "mnt");
  auto rootfs = view.path() / "library/app/v1/rootfs";
  EXPECT_EQ(readFile(rootfs / "etc/hello"), "hello from t") << view.log();
  EXPECT_EQ(sha256Hex(readFile(rootfs / "opt/big.bin")), sha256Hex(randomBytes(12 << 20, 10)));
  EXPECT_EQ(xattr(rootfs / "opt/big.bin", "user.oci.layer").substr(0, 7), "sha256:");

  auto du = regfsctl({"du", (work / "config.yml").string(), "--json"});
  ASSERT_EQ(du.status, 0) << du.err;
  EXPECT_NE(du.out.find("\"layerIndexes\": 2"), std::string::npos) << du.out;
  auto fsck = regfsctl({"fsck", (work / "config.yml").string()});
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
  EXPECT_NE(fsck.out.find("2 layer indexes checked: clean"), std::string::npos) << fsck.out;
}

TEST_F(S3RegistryTest, WrongCredentialsStopTheStart) {
  RegfsServerOptions o = s3Options();
  o.env["REGISTRY_STORAGE_S3_SECRETKEY"] = "wrong";
  try {
    RegfsServer server({}, o);
    FAIL() << "regfs-server started with a wrong secret key";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("secretkey"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace regfs::testing
