#include "common/storage/s3_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <pugixml.hpp>
#include <thread>

#include "common/curl.h"
#include "common/error.h"
#include "common/utc.h"
#include "common/worker.h"

namespace regfs::s3 {

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

// A pool of curl easy handles: each keeps its connections open between requests.
class HandlePool {
 public:
  // A handle out of the pool, given back when the lease ends.
  class Lease {
   public:
    Lease(HandlePool& pool, CurlPtr handle) : pool_(pool), handle_(std::move(handle)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give(std::move(handle_)); }
    CURL* get() const { return handle_.get(); }

   private:
    HandlePool& pool_;
    CurlPtr handle_;
  };

  // One of the pool's handles, or a new one.
  Lease take() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) {
      CurlPtr h(curl_easy_init());
      if (!h) throw Error(ErrorKind::kInternal, "curl_easy_init failed");
      return Lease(*this, std::move(h));
    }
    CurlPtr h = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(h));
  }

 private:
  void give(CurlPtr h) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(h));
  }

  std::mutex mutex_;
  std::vector<CurlPtr> free_;
};

namespace {

constexpr int kAttempts = 6;  // backoff 50 ms .. 1.6 s, ~3 s in all
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);

constexpr uint64_t kMaxReserve = 16 << 20;
constexpr long kStreamBuffer = 256 << 10;  // bytes per write callback of a streamed GET

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

}  // namespace

