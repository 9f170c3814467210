#pragma once
// The S3 driver's side of the wire: requests to one bucket signed with SigV4 (s3_signing.h)
// and sent with libcurl over a pool of easy handles, so connections are reused across
// requests; transient failures (connection errors, 5xx, 429) retried with exponential
// backoff; answers parsed (pugixml) and errors mapped to an Error kind. Over https the
// endpoint's certificate is verified against libcurl's CA bundle (or SSL_CERT_FILE /
// SSL_CERT_DIR, as Go reads them) unless storage.s3.skipverify.
//
// One operation of S3 per call; what S3's objects, prefixes and uploads mean as files and
// directories is the driver's (s3_driver.cc). Keys are object keys, never driver paths.

#include <time.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "common/storage/driver.h"
#include "common/storage/s3_signing.h"

namespace regfs::s3 {

using Query = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
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

// One page of a ListObjectsV2 answer.
struct ListPage {
  std::vector<std::string> prefixes;                      // CommonPrefixes, as S3 wrote them
  std::vector<std::pair<std::string, FileInfo>> objects;  // Contents: key, Size, LastModified
  std::string nextToken;                                  // empty on the last page
};

class HandlePool;
struct BodyStream;

class Client {
 public:
  explicit Client(const S3StorageConfig& config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& bucket() const { return config_.bucket; }

  // One listing of the bucket with the configured keys: a wrong key, secret or bucket is
  // a configuration error (kConfigInvalid naming the problem), reported before anything
  // else happens.
  void probe() const;

  // A GET of `key` anyone may make for `expires` seconds.
  std::string presignedGet(const std::string& key, int expires) const;

  // One request with retries. `key` empty: the bucket itself. Any answer but a transient
  // one (the last attempt's, when all were) is returned as it is: see check().
  HttpReply send(const std::string& method, const std::string& key, const Query& query = {},
                 std::string_view body = {}, const Headers& extra = {},
                 Payload payload = Payload::kSigned) const;

  // One GET of `length` bytes from `offset` whose body goes to `sink` as it arrives. A
  // transient failure midway is retried from the first byte not yet handed over.
  void stream(const std::string& key, uint64_t offset, uint64_t length,
              const std::function<bool(std::string_view)>& sink) const;

  // Throws unless the reply is a 2xx: kNotFound for a missing key, kIo otherwise.
  static void check(const HttpReply& reply, const std::string& what);
  // Some answers (CopyObject, CompleteMultipartUpload) are 200 with an error inside.
  static void checkBody(const HttpReply& reply, const std::string& what);

  // Objects. Each throws as check() does unless it says otherwise.

  // HEAD: the object's size and Last-Modified; nullopt for 404.
  std::optional<FileInfo> head(const std::string& key) const;
  std::string get(const std::string& key) const;
  // Up to `length` (> 0) bytes from `offset`; fewer at the end, none at or past it.
  std::string getRange(const std::string& key, uint64_t offset, uint64_t length) const;
  void put(const std::string& key, std::string_view bytes) const;
  // A conditional PUT (If-None-Match: *): true when it stored `bytes`, false when an object
  // was there (one holding `bytes` counts as ours: an earlier attempt whose answer was lost).
  bool putIfAbsent(const std::string& key, std::string_view bytes) const;
  // One page of the keys starting with `prefix`, from `token` (empty: the first page). With
  // `delimiter` "/", only the keys directly under it, and the prefixes one level down;
  // `maxKeys` 0: as many as the server answers in a page.
  ListPage listObjects(const std::string& prefix, std::string_view delimiter, int maxKeys,
                       const std::string& token) const;
  // A missing object is not an error.
  void deleteObject(const std::string& key) const;
  // Copies the `size` bytes of `from` to `to` as distribution does: in one CopyObject up
  // to the threshold (which S3 refuses past 5 GiB), above it in parts of the copy chunk
  // size, up to the configured number at once.
  void copy(const std::string& from, const std::string& to, uint64_t size) const;
  void copyObject(const std::string& from, const std::string& to) const;

  // Multipart uploads.

  // Multipart uploads in progress on exactly `key`, or on keys under `key` + "/" when
  // `subtree`; key -> uploads.
  std::vector<std::pair<std::string, MultipartUpload>> multipartUploads(const std::string& key,
                                                                        bool subtree) const;
  // The parts of an upload in order, up to the first gap.
  std::vector<Part> listParts(const std::string& key, const std::string& uploadId) const;
  // The new upload's id.
  std::string createMultipartUpload(const std::string& key) const;
  // Stores `body` as part `number` (unsigned payload).
  Part uploadPart(const std::string& key, const std::string& uploadId, int number,
                  std::string_view body) const;
  // UploadPartCopy: part `number` of upload `uploadId` on `to` is `length` bytes of the
  // object `from` at `offset`, or all of it when `length` is 0.
  Part copyPart(const std::string& from, const std::string& to, const std::string& uploadId,
                int number, uint64_t offset = 0, uint64_t length = 0) const;
  // Idempotent: an upload that is gone because an earlier attempt completed it is done.
  void completeMultipartUpload(const std::string& key, const std::string& uploadId,
                               const std::vector<Part>& parts) const;
  // An upload already gone is not an error.
  void abortMultipartUpload(const std::string& key, const std::string& uploadId) const;

 private:
  HttpReply once(const std::string& method, const std::string& key, const Query& query,
                 std::string_view body, const Headers& extra, Payload payload = Payload::kSigned,
                 BodyStream* stream = nullptr) const;
  bool isCompletedFrom(const std::string& key, const std::vector<Part>& parts) const;
  std::string copySource(const std::string& key) const;

  S3StorageConfig config_;
  std::string endpoint_;
  std::string host_;
  std::string caFile_, caDir_;  // SSL_CERT_FILE, SSL_CERT_DIR
  sigv4::Credentials credentials_;
  std::unique_ptr<HandlePool> pool_;
};

}  // namespace regfs::s3
