#include "common/storage/s3_driver.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <pugixml.hpp>
#include <thread>
#include <variant>

#include "common/curl.h"
#include "common/error.h"
#include "common/utc.h"

namespace regfs {

std::string s3Key(std::string_view rootdirectory, std::string_view path) {
  std::string root(rootdirectory);
  while (!root.empty() && root.back() == '/') root.pop_back();
  std::string key = root + std::string(path);
  size_t start = key.find_first_not_of('/');
  return start == std::string::npos ? std::string() : key.substr(start);
}

// ---------------------------------------------------------------------------------------
// Signature Version 4

namespace sigv4 {
namespace {

std::string hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

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

std::string sha256Hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr)) {
    throw Error(ErrorKind::kInternal, "SHA-256 failed");
  }
  return hex(out, size);
}

std::string uriEncode(std::string_view text, bool encodeSlash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (c == '/' && !encodeSlash)) {
      out += ch;
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  return out;
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

}  // namespace sigv4

// ---------------------------------------------------------------------------------------
// HTTP

namespace {

using Query = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr uint64_t kMinPart = uint64_t{5} << 20;  // S3's smallest part but the last
constexpr int kAttempts = 6;                      // backoff 50 ms .. 1.6 s, ~3 s in all
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);

constexpr uint64_t kMaxReserve = 16 << 20;
constexpr long kStreamBuffer = 256 << 10;  // bytes per write callback of a streamed GET
// Parts one writer sends at once: S3 takes parts in parallel, so a few in flight keep the
// link busy while the next one fills. Memory: this many chunksize parts plus one (40 MiB
// with the default 8 MiB parts).
constexpr size_t kPartsInFlight = 4;
constexpr int kRedirectSeconds = 20 * 60;  // distribution's presigned URLs last 20 minutes

struct HttpReply {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

size_t appendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t appendHeader(char* data, size_t size, size_t count, void* user) {
  auto* reply = static_cast<HttpReply*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    reply->headers.clear();  // a new response (after 100 Continue)
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    if (name == "content-length") {  // one allocation for a body (a HEAD's too: capped)
      uint64_t length = std::strtoull(std::string(value).c_str(), nullptr, 10);
      reply->body.reserve(static_cast<size_t>(std::min<uint64_t>(length, kMaxReserve)));
    }
    reply->headers[name] = std::string(value);
  }
  return size * count;
}

// A GET whose body goes to a sink as it arrives instead of into HttpReply::body.
struct BodyStream {
  const std::function<bool(std::string_view)>* sink;
  uint64_t start = 0;      // the first byte asked for
  uint64_t length = 0;     // bytes wanted from `start`
  uint64_t delivered = 0;  // handed to the sink, over all attempts
  uint64_t skipped = 0;    // bytes before `start` in a 200 that ignored the range
  bool stopped = false;    // the sink said stop
  CURL* handle = nullptr;
  HttpReply* reply = nullptr;
};

size_t streamBody(char* data, size_t size, size_t count, void* user) {
  auto* s = static_cast<BodyStream*>(user);
  size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(s->handle, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200 && status != 206) {  // an error document
    s->reply->body.append(data, n);
    return n;
  }
  std::string_view piece(data, n);
  if (status == 200) {  // the whole object: drop what comes before the range
    uint64_t from = s->start + s->delivered;
    uint64_t drop = std::min<uint64_t>(piece.size(), from > s->skipped ? from - s->skipped : 0);
    s->skipped += drop;
    piece.remove_prefix(static_cast<size_t>(drop));
  }
  piece = piece.substr(
      0, static_cast<size_t>(std::min<uint64_t>(piece.size(), s->length - s->delivered)));
  if (!piece.empty() && !(*s->sink)(piece)) {
    s->stopped = true;
    return 0;  // aborts the transfer
  }
  s->delivered += piece.size();
  // All wanted: stop a 200 that would go on past the range.
  return s->delivered == s->length && status == 200 ? 0 : n;
}

timespec parseTime(const std::string& text, const char* format) {
  struct tm tm {};
  timespec ts{};
  if (::strptime(text.c_str(), format, &tm)) ts.tv_sec = ::timegm(&tm);
  return ts;
}

timespec httpTime(const std::string& text) { return parseTime(text, "%a, %d %b %Y %H:%M:%S"); }
timespec isoTime(const std::string& text) { return parseTime(text, "%Y-%m-%dT%H:%M:%S"); }

// The S3 error code of an error body ("" when there is none).
std::string errorCodeOf(const std::string& body) {
  pugi::xml_document doc;
  if (!doc.load_string(body.c_str())) return {};
  return doc.child("Error").child_value("Code");
}

std::string errorMessageOf(const std::string& body) {
  pugi::xml_document doc;
  if (!doc.load_string(body.c_str())) return {};
  return doc.child("Error").child_value("Message");
}

pugi::xml_document parseXml(const HttpReply& reply, const std::string& what) {
  pugi::xml_document doc;
  if (!doc.load_string(reply.body.c_str())) {
    throw Error(ErrorKind::kIo, "S3 " + what + ": the answer is not XML");
  }
  return doc;
}

// A pool of curl easy handles: each keeps its connections open between requests.
class HandlePool {
 public:
  ~HandlePool() {
    for (CURL* h : free_) curl_easy_cleanup(h);
  }
  CURL* take() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return curl_easy_init();
    CURL* h = free_.back();
    free_.pop_back();
    return h;
  }
  void give(CURL* h) {
    std::lock_guard lock(mutex_);
    free_.push_back(h);
  }

 private:
  std::mutex mutex_;
  std::vector<CURL*> free_;
};

