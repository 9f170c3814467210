#pragma once
// AWS Signature Version 4 (HMAC-SHA256 from OpenSSL): what the S3 client signs every request
// with, and presigned URLs. Pure functions of their arguments (the caller passes the time),
// so tests check them against the examples AWS publishes.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace regfs::sigv4 {

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
// Lower-case hex of `size` bytes, as SigV4 writes hashes and signatures.
std::string hex(const unsigned char* data, size_t size);

}  // namespace regfs::sigv4
