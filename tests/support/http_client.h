#pragma once
// Test support: a raw HTTP/1.1 client on one keep-alive connection, with a deadline on
// every read, for tests that inject faults (a server killed mid-request, a client that
// stops half-way, hostile bytes) where curl would hide what happened. And a small
// registry client on top of it: blob pushes (monolithic and chunked), manifest and image
// pushes, each answering with the server's reply or nullopt when the connection failed. The
// images themselves are built with support/image.h (ociImage, randomBytes).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/image.h"
#include "support/server.h"

namespace regfs::testing {

// The head of an HTTP/1.1 request: the request line, Host, `headers`, and Content-Length
// when there is a body or the method sends one (PUT, POST, PATCH).
std::string requestHead(const std::string& method, const std::string& target, size_t bodySize,
                        const std::vector<std::string>& headers = {},
                        const std::string& host = "127.0.0.1");

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

// The ways a client uploads a blob, for tests that vary them.
enum class BlobUpload { kMonolithic, kChunked, kChunkedLastWithPut };
// Uploads `blob` the way `how` says; the chunked ways send it in `chunks` pieces.
std::optional<Reply> pushBlob(HttpConnection& c, const std::string& repo, const std::string& blob,
                              BlobUpload how, int chunks = 3);

// Uploads one blob of an image; pushImage's default is pushBlobMonolithic.
using BlobPusher = std::function<std::optional<Reply>(HttpConnection&, const std::string& repo,
                                                      const std::string& blob)>;

// Pushes `image` as a client does: each of its blobs (config first) with `pushOne`, then the
// manifest as <repo>:<reference>. The reply of the first push not answered 201, else the
// manifest's.
std::optional<Reply> pushImage(HttpConnection& c, const std::string& repo,
                               const std::string& reference, const ImageBytes& image,
                               const BlobPusher& pushOne = pushBlobMonolithic);

}  // namespace regfs::testing