// What x-amz-content-sha256 says of a request body. kUnsigned spares both ends a SHA-256
// pass over large bodies (parts): the transfer is guarded by TLS over https (secure: true,
// the default), and a blob's bytes by its digest, which regfs computes as they arrive and
// every client checks on pull. Small bodies are signed: it costs nothing.
enum class Payload { kSigned, kUnsigned };

struct Part {
  int number = 0;
  std::string etag;
  uint64_t size = 0;
};

struct MultipartUpload {
  std::string uploadId;
  timespec initiated{};
};

std::string unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

// S3's ETag of an object completed from `parts`: the MD5 of their binary MD5s, then "-"
// and their count; nullopt when a part's ETag is not an MD5 (then nothing can be derived).
std::optional<std::string> multipartEtag(const std::vector<Part>& parts) {
  std::string md5s;
  for (const Part& p : parts) {
    std::string hexMd5 = unquote(p.etag);
    if (hexMd5.size() != 32 || hexMd5.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return std::nullopt;
    }
    for (size_t i = 0; i < 32; i += 2)
      md5s += static_cast<char>(std::stoi(hexMd5.substr(i, 2), nullptr, 16));
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!EVP_Digest(md5s.data(), md5s.size(), out, &size, EVP_md5(), nullptr)) return std::nullopt;
  return sigv4::hex(out, size) + "-" + std::to_string(parts.size());
}

class S3Client {
 public:
  explicit S3Client(const S3StorageConfig& config) : config_(config) {
    initCurl();
    std::string endpoint = config.regionEndpoint;
    if (endpoint.empty()) endpoint = "s3." + config.region + ".amazonaws.com";
    if (endpoint.find("://") == std::string::npos) {
      endpoint = (config.secure ? "https://" : "http://") + endpoint;
    }
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    endpoint_ = endpoint;
    host_ = endpoint.substr(endpoint.find("://") + 3);
    host_ = host_.substr(0, host_.find('/'));
    credentials_ = {config.accessKey, config.secretKey,
                    config.region.empty() ? "us-east-1" : config.region, "s3"};
    // How a private CA is trusted (CaTrust): libcurl reads neither variable by itself.
    caFile_ = config.trust.file;
    caDir_ = config.trust.dir;
  }

  const std::string& bucket() const { return config_.bucket; }

  // A GET of `key` anyone may make for `expires` seconds.
  std::string presignedGet(const std::string& key, int expires) const {
    std::string path = "/" + config_.bucket + "/" + key;
    return endpoint_ + sigv4::uriEncode(path, false) + "?" +
           sigv4::presignedQuery("GET", path, host_, credentials_, utcNow("%Y%m%dT%H%M%SZ"),
                                 expires);
  }

