#pragma once
// Test support: a raw HTTP/1.1 client on one keep-alive connection, with a deadline on
// every read, for tests that inject faults (a server killed mid-request, a client that
// stops half-way, hostile bytes) where curl would hide what happened. And a small
// registry client on top of it: blob pushes (monolithic and chunked), manifest and image
// pushes, each answering with the server's reply or nullopt when the connection failed. The
// images themselves are built with support/image.h.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/image.h"
#include "support/server.h"

namespace regfs::testing {

class HttpConnection {
 public:
  explicit HttpConnection(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Connects if not connected; false when the server does not accept.
  bool connect();
  bool connected() const { return fd_ >= 0; }
  void close();
  // Writes all of `bytes`; false (and closed) when the connection failed.
  bool send(std::string_view bytes);
  // Reads one reply (interim 1xx skipped); nullopt on timeout, reset, or a close before a
  // complete reply. A reply with "Connection: close" closes this side too.
  std::optional<Reply> receive(bool headRequest = false);
  // A whole request with Host and Content-Length; reconnects first when needed.
  std::optional<Reply> request(const std::string& method, const std::string& target,
                               std::string_view body = {},
                               const std::vector<std::string>& headers = {});

 private:
  int port_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;
};

// POST /v2/<repo>/blobs/uploads/?digest= with the whole blob.
std::optional<Reply> pushBlobMonolithic(HttpConnection& c, const std::string& repo,
                                        const std::string& blob);
// POST, then PATCH with Content-Range in `chunks` pieces, then PUT ?digest= (the last piece
// goes with the PUT when `lastWithPut`). The reply of the first request that fails, else
// of the PUT.
std::optional<Reply> pushBlobChunked(HttpConnection& c, const std::string& repo,
                                     const std::string& blob, int chunks, bool lastWithPut = false);
// PUT /v2/<repo>/manifests/<reference>.
std::optional<Reply> putManifest(HttpConnection& c, const std::string& repo,
                                 const std::string& reference, const std::string& bytes,
                                 const std::string& mediaType);

// Pushes an image as a client does: `config` and each of `layers` (monolithic), then
// `manifest` as <repo>:<reference>. The reply of the first push not answered 201, else the
// manifest's.
std::optional<Reply> pushImage(HttpConnection& c, const std::string& repo,
                               const std::string& reference, const std::string& config,
                               const std::vector<std::string>& layers, const std::string& manifest,
                               const std::string& mediaType = kOciManifestType);

// Deterministic pseudo-random bytes.
std::string randomBytes(size_t n, uint64_t seed);

}  // namespace regfs::testing
