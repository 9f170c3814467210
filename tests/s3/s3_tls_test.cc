// regfs on S3 over HTTPS: radosgw's TLS endpoint has a self-signed certificate, which
// storage.s3.skipverify accepts and nothing else does unless its CA is trusted.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "common/storage/s3_driver.h"
#include "common/store/layout.h"
#include "shared_ceph.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

// storage.s3 on the shared cluster's HTTPS port. `regionendpoint` is "127.0.0.1:PORT"
// (no scheme: `secure` decides) unless `endpoint` names one; `extra` adds s3 keys.
std::string httpsStorage(const std::string& bucket, const std::string& endpoint, bool secure,
                         const std::string& extra = "") {
  std::string yaml = sharedCeph().storageYaml(bucket);
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = yaml.find(from);
    if (at == std::string::npos) throw std::runtime_error("no '" + from + "' in " + yaml);
    yaml.replace(at, from.size(), to);
  };
  replace("regionendpoint: " + sharedCeph().s3Endpoint(), "regionendpoint: " + endpoint);
  replace("secure: false\n", std::string("secure: ") + (secure ? "true" : "false") + "\n" + extra);
  return yaml;
}

std::string tlsHostPort() { return "127.0.0.1:" + std::to_string(sharedCeph().s3HttpsPort()); }