  // One request with retries. `key` empty: the bucket itself.
  HttpReply send(const std::string& method, const std::string& key, const Query& query = {},
                 std::string_view body = {}, const Headers& extra = {},
                 Payload payload = Payload::kSigned) const {
    std::string what = method + " " + (key.empty() ? config_.bucket : key);
    auto backoff = kFirstBackoff;
    for (int attempt = 1;; ++attempt) {
      std::string failure;
      try {
        auto started = std::chrono::steady_clock::now();
        HttpReply reply = once(method, key, query, body, extra, payload);
        if (spdlog::should_log(spdlog::level::debug)) {
          spdlog::debug(
              "S3 {} {}: {} ({} bytes sent) in {:.1f} ms", what,
              query.empty() ? "" : query.front().first, reply.status, body.size(),
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                  .count());
        }
        bool transient = reply.status >= 500 || reply.status == 429;
        if (!transient) return reply;
        failure = "HTTP " + std::to_string(reply.status) + " " + errorCodeOf(reply.body);
        if (attempt == kAttempts) return reply;
      } catch (const Error& e) {
        failure = e.what();
        if (attempt == kAttempts || e.kind() == ErrorKind::kConfigInvalid) throw;
      }
      spdlog::debug("S3 {}: {} (attempt {} of {}), retrying in {} ms", what, failure, attempt,
                    kAttempts, backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
  }

  // One GET of `length` bytes from `offset` whose body goes to `sink` as it arrives. A
  // transient failure midway is retried from the first byte not yet handed over.
  void stream(const std::string& key, uint64_t offset, uint64_t length,
              const std::function<bool(std::string_view)>& sink) const {
    BodyStream stream{&sink, offset, length};
    auto backoff = kFirstBackoff;
    for (int failures = 1;; ++failures) {
      uint64_t before = stream.delivered;
      std::string range = "bytes=" + std::to_string(offset + stream.delivered) + "-" +
                          std::to_string(offset + length - 1);
      std::string failure;
      stream.skipped = 0;
      HttpReply reply;
      try {
        reply = once("GET", key, {}, {}, {{"Range", range}}, Payload::kSigned, &stream);
      } catch (const Error& e) {
        failure = e.what();  // the connection failed, maybe midway
      }
      if (failure.empty()) {
        if (stream.stopped) return;
        if (reply.status < 500 && reply.status != 429) {
          check(reply, "GET " + key);
          if (stream.delivered < length)
            throw Error(ErrorKind::kIo, "S3 GET " + key + ": the object is shorter");
          return;
        }
        failure = "HTTP " + std::to_string(reply.status) + " " + errorCodeOf(reply.body);
      }
      if (stream.delivered > before) {  // progress: the next failure starts a fresh count
        failures = 1;
        backoff = kFirstBackoff;
      } else if (failures >= kAttempts) {
        throw Error(ErrorKind::kIo, "S3 GET " + key + " " + range + ": " + failure);
      }
      spdlog::debug("S3 GET {} {}: {} (attempt {} of {}), retrying in {} ms", key, range, failure,
                    failures, kAttempts, backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
  }

  // Throws unless the reply is a 2xx: kNotFound for a missing key, kIo otherwise.
  static void check(const HttpReply& reply, const std::string& what) {
    if (reply.status >= 200 && reply.status < 300) return;
    std::string code = errorCodeOf(reply.body);
    std::string message = "S3 " + what + ": HTTP " + std::to_string(reply.status);
    if (!code.empty()) message += " " + code;
    if (std::string detail = errorMessageOf(reply.body); !detail.empty())
      message += " (" + detail + ")";
    if (reply.status == 404 && (code.empty() || code == "NoSuchKey")) {
      throw Error(ErrorKind::kNotFound, message);
    }
    throw Error(ErrorKind::kIo, message);
  }

  // Some answers (CopyObject, CompleteMultipartUpload) are 200 with an error inside.
  static void checkBody(const HttpReply& reply, const std::string& what) {
    check(reply, what);
    std::string code = errorCodeOf(reply.body);
    if (!code.empty())
      throw Error(ErrorKind::kIo, "S3 " + what + ": " + code + " " + errorMessageOf(reply.body));
  }

  // Multipart uploads in progress on exactly `key`, or on keys under `key` + "/" when
  // `subtree`; key -> uploads.
  std::vector<std::pair<std::string, MultipartUpload>> multipartUploads(const std::string& key,
                                                                        bool subtree) const {
    std::vector<std::pair<std::string, MultipartUpload>> out;
    std::string keyMarker, idMarker;
    while (true) {
      Query query = {{"uploads", ""}, {"prefix", key}};
      if (!keyMarker.empty()) {
        query.emplace_back("key-marker", keyMarker);
        query.emplace_back("upload-id-marker", idMarker);
      }
      HttpReply reply = send("GET", "", query);
      check(reply, "list multipart uploads " + key);
      auto doc = parseXml(reply, "list multipart uploads");
      auto result = doc.child("ListMultipartUploadsResult");
      for (auto upload : result.children("Upload")) {
        std::string k = upload.child_value("Key");
        bool match = k == key || (subtree && k.size() > key.size() && k[key.size()] == '/');
        if (match) {
          out.emplace_back(k, MultipartUpload{upload.child_value("UploadId"),
                                              isoTime(upload.child_value("Initiated"))});
        }
      }
      if (std::string(result.child_value("IsTruncated")) != "true") break;
      keyMarker = result.child_value("NextKeyMarker");
      idMarker = result.child_value("NextUploadIdMarker");
      if (keyMarker.empty()) break;
    }
    return out;
  }

  std::vector<Part> listParts(const std::string& key, const std::string& uploadId) const {
    std::vector<Part> parts;
    std::string marker;
    while (true) {
      Query query = {{"uploadId", uploadId}};
      if (!marker.empty()) query.emplace_back("part-number-marker", marker);
      HttpReply reply = send("GET", key, query);
      check(reply, "list parts of " + key);
      auto doc = parseXml(reply, "list parts");
      auto result = doc.child("ListPartsResult");
      for (auto part : result.children("Part")) {
        parts.push_back(Part{std::atoi(part.child_value("PartNumber")), part.child_value("ETag"),
                             std::strtoull(part.child_value("Size"), nullptr, 10)});
      }
      if (std::string(result.child_value("IsTruncated")) != "true") break;
      marker = result.child_value("NextPartNumberMarker");
      if (marker.empty()) break;
    }
    std::sort(parts.begin(), parts.end(),
              [](const Part& a, const Part& b) { return a.number < b.number; });
    // Parts are sent several at once, so a failure can leave later ones stored after a
    // gap: the file is the parts before the first gap; appending overwrites the rest.
    size_t prefix = 0;
    while (prefix < parts.size() && parts[prefix].number == static_cast<int>(prefix) + 1) ++prefix;
    parts.resize(prefix);
    return parts;
  }

  std::string createMultipartUpload(const std::string& key) const {
    HttpReply reply =
        send("POST", key, {{"uploads", ""}}, {}, {{"Content-Type", "application/octet-stream"}});
    check(reply, "start multipart upload " + key);
    auto doc = parseXml(reply, "start multipart upload");
    std::string id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
    if (id.empty())
      throw Error(ErrorKind::kIo, "S3 start multipart upload " + key + ": no UploadId");
    return id;
  }

  void completeMultipartUpload(const std::string& key, const std::string& uploadId,
                               const std::vector<Part>& parts) const {
    std::string xml = "<CompleteMultipartUpload>";
    for (const Part& p : parts) {
      xml += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" + p.etag +
             "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    HttpReply reply =
        send("POST", key, {{"uploadId", uploadId}}, xml, {{"Content-Type", "application/xml"}});
    // Completing is idempotent: when an attempt took effect but its answer was lost, the
    // retry finds no upload, and the object those parts make is already at the key.
    if (reply.status == 404 && errorCodeOf(reply.body) == "NoSuchUpload" &&
        isCompletedFrom(key, parts)) {
      spdlog::info("S3 complete multipart upload {}: the upload is gone and its object stands",
                   key);
      return;
    }
    checkBody(reply, "complete multipart upload " + key);
  }

  // True when the object at `key` is the one completing `parts` makes: their total size,
  // and the multipart ETag S3 derives from theirs (when those are MD5s, as usual).
  bool isCompletedFrom(const std::string& key, const std::vector<Part>& parts) const {
    HttpReply head = send("HEAD", key);
    if (head.status != 200) return false;
    uint64_t size = 0;
    for (const Part& p : parts) size += p.size;
    if (std::strtoull(head.header("content-length").c_str(), nullptr, 10) != size) return false;
    std::optional<std::string> expected = multipartEtag(parts);
    return !expected || unquote(head.header("etag")) == *expected;
  }

  void abortMultipartUpload(const std::string& key, const std::string& uploadId) const {
    HttpReply reply = send("DELETE", key, {{"uploadId", uploadId}});
    if (reply.status == 404) return;  // already gone
    check(reply, "abort multipart upload " + key);
  }

  std::string copySource(const std::string& key) const {
    return "/" + config_.bucket + "/" + sigv4::uriEncode(key, false);
  }

  void copyObject(const std::string& from, const std::string& to) const {
    HttpReply reply = send("PUT", to, {}, {}, {{"x-amz-copy-source", copySource(from)}});
    checkBody(reply, "copy " + from + " to " + to);
  }

  // UploadPartCopy: part `number` of upload `uploadId` on `to` is `length` bytes of the
  // object `from` at `offset`, or all of it when `length` is 0.
  Part copyPart(const std::string& from, const std::string& to, const std::string& uploadId,
                int number, uint64_t offset = 0, uint64_t length = 0) const {
    Headers headers = {{"x-amz-copy-source", copySource(from)}};
    if (length > 0) {
      headers.emplace_back("x-amz-copy-source-range", "bytes=" + std::to_string(offset) + "-" +
                                                          std::to_string(offset + length - 1));
    }
    std::string what = "copy part " + std::to_string(number) + " of " + from + " to " + to;
    HttpReply reply = send(
        "PUT", to, {{"partNumber", std::to_string(number)}, {"uploadId", uploadId}}, {}, headers);
    checkBody(reply, what);
    pugi::xml_document doc;
    doc.load_string(reply.body.c_str());
    std::string etag = doc.child("CopyPartResult").child_value("ETag");
    if (etag.empty()) throw Error(ErrorKind::kIo, "S3 " + what + ": no ETag");
    return Part{number, etag, length};
  }

  // Copies the `size` bytes of `from` to `to` as distribution does: in one CopyObject up
  // to the threshold (which S3 refuses past 5 GiB), above it in parts of the copy chunk
  // size, up to the configured number at once.
  void copy(const std::string& from, const std::string& to, uint64_t size) const {
    if (size <= config_.multipartCopyThresholdSize) {
      copyObject(from, to);
      return;
    }
    uint64_t chunk = config_.multipartCopyChunkSize;
    size_t count = static_cast<size_t>((size + chunk - 1) / chunk);
    std::string uploadId = createMultipartUpload(to);
    std::vector<Part> parts(count);
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex failureMutex;
    std::string failure;
    auto worker = [&] {
      while (!failed) {
        size_t i = next++;
        if (i >= count) return;
        uint64_t offset = i * chunk;
        try {
          parts[i] = copyPart(from, to, uploadId, static_cast<int>(i + 1), offset,
                              std::min(chunk, size - offset));
        } catch (const std::exception& e) {
          std::lock_guard lock(failureMutex);
          if (!failed.exchange(true)) failure = e.what();
        }
      }
    };
    std::vector<std::thread> workers;
    size_t width =
        static_cast<size_t>(std::min<uint64_t>(config_.multipartCopyMaxConcurrency, count));
    for (size_t w = 1; w < width; ++w) workers.emplace_back(worker);
    worker();
    for (std::thread& t : workers) t.join();
    try {
      if (failed) throw Error(ErrorKind::kIo, failure);
      completeMultipartUpload(to, uploadId, parts);
    } catch (...) {
      abortMultipartUpload(to, uploadId);
      throw;
    }
  }

  void deleteObject(const std::string& key) const {
    HttpReply reply = send("DELETE", key);
    if (reply.status == 404) return;
    check(reply, "DELETE " + key);
  }

 private:
  HttpReply once(const std::string& method, const std::string& key, const Query& query,
                 std::string_view body, const Headers& extra, Payload payload = Payload::kSigned,
                 BodyStream* stream = nullptr) const {
    std::string path = "/" + config_.bucket + (key.empty() ? "" : "/" + key);
    std::string amzDate = utcNow("%Y%m%dT%H%M%SZ");
    std::string payloadHash =
        payload == Payload::kSigned ? sigv4::sha256Hex(body) : "UNSIGNED-PAYLOAD";
    sigv4::Request signing{method, path, query, {{"host", host_}}, payloadHash};
    signing.headers.emplace_back("x-amz-date", amzDate);
    signing.headers.emplace_back("x-amz-content-sha256", signing.payloadHash);
    for (const auto& [name, value] : extra) {
      if (name.starts_with("x-amz-")) signing.headers.emplace_back(name, value);
    }

    CURL* h = pool_.take();
    if (!h) throw Error(ErrorKind::kInternal, "curl_easy_init failed");
    struct Give {
      HandlePool& pool;
      CURL* h;
      ~Give() { pool.give(h); }
    } give{pool_, h};
    curl_easy_reset(h);

    std::string url = endpoint_ + sigv4::uriEncode(path, false);
    std::string q = sigv4::canonicalQuery(query);
    if (!q.empty()) url += "?" + q;
    curl_slist* list = nullptr;
    for (const auto& [name, value] : signing.headers) {
      if (name != "host") list = curl_slist_append(list, (name + ": " + value).c_str());
    }
    for (const auto& [name, value] : extra) {
      if (!name.starts_with("x-amz-"))
        list = curl_slist_append(list, (name + ": " + value).c_str());
    }
    list = curl_slist_append(
        list, ("Authorization: " + sigv4::authorization(signing, credentials_, amzDate)).c_str());
    list = curl_slist_append(list, "Expect:");
    struct FreeList {
      curl_slist* l;
      ~FreeList() { curl_slist_free_all(l); }
    } freeList{list};

    HttpReply reply;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    char curlError[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlError);
    if (config_.skipVerify) {  // distribution's InsecureSkipVerify: neither chain nor name
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!caFile_.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, caFile_.c_str());
    if (!caDir_.empty()) curl_easy_setopt(h, CURLOPT_CAPATH, caDir_.c_str());
    if (stream) {
      stream->handle = h;
      stream->reply = &reply;
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, streamBody);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, stream);
      curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kStreamBuffer);
    } else {
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, appendBody);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply.body);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, appendHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &reply);
    if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
      if (method == "PUT" || method == "POST") {
        // Never a null pointer: libcurl would then read the body from stdin.
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      }
    }
    CURLcode rc = curl_easy_perform(h);
    if (stream && (stream->stopped || stream->delivered == stream->length)) rc = CURLE_OK;
    if (rc != CURLE_OK) {
      std::string detail = curlError[0] ? curlError : curl_easy_strerror(rc);
      // Not transient: no retry, a configuration error.
      if (rc == CURLE_PEER_FAILED_VERIFICATION) {
        throw Error(ErrorKind::kConfigInvalid,
                    "the TLS certificate of " + endpoint_ + " was not trusted (" + detail +
                        "): trust the CA that signed it (the system's CA bundle, or "
                        "SSL_CERT_FILE), or set storage.s3.skipverify: true to not verify it");
      }
      if (rc == CURLE_SSL_CACERT_BADFILE) {
        throw Error(ErrorKind::kConfigInvalid,
                    "cannot read the CA certificates to verify " + endpoint_ + " (" + detail + ")");
      }
      throw Error(ErrorKind::kIo, "S3 " + method + " " + url + ": " + detail);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
    return reply;
  }

