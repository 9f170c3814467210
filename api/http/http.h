#pragma once
// The HTTP/1.1 pieces regfs-server needs, independent of the network layer: an incremental
// request-head parser, a chunked-body decoder, query and percent decoding, Range and
// Content-Range parsing, and response serialisation. Pure functions and small state
// machines, so they are unit-tested without sockets.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace regfs {
struct TokenClaims;
}

namespace regfs::api {

// Header names compare case-insensitively; values keep their bytes.
class Headers {
 public:
  void add(std::string name, std::string value) {
    entries_.emplace_back(std::move(name), std::move(value));
  }
  // The first value of `name`, if present.
  std::optional<std::string_view> get(std::string_view name) const;
  // Every value of `name`, in order (Accept may come in several lines).
  std::vector<std::string_view> all(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

bool equalsIgnoreCase(std::string_view a, std::string_view b);

struct Request {
  std::string method;    // "GET"
  std::string target;    // the raw request target, "/v2/x/tags/list?n=1"
  std::string path;      // the target up to '?', still percent-encoded
  std::string query;     // after '?', without it
  int versionMinor = 1;  // HTTP/1.<minor>
  Headers headers;

  // nullopt when the request has no Content-Length; chunked requests have none.
  std::optional<uint64_t> contentLength;
  bool chunked = false;
  bool expectContinue = false;
  // Whether the connection stays open after this exchange (HTTP/1.1 default, or
  // HTTP/1.0 with "Connection: keep-alive").
  bool keepAlive = true;
  // Who the request authenticated as (set once auth allowed it); empty without auth.
  std::string user;
  // What a bearer token that let it in grants (AuthDecision::token); null otherwise.
  std::shared_ptr<const TokenClaims> token;
  bool hasBody() const { return chunked || (contentLength && *contentLength > 0); }
};

// Parses a request head (request line + headers, up to and including the blank line).
// feed() returns the number of bytes consumed: all of `data` while the head is incomplete,
// or up to the end of the head once it is done (the rest is body or the next request).
class RequestHeadParser {
 public:
  static constexpr size_t kMaxHeadSize = 64 * 1024;
  enum class State { kIncomplete, kDone, kError };

  size_t feed(std::string_view data);
  State state() const { return state_; }
  // Why the head was refused (kError): a line for the response, and its status: 431 for a
  // head over kMaxHeadSize (as distribution answers), else 400.
  const std::string& error() const { return error_; }
  int errorStatus() const { return errorStatus_; }
  // The request, once kDone.
  Request take() { return std::move(request_); }
  void reset() { *this = RequestHeadParser(); }

 private:
  void parseHead();
  void fail(std::string message, int status = 400);
  std::string buffer_;
  State state_ = State::kIncomplete;
  std::string error_;
  int errorStatus_ = 400;
  Request request_;
};

// Decodes a "Transfer-Encoding: chunked" body incrementally.
class ChunkedDecoder {
 public:
  // Consumes bytes from `data`, appending decoded body bytes to `out`; returns the number
  // of input bytes consumed (less than data.size() only once the body is complete).
  // Throws Error(kInvalidArgument) on malformed framing.
  size_t feed(std::string_view data, std::string& out);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kSize, kSizeExt, kSizeLf, kData, kDataCr, kDataLf, kTrailer, kDone };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;
  bool sawDigit_ = false;
  std::string trailerLine_;
};

// %XX decoding; '+' stays '+'. Returns nullopt on a malformed escape or a NUL byte.
std::optional<std::string> percentDecode(std::string_view text);

// Escapes a query value as Go's url.QueryEscape does (space as '+', unreserved kept).
std::string queryEscape(std::string_view text);

// "a=1&b=%2F" -> {{"a","1"},{"b","/"}}; malformed escapes keep their raw text.
std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query);
// The first value of `key` in a query, if present.
std::optional<std::string> queryValue(std::string_view query, std::string_view key);

// A byte range resolved against a resource size: [first, last] inclusive.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t length() const { return last - first + 1; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// The outcome of a request's Range header against a blob of `size` bytes.
struct RangeRequest {
  enum class Kind { kNone, kSatisfiable, kUnsatisfiable } kind = Kind::kNone;
  ByteRange range;
};
// Parses "bytes=a-b", "bytes=a-", "bytes=-n" (one range; a multi-range or malformed
// header is ignored as RFC 9110 allows, giving kNone). Unsatisfiable: first >= size.
RangeRequest parseRange(std::string_view header, uint64_t size);

// A chunk's position in an upload, "<first>-<last>" as docker sends it (an optional
// "bytes " or "bytes=" prefix and a "/<total>" suffix are accepted). nullopt when malformed
// or first > last.
std::optional<ByteRange> parseContentRange(std::string_view header);

// The reason phrase for a status code ("Not Found").
std::string_view reasonPhrase(int status);

// A response head: status line and headers, each "\r\n"-terminated, then a blank line.
std::string serializeHead(int status,
                          const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace regfs::api
