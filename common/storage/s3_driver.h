#pragma once
// StorageDriver over an S3-compatible object store (AWS S3, Ceph radosgw, ...), configured
// with distribution's storage.s3 keys. Object keys are distribution's: the driver path
// under rootdirectory with the leading '/' dropped, so the reference registry on the same
// bucket serves what regfs wrote and the reverse.
//
// Requests are signed with AWS Signature Version 4 (HMAC-SHA256 from OpenSSL) and sent
// with libcurl over a pool of easy handles, so connections are reused across requests.
// Transient failures (connection errors, 5xx, 429) are retried with exponential backoff.
// Over https the endpoint's certificate is verified against libcurl's CA bundle (or
// SSL_CERT_FILE / SSL_CERT_DIR, as Go reads them) unless storage.s3.skipverify.
//
// S3 has no directories, appends or renames:
//  - a directory is a key prefix ending in '/'; list() is ListObjectsV2 with a delimiter;
//  - openAppend() writes a multipart upload (one part filling in memory while up to three
//    earlier ones are sent: at most four chunksize parts), which any process can resume:
//    it finds the upload in progress by key and lists its parts; commit() completes it
//    into the object;
//  - createExclusive() is a conditional PUT (If-None-Match: *), which radosgw and AWS S3
//    carry out atomically;
//  - readStream() is one GET whose body goes to the caller as it arrives; a failure
//    midway is retried from the first byte not yet handed over;
//  - move() is a server-side copy followed by a delete (object by object for a
//    directory): not atomic. Objects above storage.s3.multipartcopythresholdsize are
//    copied as distribution does, in parts of multipartcopychunksize (UploadPartCopy),
//    multipartcopymaxconcurrency at once: one CopyObject stops at 5 GiB.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "common/storage/driver.h"

namespace regfs {

// Connects to the bucket and checks that the credentials can list it; throws
// Error(kConfigInvalid) naming the problem (wrong keys, no such bucket, unreachable).
// With `redirect`, redirectUrl() answers presigned GET URLs (storage.redirect.disable
// false, distribution's default for s3).
std::shared_ptr<StorageDriver> makeS3Driver(const S3StorageConfig& config, bool redirect = false);

// distribution's object key for a driver path: rootdirectory without its trailing '/',
// then the path, with every leading '/' dropped.
std::string s3Key(std::string_view rootdirectory, std::string_view path);

namespace sigv4 {

// What Signature Version 4 signs of one request.
struct Request {
  std::string method;
  std::string path;  // the URI path, not yet encoded ("/bucket/key")
  std::vector<std::pair<std::string, std::string>> query;    // not yet encoded
  std::vector<std::pair<std::string, std::string>> headers;  // every header to sign
  std::string payloadHash;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct Credentials {
  std::string accessKey;
  std::string secretKey;
  std::string region;
  std::string service = "s3";
};

// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is
// %XX (upper case); '/' stays unless `encodeSlash`.
std::string uriEncode(std::string_view text, bool encodeSlash);
std::string canonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);
std::string canonicalRequest(const Request& request);
std::string stringToSign(const Request& request, const Credentials& credentials,
                         const std::string& amzDate);
// The value of the Authorization header; `amzDate` is "YYYYMMDDTHHMMSSZ".
std::string authorization(const Request& request, const Credentials& credentials,
                          const std::string& amzDate);
// The query string of a presigned URL (X-Amz-Algorithm ... X-Amz-Signature) for `method`
// on `path` at `host`, valid for `expires` seconds from `amzDate`.
std::string presignedQuery(const std::string& method, const std::string& path,
                           const std::string& host, const Credentials& credentials,
                           const std::string& amzDate, int expires);
std::string sha256Hex(std::string_view data);

}  // namespace sigv4
}  // namespace regfs