  S3StorageConfig config_;
  std::string endpoint_;
  std::string host_;
  std::string caFile_, caDir_;  // SSL_CERT_FILE, SSL_CERT_DIR
  sigv4::Credentials credentials_;
  mutable HandlePool pool_;
};

// ---------------------------------------------------------------------------------------
// Appending: a multipart upload

class S3Writer : public FileWriter {
 public:
  S3Writer(std::shared_ptr<const S3Client> client, std::string key, std::string uploadId,
           std::vector<Part> parts, uint64_t chunkSize)
      : client_(std::move(client)),
        key_(std::move(key)),
        uploadId_(std::move(uploadId)),
        parts_(std::move(parts)),
        chunkSize_(chunkSize) {
    for (const Part& p : parts_) size_ += p.size;
    renumber();
  }

  ~S3Writer() override {
    for (auto& [number, sender] : senders_) sender.wait();
    for (auto& [number, result] : sent_->results) {
      if (auto* error = std::get_if<std::exception_ptr>(&result)) {
        try {
          std::rethrow_exception(*error);
        } catch (const std::exception& e) {
          spdlog::warn("a part of {} was not stored: {}", key_, e.what());
        }
      }
    }
  }

  void write(const void* data, size_t size) override {
    checkUsable();
    if (size == 0) return;
    if (senders_.empty() && !parts_.empty() && parts_.back().size < kMinPart && buffer_.empty()) {
      mergeSmallTail();
    }
    const char* bytes = static_cast<const char*>(data);
    size_ += size;
    while (size > 0) {
      // One allocation per part: the buffer never grows past a part, nor copies itself.
      if (buffer_.capacity() < chunkSize_) buffer_.reserve(static_cast<size_t>(chunkSize_));
      size_t take = std::min<size_t>(size, static_cast<size_t>(chunkSize_ - buffer_.size()));
      buffer_.append(bytes, take);
      bytes += take;
      size -= take;
      if (buffer_.size() >= chunkSize_) uploadBuffer();
    }
  }

