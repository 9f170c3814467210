#include "support/http_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace regfs::testing {

HttpConnection::HttpConnection(int port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout) {}

HttpConnection::~HttpConnection() { close(); }

bool HttpConnection::connect() {
  if (fd_ >= 0) return true;
  buffer_.clear();
  fd_ = connectLoopback(port_);
  if (fd_ < 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

void HttpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

bool HttpConnection::send(std::string_view bytes) {
  if (fd_ < 0) return false;
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (!bytes.empty()) {
    pollfd p{fd_, POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      close();
      return false;
    }
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      close();
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<Reply> HttpConnection::receive(bool headRequest) {
  if (fd_ < 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  auto fill = [&]() -> bool {
    pollfd p{fd_, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  };
  while (true) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        close();
        return std::nullopt;
      }
    }
    Reply r = parseReply(buffer_.substr(0, end + 4));
    buffer_.erase(0, end + 4);
    if (r.status >= 100 && r.status < 200) continue;
    size_t length = 0;
    if (!headRequest && r.status != 204 && r.status != 304 && r.has("content-length")) {
      length = std::stoull(r.header("content-length"));
    }
    while (buffer_.size() < length) {
      if (!fill()) {
        close();
        return std::nullopt;
      }
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    std::string connection = r.header("connection");
    if (connection == "close" || connection == "Close") close();
    return r;
  }
}

std::string requestHead(const std::string& method, const std::string& target, size_t bodySize,
                        const std::vector<std::string>& headers, const std::string& host) {
  std::string head = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n";
  for (const std::string& h : headers) head += h + "\r\n";
  if (bodySize > 0 || method == "PUT" || method == "POST" || method == "PATCH") {
    head += "Content-Length: " + std::to_string(bodySize) + "\r\n";
  }
  return head + "\r\n";
}

std::optional<Reply> HttpConnection::request(const std::string& method, const std::string& target,
                                             std::string_view body,
                                             const std::vector<std::string>& headers) {
  if (!connect()) return std::nullopt;
  // As curl does, with the port: event URLs are built from it.
  std::string head =
      requestHead(method, target, body.size(), headers, "127.0.0.1:" + std::to_string(port_));
  if (!send(head) || !send(body)) return std::nullopt;
  return receive(method == "HEAD");
}

std::optional<Reply> pushBlobMonolithic(HttpConnection& c, const std::string& repo,
                                        const std::string& blob) {
  return c.request("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digestOf(blob), blob,
                   {"Content-Type: application/octet-stream"});
}

std::optional<Reply> pushBlobChunked(HttpConnection& c, const std::string& repo,
                                     const std::string& blob, int chunks, bool lastWithPut) {
  auto r = c.request("POST", "/v2/" + repo + "/blobs/uploads/");
  if (!r || r->status != 202) return r;
  std::string location = r->header("location");
  size_t piece = blob.size() / static_cast<size_t>(std::max(chunks, 1)) + 1;
  size_t offset = 0;
  while (offset < blob.size()) {
    size_t n = std::min(piece, blob.size() - offset);
    if (lastWithPut && offset + n == blob.size()) break;
    std::string range = std::to_string(offset) + "-" + std::to_string(offset + n - 1);
    r = c.request("PATCH", location, std::string_view(blob).substr(offset, n),
                  {"Content-Range: " + range, "Content-Type: application/octet-stream"});
    if (!r || r->status != 202) return r;
    location = r->header("location");
    offset += n;
  }
  std::string sep = location.find('?') == std::string::npos ? "?" : "&";
  std::vector<std::string> headers = {"Content-Type: application/octet-stream"};
  std::string_view rest = std::string_view(blob).substr(offset);
  if (!rest.empty()) {
    headers.push_back("Content-Range: " + std::to_string(offset) + "-" +
                      std::to_string(blob.size() - 1));
  }
  return c.request("PUT", location + sep + "digest=" + digestOf(blob), rest, headers);
}

std::optional<Reply> putManifest(HttpConnection& c, const std::string& repo,
                                 const std::string& reference, const std::string& bytes,
                                 const std::string& mediaType) {
  return c.request("PUT", "/v2/" + repo + "/manifests/" + reference, bytes,
                   {"Content-Type: " + mediaType});
}

std::optional<Reply> pushBlob(HttpConnection& c, const std::string& repo, const std::string& blob,
                              BlobUpload how, int chunks) {
  switch (how) {
    case BlobUpload::kMonolithic:
      return pushBlobMonolithic(c, repo, blob);
    case BlobUpload::kChunked:
      return pushBlobChunked(c, repo, blob, chunks);
    case BlobUpload::kChunkedLastWithPut:
      return pushBlobChunked(c, repo, blob, chunks, true);
  }
  return std::nullopt;
}

std::optional<Reply> pushImage(HttpConnection& c, const std::string& repo,
                               const std::string& reference, const ImageBytes& image,
                               const BlobPusher& pushOne) {
  for (const std::string& blob : image.blobs()) {
    auto r = pushOne(c, repo, blob);
    if (!r || r->status != 201) return r;
  }
  return putManifest(c, repo, reference, image.manifest, image.mediaType);
}

}  // namespace regfs::testing