class S3TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(haveProgram("skopeo")) << "skopeo is required (scripts/setup.sh installs it)";
    bucket = newBucket();
  }

  // Options for a server on `storage`, with neither variable that trusts a CA set, so the
  // certificate is checked against libcurl's default bundle alone.
  static RegfsServerOptions options(const std::string& storage) {
    RegfsServerOptions o;
    o.storage = storage;
    o.env["REGISTRY_STORAGE_S3_CHUNKSIZE"] = std::to_string(5 << 20);  // several parts per layer
    o.env["SSL_CERT_FILE"] = "";                                       // unset
    o.env["SSL_CERT_DIR"] = "";
    return o;
  }

  // What regfs-server says when it does not start on `o` ("" if it started).
  static std::string startFailure(const RegfsServerOptions& o) {
    try {
      RegfsServer server({}, o);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  TempDir work;
  std::string bucket;
};

TEST_F(S3TlsTest, SkopeoAndRegfsctlWorkOverHttpsWithSkipVerify) {
  // `secure: true` makes https of a scheme-less endpoint; the certificate is self-signed.
  std::string storage = httpsStorage(bucket, tlsHostPort(), true, "    skipverify: true\n");
  RegfsServer server({}, options(storage));

  OciLayout oci(work / "oci");
  Blob small = oci.addLayer({{"etc/hello", "hello over https"}});
  Blob big = oci.addLayer({{"opt/big.bin", randomBytes(12 << 20, 11)}});  // three parts
  Blob image = oci.addImage({small, big});
  oci.tag("v1", image);
  auto start = Clock::now();
  auto r = skopeoCopy(oci.ref("v1"), "docker://" + server.host() + "/library/tls:v1");
  ASSERT_EQ(r.status, 0) << r.err << server.log();
  double push = std::chrono::duration<double>(Clock::now() - start).count();

  OciLayout back(work / "back");
  r = skopeoCopy("docker://" + server.host() + "/library/tls:v1", back.ref("v1"));
  ASSERT_EQ(r.status, 0) << r.err << server.log();
  for (const Blob& b : {small, big, image}) {
    std::string hex = b.digest.substr(7);
    EXPECT_TRUE(readFile(back.dir() / "blobs" / "sha256" / hex) == b.bytes)
        << b.digest << " differs";
  }
  std::cout << "[s3] skopeo push of ~12 MiB through regfs on radosgw over https: " << push << " s"
            << std::endl;

  // A range across the first part boundary, streamed from S3 over TLS.
  const uint64_t boundary = 5 << 20;
  Reply ranged = http("GET", server.url() + "/v2/library/tls/blobs/" + big.digest,
                      {"-H", "Range: bytes=" + std::to_string(boundary - 10) + "-" +
                                 std::to_string(boundary + 19)});
  EXPECT_EQ(ranged.status, 206);
  EXPECT_TRUE(ranged.body == big.bytes.substr(boundary - 10, 30));

  // The objects are in the bucket: read over the cluster's plain HTTP endpoint.
  auto plain = makeS3Driver(s3Config(bucket));
  EXPECT_TRUE(plain->read(layout::blobData(Digest::parse(big.digest))) == big.bytes);
  for (const auto& k : sharedCeph().listObjects(bucket)) {
    EXPECT_EQ(k.find("/_uploads/"), std::string::npos) << k;
  }

  // regfsctl on a config naming the same https storage.
  writeFile(work / "config.yml", "version: 0.1\nstorage:\n" + storage);
  auto regfsctl = [&](const std::string& command) {
    return testing::regfsctl({command, (work / "config.yml").string()},
                             {{"SSL_CERT_FILE", ""}, {"SSL_CERT_DIR", ""}});
  };
  auto du = regfsctl("du");
  ASSERT_EQ(du.status, 0) << du.err;
  EXPECT_NE(du.out.find("library/tls"), std::string::npos) << du.out;
  auto fsck = regfsctl("fsck");
  EXPECT_EQ(fsck.status, 0) << fsck.out << fsck.err;
}

TEST_F(S3TlsTest, UntrustedCertificateStopsTheStart) {
  std::string endpoint = "https://" + tlsHostPort();
  std::string storage = httpsStorage(bucket, tlsHostPort(), true);

  // Verified by default: the self-signed certificate is refused, at once and by name.
  std::string failure = startFailure(options(storage));
  EXPECT_NE(failure.find("storage.s3: the TLS certificate of " + endpoint + " was not trusted"),
            std::string::npos)
      << failure;
  EXPECT_NE(failure.find("skipverify"), std::string::npos) << failure;
  EXPECT_NE(
      startFailure(options(httpsStorage(bucket, tlsHostPort(), true, "    skipverify: false\n")))
          .find("was not trusted"),
      std::string::npos);

  // regfsctl refuses it the same way.
  writeFile(work / "config.yml", "version: 0.1\nstorage:\n" + storage);
  auto du = regfsctl({"du", (work / "config.yml").string()},
                     {{"SSL_CERT_FILE", ""}, {"SSL_CERT_DIR", ""}});
  EXPECT_NE(du.status, 0);
  EXPECT_NE(du.err.find("the TLS certificate of " + endpoint + " was not trusted"),
            std::string::npos)
      << du.err;

  // REGISTRY_STORAGE_S3_SKIPVERIFY turns the check off, as distribution reads it.
  RegfsServerOptions skip = options(storage);
  skip.env["REGISTRY_STORAGE_S3_SKIPVERIFY"] = "true";
  EXPECT_EQ(startFailure(skip), "");

  // Verification itself works: with the certificate trusted (SSL_CERT_FILE, as Go reads
  // it) the same config starts, skipverify off.
  RegfsServerOptions trusted = options(storage);
  trusted.env["SSL_CERT_FILE"] = sharedCeph().s3Certificate().string();
  EXPECT_EQ(startFailure(trusted), "");
}

TEST_F(S3TlsTest, AnEndpointsSchemeWinsOverSecure) {
  // As in distribution (the AWS SDK adds a scheme only to an endpoint without one):
  // https:// with secure: false is still TLS, http:// with secure: true still plain.
  EXPECT_EQ(startFailure(options(
                httpsStorage(bucket, "https://" + tlsHostPort(), false, "    skipverify: true\n"))),
            "");
  EXPECT_NE(startFailure(options(httpsStorage(bucket, "https://" + tlsHostPort(), false)))
                .find("was not trusted"),
            std::string::npos);
  EXPECT_EQ(startFailure(options(httpsStorage(bucket, sharedCeph().s3Endpoint(), true))), "");
}

}  // namespace
}  // namespace regfs::testing