  uint64_t size() const override { return size_; }
  void flush() override {
    checkUsable();
    if (!buffer_.empty()) uploadBuffer();
    settle();
  }
  void sync() override { flush(); }
  bool writesBehind() const override { return true; }

  void commit() override {
    flush();
    if (parts_.empty()) {
      if (baseObject_) {  // the complete object is still the whole file
        client_->abortMultipartUpload(key_, uploadId_);
        return;
      }
      // S3 cannot complete an upload without parts: the file is empty.
      client_->abortMultipartUpload(key_, uploadId_);
      auto reply = client_->send("PUT", key_);
      S3Client::check(reply, "PUT " + key_);
      return;
    }
    client_->completeMultipartUpload(key_, uploadId_, parts_);
  }

  // Starts a new multipart upload holding the `size` bytes of the complete object at the
  // key: a copy of it as part 1, or its bytes in the buffer when it is smaller than a part.
  // The object goes once the upload holds its bytes: a file being appended to is the
  // upload alone.
  void restartFromObject(uint64_t size) {
    parts_.clear();
    buffer_.clear();
    size_ = size;
    uploadId_ = client_->createMultipartUpload(key_);
    baseObject_ = true;
    renumber();
    if (size >= kMinPart) {
      Part part = client_->copyPart(key_, key_, uploadId_, 1);
      part.size = size;
      parts_.push_back(part);
      renumber();
      dropBaseObject();
    } else if (size > 0) {
      auto reply = client_->send("GET", key_);
      S3Client::check(reply, "GET " + key_);
      buffer_ = std::move(reply.body);
    }
  }

