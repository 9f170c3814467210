#include "common/storage/s3_signing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "common/percent.h"

namespace regfs::sigv4 {
namespace {

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size)) {
    throw Error(ErrorKind::kInternal, "HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), size);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// Sorted lower-case names with their trimmed values.
std::vector<std::pair<std::string, std::string>> canonicalHeaders(const Request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) headers.emplace_back(lower(name), trim(value));
  std::sort(headers.begin(), headers.end());
  return headers;
}

std::string signedHeaders(const Request& request) {
  std::string out;
  for (const auto& [name, value] : canonicalHeaders(request)) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string scope(const Credentials& credentials, const std::string& amzDate) {
  return amzDate.substr(0, 8) + "/" + credentials.region + "/" + credentials.service +
         "/aws4_request";
}

}  // namespace

std::string hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

std::string sha256Hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr)) {
    throw Error(ErrorKind::kInternal, "SHA-256 failed");
  }
  return hex(out, size);
}

std::string uriEncode(std::string_view text, bool encodeSlash) {
  return percentEncode(text, encodeSlash ? "" : "/");
}

std::string canonicalQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [name, value] : query) {
    encoded.emplace_back(uriEncode(name, true), uriEncode(value, true));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string canonicalRequest(const Request& request) {
  std::string out = request.method + "\n" + uriEncode(request.path, false) + "\n" +
                    canonicalQuery(request.query) + "\n";
  for (const auto& [name, value] : canonicalHeaders(request)) out += name + ":" + value + "\n";
  out += "\n" + signedHeaders(request) + "\n" + request.payloadHash;
  return out;
}

std::string stringToSign(const Request& request, const Credentials& credentials,
                         const std::string& amzDate) {
  return "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope(credentials, amzDate) + "\n" +
         sha256Hex(canonicalRequest(request));
}

namespace {

std::string signature(const Request& request, const Credentials& credentials,
                      const std::string& amzDate) {
  std::string key = hmac("AWS4" + credentials.secretKey, amzDate.substr(0, 8));
  key = hmac(key, credentials.region);
  key = hmac(key, credentials.service);
  key = hmac(key, "aws4_request");
  std::string mac = hmac(key, stringToSign(request, credentials, amzDate));
  return hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

}  // namespace

std::string authorization(const Request& request, const Credentials& credentials,
                          const std::string& amzDate) {
  return "AWS4-HMAC-SHA256 Credential=" + credentials.accessKey + "/" +
         scope(credentials, amzDate) + ",SignedHeaders=" + signedHeaders(request) +
         ",Signature=" + signature(request, credentials, amzDate);
}

std::string presignedQuery(const std::string& method, const std::string& path,
                           const std::string& host, const Credentials& credentials,
                           const std::string& amzDate, int expires) {
  Request request{method,
                  path,
                  {{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
                   {"X-Amz-Credential", credentials.accessKey + "/" + scope(credentials, amzDate)},
                   {"X-Amz-Date", amzDate},
                   {"X-Amz-Expires", std::to_string(expires)},
                   {"X-Amz-SignedHeaders", "host"}},
                  {{"host", host}},
                  "UNSIGNED-PAYLOAD"};
  return canonicalQuery(request.query) +
         "&X-Amz-Signature=" + signature(request, credentials, amzDate);
}

}  // namespace regfs::sigv4