Client::Client(const S3StorageConfig& config)
    : config_(config), pool_(std::make_unique<HandlePool>()) {
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

Client::~Client() = default;

void Client::probe() const {
  HttpReply reply;
  try {
    reply = send("GET", "", {{"list-type", "2"}, {"max-keys", "1"}});
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

std::string Client::presignedGet(const std::string& key, int expires) const {
  std::string path = "/" + config_.bucket + "/" + key;
  return endpoint_ + sigv4::uriEncode(path, false) + "?" +
         sigv4::presignedQuery("GET", path, host_, credentials_, utcNow("%Y%m%dT%H%M%SZ"), expires);
}

HttpReply Client::send(const std::string& method, const std::string& key, const Query& query,
                       std::string_view body, const Headers& extra, Payload payload) const {
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

void Client::stream(const std::string& key, uint64_t offset, uint64_t length,
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

void Client::check(const HttpReply& reply, const std::string& what) {
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

void Client::checkBody(const HttpReply& reply, const std::string& what) {
  check(reply, what);
  std::string code = errorCodeOf(reply.body);
  if (!code.empty())
    throw Error(ErrorKind::kIo, "S3 " + what + ": " + code + " " + errorMessageOf(reply.body));
}

std::optional<FileInfo> Client::head(const std::string& key) const {
  HttpReply reply = send("HEAD", key);
  if (reply.status == 404) return std::nullopt;
  check(reply, "HEAD " + key);
  return FileInfo{std::strtoull(reply.header("content-length").c_str(), nullptr, 10),
                  httpTime(reply.header("last-modified")), false};
}

std::string Client::get(const std::string& key) const {
  HttpReply reply = send("GET", key);
  check(reply, "GET " + key);
  return std::move(reply.body);
}

std::string Client::getRange(const std::string& key, uint64_t offset, uint64_t length) const {
  HttpReply reply = send(
      "GET", key, {}, {},
      {{"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)}});
  if (reply.status == 416) return {};  // at or past the end
  check(reply, "GET " + key);
  if (reply.status == 200) {  // the whole object: the range was ignored
    if (offset >= reply.body.size()) return {};
    return reply.body.substr(offset, length);
  }
  return std::move(reply.body);
}

void Client::put(const std::string& key, std::string_view bytes) const {
  HttpReply reply = send("PUT", key, {}, bytes, {{"Content-Type", "application/octet-stream"}});
  check(reply, "PUT " + key);
}

bool Client::putIfAbsent(const std::string& key, std::string_view bytes) const {
  HttpReply reply = send("PUT", key, {}, bytes,
                         {{"Content-Type", "application/octet-stream"}, {"If-None-Match", "*"}});
  if (reply.status == 412 || reply.status == 409) {
    // 412: the object exists; 409 (AWS): another conditional write to it went first. Ours
    // took effect only if an earlier attempt did and its answer was lost (then the object
    // holds our bytes).
    HttpReply held = send("GET", key);
    return held.status == 200 && held.body == bytes;
  }
  check(reply, "PUT " + key);
  return true;
}

ListPage Client::listObjects(const std::string& prefix, std::string_view delimiter, int maxKeys,
                             const std::string& token) const {
  Query query = {{"list-type", "2"}, {"prefix", prefix}};
  if (!delimiter.empty()) query.emplace_back("delimiter", std::string(delimiter));
  if (maxKeys > 0) query.emplace_back("max-keys", std::to_string(maxKeys));
  if (!token.empty()) query.emplace_back("continuation-token", token);
  HttpReply reply = send("GET", "", query);
  check(reply, "list " + prefix);
  auto doc = parseXml(reply, "list");
  auto result = doc.child("ListBucketResult");
  ListPage page;
  for (auto c : result.children("CommonPrefixes"))
    page.prefixes.emplace_back(c.child_value("Prefix"));
  for (auto c : result.children("Contents")) {
    page.objects.emplace_back(c.child_value("Key"),
                              FileInfo{std::strtoull(c.child_value("Size"), nullptr, 10),
                                       isoTime(c.child_value("LastModified")), false});
  }
  if (std::string(result.child_value("IsTruncated")) == "true")
    page.nextToken = result.child_value("NextContinuationToken");
  return page;
}

void Client::deleteObject(const std::string& key) const {
  HttpReply reply = send("DELETE", key);
  if (reply.status == 404) return;
  check(reply, "DELETE " + key);
}

void Client::copy(const std::string& from, const std::string& to, uint64_t size) const {
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
  for (size_t w = 1; w < width; ++w) workers.push_back(namedThread("s3-copy", worker));
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

void Client::copyObject(const std::string& from, const std::string& to) const {
  HttpReply reply = send("PUT", to, {}, {}, {{"x-amz-copy-source", copySource(from)}});
  checkBody(reply, "copy " + from + " to " + to);
}

std::vector<std::pair<std::string, MultipartUpload>> Client::multipartUploads(
    const std::string& key, bool subtree) const {
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

std::vector<Part> Client::listParts(const std::string& key, const std::string& uploadId) const {
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

std::string Client::createMultipartUpload(const std::string& key) const {
  HttpReply reply =
      send("POST", key, {{"uploads", ""}}, {}, {{"Content-Type", "application/octet-stream"}});
  check(reply, "start multipart upload " + key);
  auto doc = parseXml(reply, "start multipart upload");
  std::string id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty()) throw Error(ErrorKind::kIo, "S3 start multipart upload " + key + ": no UploadId");
  return id;
}

Part Client::uploadPart(const std::string& key, const std::string& uploadId, int number,
                        std::string_view body) const {
  HttpReply reply =
      send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", uploadId}}, body,
           {{"Content-Type", "application/octet-stream"}}, Payload::kUnsigned);
  check(reply, "upload part " + std::to_string(number) + " of " + key);
  return Part{number, reply.header("etag"), body.size()};
}

Part Client::copyPart(const std::string& from, const std::string& to, const std::string& uploadId,
                      int number, uint64_t offset, uint64_t length) const {
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

void Client::completeMultipartUpload(const std::string& key, const std::string& uploadId,
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
    spdlog::info("S3 complete multipart upload {}: the upload is gone and its object stands", key);
    return;
  }
  checkBody(reply, "complete multipart upload " + key);
}

// True when the object at `key` is the one completing `parts` makes: their total size,
// and the multipart ETag S3 derives from theirs (when those are MD5s, as usual).
bool Client::isCompletedFrom(const std::string& key, const std::vector<Part>& parts) const {
  HttpReply head = send("HEAD", key);
  if (head.status != 200) return false;
  uint64_t size = 0;
  for (const Part& p : parts) size += p.size;
  if (std::strtoull(head.header("content-length").c_str(), nullptr, 10) != size) return false;
  std::optional<std::string> expected = multipartEtag(parts);
  return !expected || unquote(head.header("etag")) == *expected;
}

void Client::abortMultipartUpload(const std::string& key, const std::string& uploadId) const {
  HttpReply reply = send("DELETE", key, {{"uploadId", uploadId}});
  if (reply.status == 404) return;  // already gone
  check(reply, "abort multipart upload " + key);
}

HttpReply Client::once(const std::string& method, const std::string& key, const Query& query,
                       std::string_view body, const Headers& extra, Payload payload,
                       BodyStream* stream) const {
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

  HandlePool::Lease lease = pool_->take();
  CURL* h = lease.get();
  curl_easy_reset(h);

  std::string url = endpoint_ + sigv4::uriEncode(path, false);
  std::string q = sigv4::canonicalQuery(query);
  if (!q.empty()) url += "?" + q;
  CurlHeaders list;
  for (const auto& [name, value] : signing.headers) {
    if (name != "host") appendHeader(list, name + ": " + value);
  }
  for (const auto& [name, value] : extra) {
    if (!name.starts_with("x-amz-")) appendHeader(list, name + ": " + value);
  }
  appendHeader(list, "Authorization: " + sigv4::authorization(signing, credentials_, amzDate));
  appendHeader(list, "Expect:");

  HttpReply reply;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
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

std::string Client::copySource(const std::string& key) const {
  return "/" + config_.bucket + "/" + sigv4::uriEncode(key, false);
}

}  // namespace regfs::s3