 private:
  // A part before another must be at least 5 MiB. When the upload ends in a smaller part
  // (a chunk that was flushed), complete it into the object and start over from that.
  void mergeSmallTail() {
    client_->completeMultipartUpload(key_, uploadId_, parts_);
    restartFromObject(size_);
  }

  void dropBaseObject() {
    client_->deleteObject(key_);
    baseObject_ = false;
  }

  // Sends the buffer as the next part in the background while the caller goes on filling
  // a new one: at most kPartsInFlight parts being sent and one filling. A new part starts
  // as soon as any one is stored, not only the oldest: part times vary by a factor of
  // three, and waiting for the oldest would leave the gateway with fewer parts to work on.
  void uploadBuffer() {
    settleUntil(kPartsInFlight - 1);
    int number = nextNumber_++;
    {
      std::lock_guard lock(sent_->mutex);
      sent_->sending++;
    }
    // Counted before it starts, so that it cannot report before it is counted. A thread
    // that cannot be started is counted out again, and its bytes are lost: the writer is
    // broken, as when a part fails.
    std::future<void> sender;
    try {
      sender = std::async(std::launch::async, &S3Writer::sendPart, client_, key_, uploadId_, sent_,
                          number, std::move(buffer_));
    } catch (...) {
      std::lock_guard lock(sent_->mutex);
      sent_->sending--;
      broken_ = true;
      throw;
    }
    senders_.emplace(number, std::move(sender));
    buffer_ = std::string();
  }

  // Waits until at most `sending` parts are still being sent, and records those stored.
  // Parts are recorded in order: one that finished before an earlier one waits for it.
  // When one fails, every other is waited for, those after it are dropped, and the writer
  // refuses any more work (its size counts the lost bytes): the upload stays a prefix of
  // what was written.
  void settleUntil(size_t sending) {
    std::map<int, std::variant<Part, std::exception_ptr>> results;
    bool failed = false;
    {
      std::unique_lock lock(sent_->mutex);
      sent_->changed.wait(lock, [&] { return sent_->sending <= sending; });
      failed = std::any_of(sent_->results.begin(), sent_->results.end(), [](const auto& r) {
        return std::holds_alternative<std::exception_ptr>(r.second);
      });
      if (failed) sent_->changed.wait(lock, [&] { return sent_->sending == 0; });
      results.swap(sent_->results);
    }
    size_t before = parts_.size();
    std::exception_ptr error;
    for (auto& [number, result] : results) {
      if (auto sender = senders_.find(number); sender != senders_.end()) {
        sender->second.wait();  // its thread ends as it reports
        senders_.erase(sender);
      }
      if (error) continue;
      if (auto* e = std::get_if<std::exception_ptr>(&result)) {
        error = *e;
      } else if (number == recordedUpTo_ + 1) {
        parts_.push_back(std::get<Part>(result));
        recordedUpTo_ = number;
        while (!early_.empty() && early_.begin()->first == recordedUpTo_ + 1) {
          parts_.push_back(early_.begin()->second);
          recordedUpTo_++;
          early_.erase(early_.begin());
        }
      } else {
        early_.emplace(number, std::get<Part>(result));
      }
    }
    if (error) {
      broken_ = true;
      early_.clear();
      std::rethrow_exception(error);
    }
    if (baseObject_ && parts_.size() > before) dropBaseObject();
  }

  // Waits for every part in flight.
  void settle() { settleUntil(0); }

  // The next part follows the last one recorded.
  void renumber() {
    recordedUpTo_ = parts_.empty() ? 0 : parts_.back().number;
    nextNumber_ = recordedUpTo_ + 1;
  }

  void checkUsable() const {
    if (broken_) throw Error(ErrorKind::kIo, "S3 upload " + key_ + ": a part was not stored");
  }

  std::shared_ptr<const S3Client> client_;
  std::string key_;
  std::string uploadId_;
  std::vector<Part> parts_;
  uint64_t chunkSize_;
  uint64_t size_ = 0;
  std::string buffer_;
  // What the threads sending parts report: a part stored or why it was not.
  struct Sent {
    std::mutex mutex;
    std::condition_variable changed;
    size_t sending = 0;
    std::map<int, std::variant<Part, std::exception_ptr>> results;
  };
  std::shared_ptr<Sent> sent_ = std::make_shared<Sent>();
  // Stores `body` as part `number` and reports to `sent` how that went.
  static void sendPart(std::shared_ptr<const S3Client> client, std::string key,
                       std::string uploadId, std::shared_ptr<Sent> sent, int number,
                       std::string body) {
    std::variant<Part, std::exception_ptr> result;
    try {
      auto reply =
          client->send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", uploadId}},
                       body, {{"Content-Type", "application/octet-stream"}}, Payload::kUnsigned);
      S3Client::check(reply, "upload part " + std::to_string(number) + " of " + key);
      result = Part{number, reply.header("etag"), body.size()};
    } catch (...) {
      result = std::current_exception();
    }
    std::lock_guard lock(sent->mutex);
    sent->results.emplace(number, std::move(result));
    sent->sending--;
    sent->changed.notify_all();
  }
  std::map<int, std::future<void>> senders_;  // by part number, until their result is taken
  std::map<int, Part> early_;                 // stored before a part with a lower number
  int nextNumber_ = 1;
  int recordedUpTo_ = 0;  // the number of the last part in parts_
  bool baseObject_ = false;
  bool broken_ = false;  // a part failed
};

// ---------------------------------------------------------------------------------------
// The driver

