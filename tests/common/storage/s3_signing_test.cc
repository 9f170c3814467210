// SigV4 against the worked examples AWS publishes (S3's "Signature Calculations for the
// Authorization Header", its presigned URL example, and the get-vanilla case of the Signature
// Version 4 test suite), and distribution's object keys. No network.
#include <gtest/gtest.h>

#include "common/storage/s3_driver.h"
#include "common/storage/s3_signing.h"

namespace regfs {
namespace {

using sigv4::Credentials;
using sigv4::Request;

const std::string kEmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const Credentials kS3Example{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                             "us-east-1", "s3"};
const std::string kS3Date = "20130524T000000Z";

Request s3Get(std::string path, std::vector<std::pair<std::string, std::string>> query = {}) {
  Request r{"GET", std::move(path), std::move(query), {}, kEmptyHash};
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-date", kS3Date},
               {"x-amz-content-sha256", kEmptyHash}};
  return r;
}

TEST(SigV4, GetObjectWithRange) {
  Request r = s3Get("/test.txt");
  r.headers.emplace_back("Range", "bytes=0-9");
  EXPECT_EQ(sigv4::canonicalRequest(r),
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:" +
                kEmptyHash +
                "\nx-amz-date:20130524T000000Z\n\n"
                "host;range;x-amz-content-sha256;x-amz-date\n" +
                kEmptyHash);
  EXPECT_EQ(sigv4::stringToSign(r, kS3Example, kS3Date),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(sigv4::authorization(r, kS3Example, kS3Date),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, PutObjectWithReservedCharacterInKey) {
  std::string body = "Welcome to Amazon S3.";
  Request r{"PUT", "/test$file.text", {}, {}, sigv4::sha256Hex(body)};
  EXPECT_EQ(r.payloadHash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", kS3Date},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", r.payloadHash}};
  EXPECT_NE(sigv4::canonicalRequest(r).find("\n/test%24file.text\n"), std::string::npos);
  EXPECT_EQ(sigv4::authorization(r, kS3Example, kS3Date),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, SubresourceWithoutValue) {
  Request r = s3Get("/", {{"lifecycle", ""}});
  EXPECT_EQ(sigv4::canonicalQuery(r.query), "lifecycle=");
  EXPECT_EQ(sigv4::authorization(r, kS3Example, kS3Date),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
            "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, ListObjectsQueryIsSorted) {
  Request r = s3Get("/", {{"prefix", "J"}, {"max-keys", "2"}});
  EXPECT_EQ(sigv4::canonicalQuery(r.query), "max-keys=2&prefix=J");
  EXPECT_EQ(sigv4::authorization(r, kS3Example, kS3Date),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, TestSuiteGetVanilla) {
  Credentials c{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service"};
  Request r{"GET",
            "/",
            {},
            {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
            kEmptyHash};
  EXPECT_EQ(sigv4::authorization(r, c, "20150830T123600Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,"
            "SignedHeaders=host;x-amz-date,"
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, PresignedUrl) {
  std::string query = sigv4::presignedQuery("GET", "/test.txt", "examplebucket.s3.amazonaws.com",
                                            kS3Example, kS3Date, 86400);
  EXPECT_EQ(query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%"
            "2Fus-east-1%2Fs3%2F"
            "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&"
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4, UriEncoding) {
  EXPECT_EQ(sigv4::uriEncode("a-b_c.d~e/f g+h=i", false), "a-b_c.d~e/f%20g%2Bh%3Di");
  EXPECT_EQ(sigv4::uriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(sigv4::uriEncode("\xc3\xa9", true), "%C3%A9");
  // Query values are encoded (a continuation token may hold '/', '+' and '=').
  EXPECT_EQ(sigv4::canonicalQuery({{"continuation-token", "1/a+b="}, {"b", ""}, {"a", "x y"}}),
            "a=x%20y&b=&continuation-token=1%2Fa%2Bb%3D");
}

TEST(S3Key, DistributionsLayout) {
  const std::string path = "/docker/registry/v2/blobs/sha256/ab/abcd/data";
  EXPECT_EQ(s3Key("", path), "docker/registry/v2/blobs/sha256/ab/abcd/data");
  EXPECT_EQ(s3Key("/", path), "docker/registry/v2/blobs/sha256/ab/abcd/data");
  EXPECT_EQ(s3Key("/some/prefix/", path),
            "some/prefix/docker/registry/v2/blobs/sha256/ab/abcd/data");
  EXPECT_EQ(s3Key("some/prefix", path), "some/prefix/docker/registry/v2/blobs/sha256/ab/abcd/data");
  EXPECT_EQ(s3Key("/", "/"), "");
  EXPECT_EQ(s3Key("/prefix", "/"), "prefix/");
}

}  // namespace
}  // namespace regfs