class S3Driver : public StorageDriver {
 public:
  S3Driver(const S3StorageConfig& config, bool redirect)
      : config_(config), redirect_(redirect), client_(std::make_shared<S3Client>(config)) {}

  // One listing of the bucket with the configured keys: a wrong key, secret or bucket is
  // a configuration error, reported before anything else happens.
  void probe() const {
    HttpReply reply;
    try {
      reply = client_->send("GET", "", {{"list-type", "2"}, {"max-keys", "1"}});
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kConfigInvalid) {  // a certificate refused: said as it is
        throw Error(e.kind(), std::string("storage.s3: ") + e.what());
      }
      throw Error(ErrorKind::kConfigInvalid,
                  std::string("storage.s3: cannot reach the bucket: ") + e.what());
    }
    if (reply.status == 200) return;
    std::string code = errorCodeOf(reply.body);
    throw Error(
        ErrorKind::kConfigInvalid,
        "storage.s3: bucket " + config_.bucket + " refused a listing: HTTP " +
            std::to_string(reply.status) + " " + code +
            (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || reply.status == 403
                 ? " (check accesskey and secretkey)"
             : code == "NoSuchBucket" ? " (the bucket does not exist)"
                                      : ""));
  }

  std::optional<FileInfo> stat(const std::string& path) const override {
    std::string k = key(path);
    if (!k.empty()) {
      if (auto file = statFile(path)) return file;
      // A file being appended to is a multipart upload in progress.
      if (auto upload = findUpload(k)) {
        uint64_t size = 0;
        for (const Part& p : client_->listParts(k, upload->uploadId)) size += p.size;
        return FileInfo{size, upload->initiated, false};
      }
    }
    HttpReply reply =
        client_->send("GET", "", {{"list-type", "2"}, {"prefix", dirPrefix(k)}, {"max-keys", "1"}});
    S3Client::check(reply, "list " + dirPrefix(k));
    auto doc = parseXml(reply, "list");
    auto result = doc.child("ListBucketResult");
    if (result.child("Contents") || result.child("CommonPrefixes")) return FileInfo{0, {}, true};
    return std::nullopt;
  }

  std::optional<FileInfo> statFile(const std::string& path) const override {
    std::string k = key(path);
    if (k.empty()) return std::nullopt;
    HttpReply reply = client_->send("HEAD", k);
    if (reply.status == 404) return std::nullopt;
    S3Client::check(reply, "HEAD " + k);
    return FileInfo{std::strtoull(reply.header("content-length").c_str(), nullptr, 10),
                    httpTime(reply.header("last-modified")), false};
  }

  std::string read(const std::string& path) const override {
    std::string k = key(path);
    HttpReply reply = client_->send("GET", k);
    S3Client::check(reply, "GET " + k);
    return std::move(reply.body);
  }

  std::string readRange(const std::string& path, uint64_t offset, uint64_t length) const override {
    if (length == 0) return {};
    std::string k = key(path);
    HttpReply reply = client_->send(
        "GET", k, {}, {},
        {{"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)}});
    if (reply.status == 416) return {};  // at or past the end
    S3Client::check(reply, "GET " + k);
    if (reply.status == 200) {  // the whole object: the range was ignored
      if (offset >= reply.body.size()) return {};
      return reply.body.substr(offset, length);
    }
    return std::move(reply.body);
  }

  void readStream(const std::string& path, uint64_t offset, uint64_t length,
                  const std::function<bool(std::string_view)>& sink) const override {
    if (length > 0) client_->stream(key(path), offset, length, sink);
  }

  void writeAtomic(const std::string& path, std::string_view bytes) override {
    std::string k = key(path);
    HttpReply reply =
        client_->send("PUT", k, {}, bytes, {{"Content-Type", "application/octet-stream"}});
    S3Client::check(reply, "PUT " + k);
  }

  std::unique_ptr<FileWriter> openAppend(const std::string& path) override {
    std::string k = key(path);
    if (auto upload = findUpload(k)) {
      return std::make_unique<S3Writer>(client_, k, upload->uploadId,
                                        client_->listParts(k, upload->uploadId), config_.chunkSize);
    }
    HttpReply head = client_->send("HEAD", k);
    if (head.status != 404) S3Client::check(head, "HEAD " + k);
    if (head.status == 200) {
      // Appending to a complete object: it becomes the start of a new upload.
      auto writer =
          std::make_unique<S3Writer>(client_, k, "", std::vector<Part>{}, config_.chunkSize);
      writer->restartFromObject(std::strtoull(head.header("content-length").c_str(), nullptr, 10));
      return writer;
    }
    return std::make_unique<S3Writer>(client_, k, client_->createMultipartUpload(k),
                                      std::vector<Part>{}, config_.chunkSize);
  }

  bool createExclusive(const std::string& path, std::string_view bytes) override {
    std::string k = key(path);
    HttpReply reply =
        client_->send("PUT", k, {}, bytes,
                      {{"Content-Type", "application/octet-stream"}, {"If-None-Match", "*"}});
    if (reply.status == 412 || reply.status == 409) {
      // 412: the object exists; 409 (AWS): another conditional write to it went first. Ours
      // took effect only if an earlier attempt did and its answer was lost (then the object
      // holds our bytes).
      HttpReply held = client_->send("GET", k);
      return held.status == 200 && held.body == bytes;
    }
    S3Client::check(reply, "PUT " + k);
    return true;
  }

  std::vector<std::string> list(const std::string& path) const override {
    std::string prefix = dirPrefix(key(path));
    std::vector<std::string> names;
    std::string token;
    while (true) {
      Query query = {{"list-type", "2"}, {"prefix", prefix}, {"delimiter", "/"}};
      if (!token.empty()) query.emplace_back("continuation-token", token);
      HttpReply reply = client_->send("GET", "", query);
      S3Client::check(reply, "list " + prefix);
      auto doc = parseXml(reply, "list");
      auto result = doc.child("ListBucketResult");
      for (auto c : result.children("CommonPrefixes")) {
        std::string p = c.child_value("Prefix");
        if (p.size() > prefix.size() + 1)
          names.push_back(p.substr(prefix.size(), p.size() - prefix.size() - 1));
      }
      for (auto c : result.children("Contents")) {
        std::string k = c.child_value("Key");
        if (k.size() > prefix.size() && k.back() != '/') names.push_back(k.substr(prefix.size()));
      }
      if (std::string(result.child_value("IsTruncated")) != "true") break;
      token = result.child_value("NextContinuationToken");
      if (token.empty()) break;
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }

  std::vector<std::pair<std::string, FileInfo>> listTree(const std::string& dir) const override {
    std::string prefix = dirPrefix(key(dir));
    std::vector<std::pair<std::string, FileInfo>> files;
    for (auto& [k, info] : objectsUnder(prefix)) {
      if (k.size() > prefix.size() && k.back() != '/')
        files.emplace_back(dir + "/" + k.substr(prefix.size()), info);
    }
    return files;
  }

  void move(const std::string& from, const std::string& to) override {
    std::string src = key(from), dst = key(to);
    HttpReply head = client_->send("HEAD", src);
    uint64_t size = std::strtoull(head.header("content-length").c_str(), nullptr, 10);
    if (head.status == 404) {
      if (auto upload = findUpload(src)) {
        // A file still being appended to: complete it first.
        S3Writer writer(client_, src, upload->uploadId, client_->listParts(src, upload->uploadId),
                        config_.chunkSize);
        writer.commit();
        size = writer.size();
      } else {
        // A directory: every object under it, one by one.
        std::vector<std::string> keys = keysUnder(dirPrefix(src));
        if (keys.empty()) throw Error(ErrorKind::kNotFound, "S3 move: nothing at " + src);
        for (const std::string& k : keys) {
          client_->copyObject(k, dst + k.substr(src.size()));
          client_->deleteObject(k);
        }
        return;
      }
    } else {
      S3Client::check(head, "HEAD " + src);
    }
    client_->copy(src, dst, size);
    client_->deleteObject(src);
  }

  void remove(const std::string& path) override {
    std::string k = key(path);
    if (!k.empty()) client_->deleteObject(k);
    for (const std::string& under : keysUnder(dirPrefix(k))) client_->deleteObject(under);
    for (const auto& [uploadKey, upload] : client_->multipartUploads(k, true)) {
      client_->abortMultipartUpload(uploadKey, upload.uploadId);
    }
  }

  std::optional<std::filesystem::path> localPath(const std::string&) const override {
    return std::nullopt;
  }

  std::optional<std::string> redirectUrl(const std::string& path) const override {
    if (!redirect_) return std::nullopt;
    return client_->presignedGet(key(path), kRedirectSeconds);
  }

 private:
  std::string key(const std::string& path) const { return s3Key(config_.rootDirectory, path); }
  static std::string dirPrefix(const std::string& k) { return k.empty() ? k : k + "/"; }

  // Every object whose key starts with `prefix` (no delimiter: the whole subtree), with
  // its size and time.
  std::vector<std::pair<std::string, FileInfo>> objectsUnder(const std::string& prefix) const {
    std::vector<std::pair<std::string, FileInfo>> objects;
    std::string token;
    while (true) {
      Query query = {{"list-type", "2"}, {"prefix", prefix}};
      if (!token.empty()) query.emplace_back("continuation-token", token);
      HttpReply reply = client_->send("GET", "", query);
      S3Client::check(reply, "list " + prefix);
      auto doc = parseXml(reply, "list");
      auto result = doc.child("ListBucketResult");
      for (auto c : result.children("Contents")) {
        objects.emplace_back(c.child_value("Key"),
                             FileInfo{std::strtoull(c.child_value("Size"), nullptr, 10),
                                      isoTime(c.child_value("LastModified")), false});
      }
      if (std::string(result.child_value("IsTruncated")) != "true") break;
      token = result.child_value("NextContinuationToken");
      if (token.empty()) break;
    }
    return objects;
  }

  std::vector<std::string> keysUnder(const std::string& prefix) const {
    std::vector<std::string> keys;
    for (auto& [k, info] : objectsUnder(prefix)) keys.push_back(std::move(k));
    return keys;
  }

  // The newest multipart upload in progress on exactly `k`.
  std::optional<MultipartUpload> findUpload(const std::string& k) const {
    std::optional<MultipartUpload> newest;
    for (auto& [uploadKey, upload] : client_->multipartUploads(k, false)) {
      if (!newest || upload.initiated.tv_sec > newest->initiated.tv_sec) newest = upload;
    }
    return newest;
  }

  S3StorageConfig config_;
  bool redirect_;
  std::shared_ptr<const S3Client> client_;
};

}  // namespace

std::shared_ptr<StorageDriver> makeS3Driver(const S3StorageConfig& config, bool redirect) {
  if (!config.v4Auth) {
    throw Error(ErrorKind::kConfigInvalid,
                "storage.s3.v4auth: false (signature version 2) is not supported; regfs signs with "
                "version 4");
  }
  if (config.bucket.empty())
    throw Error(ErrorKind::kConfigInvalid, "storage.s3.bucket must be set");
  auto driver = std::make_shared<S3Driver>(config, redirect);
  driver->probe();
  return driver;
}

}  // namespace regfs
