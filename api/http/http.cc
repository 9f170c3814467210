#include "api/http/http.h"

#include <algorithm>
#include <charconv>

#include "common/error.h"
#include "common/percent.h"

namespace regfs::api {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::optional<uint64_t> parseUint(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Calls fn for each comma-separated, trimmed, non-empty element of a header value.
template <typename F>
void forEachElement(std::string_view value, F&& fn) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : entries_) {
    if (equalsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : entries_) {
    if (equalsIgnoreCase(k, name)) out.emplace_back(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Request head

size_t RequestHeadParser::feed(std::string_view data) {
  if (state_ != State::kIncomplete) return 0;
  // Leading empty lines before a request are allowed (RFC 9112 2.2).
  size_t skipped = 0;
  if (buffer_.empty()) {
    while (skipped < data.size() && (data[skipped] == '\r' || data[skipped] == '\n')) ++skipped;
    data.remove_prefix(skipped);
    if (data.empty()) return skipped;
  }
  size_t before = buffer_.size();
  // Search for the end of the head, including across the boundary with earlier bytes.
  size_t searchFrom = before >= 3 ? before - 3 : 0;
  buffer_.append(data);
  // The head ends at the first blank line, CRLF or bare LF, whichever comes first: the
  // body after it may hold the other kind (found by fuzzing: pieces and whole disagreed).
  size_t end = buffer_.find("\r\n\r\n", searchFrom);
  size_t endLen = 4;
  size_t bare = buffer_.find("\n\n", searchFrom);
  if (bare != std::string::npos && (end == std::string::npos || bare + 2 <= end + 4)) {
    end = bare;
    endLen = 2;
  }
  if (end == std::string::npos) {
    if (buffer_.size() > kMaxHeadSize) fail("request head too large", 431);
    // Refuse a request that cannot become HTTP at once, rather than waiting for a blank line
    // that never comes: a TLS ClientHello sent to this plain-HTTP port, for one. Clients
    // that try https first then fall back immediately instead of timing out.
    for (char c : std::string_view(buffer_).substr(0, std::min<size_t>(buffer_.size(), 32))) {
      if (c == ' ') break;
      if (!isTokenChar(c)) {
        fail("not an HTTP request");
        break;
      }
    }
    return skipped + data.size();
  }
  size_t headEnd = end + endLen;
  if (headEnd > kMaxHeadSize) {
    fail("request head too large", 431);
    return skipped + data.size();
  }
  buffer_.resize(headEnd);
  parseHead();
  return skipped + (headEnd - before);
}

void RequestHeadParser::fail(std::string message, int status) {
  state_ = State::kError;
  error_ = std::move(message);
  errorStatus_ = status;
}

void RequestHeadParser::parseHead() {
  std::string_view head = buffer_;
  auto nextLine = [&]() -> std::string_view {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };

  std::string_view line = nextLine();
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2) return fail("malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (method.empty()) return fail("malformed request line");
  for (char c : method) {
    if (!isTokenChar(c)) return fail("malformed method");
  }
  if (target.empty() || target.find(' ') != std::string_view::npos) return fail("malformed target");
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) return fail("malformed target");
  }
  if (version == "HTTP/1.1") {
    request_.versionMinor = 1;
  } else if (version == "HTTP/1.0") {
    request_.versionMinor = 0;
  } else {
    return fail("unsupported HTTP version");
  }
  request_.method = method;
  request_.target = target;
  size_t q = target.find('?');
  request_.path = target.substr(0, q);
  if (q != std::string_view::npos) request_.query = target.substr(q + 1);

  bool sawContentLength = false;
  std::optional<bool> connectionClose;
  while (!head.empty()) {
    line = nextLine();
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') return fail("obsolete header folding");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("malformed header");
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!isTokenChar(c)) return fail("malformed header name");
    }
    std::string_view value = trim(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "Content-Length")) {
      auto n = parseUint(value);
      if (!n) return fail("malformed Content-Length");
      if (sawContentLength && request_.contentLength != n)
        return fail("conflicting Content-Length");
      sawContentLength = true;
      request_.contentLength = n;
    } else if (equalsIgnoreCase(name, "Transfer-Encoding")) {
      bool ok = true;
      forEachElement(value, [&](std::string_view item) {
        if (equalsIgnoreCase(item, "chunked")) {
          if (request_.chunked) ok = false;
          request_.chunked = true;
        } else if (!equalsIgnoreCase(item, "identity")) {
          ok = false;
        }
      });
      if (!ok) return fail("unsupported Transfer-Encoding");
    } else if (equalsIgnoreCase(name, "Connection")) {
      forEachElement(value, [&](std::string_view item) {
        if (equalsIgnoreCase(item, "close")) connectionClose = true;
        if (equalsIgnoreCase(item, "keep-alive") && !connectionClose) connectionClose = false;
      });
    } else if (equalsIgnoreCase(name, "Expect")) {
      if (equalsIgnoreCase(value, "100-continue")) request_.expectContinue = true;
    }
    request_.headers.add(std::string(name), std::string(value));
  }
  // A request with both framings is how request smuggling starts: refuse it.
  if (request_.chunked && sawContentLength) return fail("both Content-Length and chunked");
  if (request_.versionMinor == 0) {
    request_.keepAlive = connectionClose.has_value() && !*connectionClose;
    request_.expectContinue = false;
  } else {
    request_.keepAlive = !connectionClose.value_or(false);
  }
  state_ = State::kDone;
}

// ---------------------------------------------------------------------------------------
// Chunked bodies

size_t ChunkedDecoder::feed(std::string_view data, std::string& out) {
  size_t i = 0;
  auto bad = [](const char* what) {
    throw Error(ErrorKind::kInvalidArgument, std::string("malformed chunked body: ") + what);
  };
  while (i < data.size() && state_ != State::kDone) {
    char c = data[i];
    switch (state_) {
      case State::kSize: {
        int h = hexValue(c);
        if (h >= 0) {
          if (remaining_ > (UINT64_MAX >> 4)) bad("chunk size too large");
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(h);
          sawDigit_ = true;
          ++i;
        } else if (!sawDigit_) {
          bad("chunk size expected");
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::kSizeExt;
          ++i;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
          ++i;
        } else if (c == '\n') {
          ++i;
          state_ = remaining_ ? State::kData : State::kTrailer;
        } else {
          bad("bad chunk size");
        }
        break;
      }
      case State::kSizeExt:
        if (c == '\r') state_ = State::kSizeLf;
        if (c == '\n') state_ = remaining_ ? State::kData : State::kTrailer;
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') bad("CR without LF");
        ++i;
        state_ = remaining_ ? State::kData : State::kTrailer;
        break;
      case State::kData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - i));
        out.append(data.data() + i, n);
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c == '\r') {
          state_ = State::kDataLf;
        } else if (c == '\n') {
          state_ = State::kSize;
          sawDigit_ = false;
        } else {
          bad("missing CRLF after chunk");
        }
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') bad("missing LF after chunk");
        ++i;
        state_ = State::kSize;
        sawDigit_ = false;
        break;
      case State::kTrailer:
        // Trailer fields are ignored; an empty line ends the body.
        ++i;
        if (c == '\n') {
          if (trailerLine_.empty() || trailerLine_ == "\r") {
            state_ = State::kDone;
          }
          trailerLine_.clear();
        } else {
          if (trailerLine_.size() > 8192) bad("trailer too large");
          trailerLine_.push_back(c);
        }
        break;
      case State::kDone:
        break;
    }
  }
  return i;
}

// ---------------------------------------------------------------------------------------
// URLs

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hexValue(text[i + 1]), lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::string queryEscape(std::string_view text) {
  std::string out = percentEncode(text, " ");
  std::replace(out.begin(), out.end(), ' ', '+');  // form encoding, as Go's url.Values
  return out;
}

std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string_view k = item.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    auto decode = [](std::string_view s) {
      std::string plus(s);
      for (char& ch : plus) {
        if (ch == '+') ch = ' ';
      }
      return percentDecode(plus).value_or(std::string(s));
    };
    out.emplace_back(decode(k), decode(v));
  }
  return out;
}

std::optional<std::string> queryValue(std::string_view query, std::string_view key) {
  for (auto& [k, v] : parseQuery(query)) {
    if (k == key) return std::move(v);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Ranges

RangeRequest parseRange(std::string_view header, uint64_t size) {
  RangeRequest none;
  header = trim(header);
  if (header.size() < 6 || !equalsIgnoreCase(header.substr(0, 6), "bytes=")) return none;
  std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return none;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return none;
  std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  RangeRequest r;
  r.kind = RangeRequest::Kind::kSatisfiable;
  if (a.empty()) {
    auto n = parseUint(b);
    if (!n) return none;
    if (*n == 0 || size == 0) return RangeRequest{RangeRequest::Kind::kUnsatisfiable, {}};
    uint64_t len = std::min(*n, size);
    r.range = {size - len, size - 1};
    return r;
  }
  auto first = parseUint(a);
  if (!first) return none;
  uint64_t last = size ? size - 1 : 0;
  if (!b.empty()) {
    auto l = parseUint(b);
    if (!l || *l < *first) return none;
    last = std::min(*l, last);
  }
  if (*first >= size) return RangeRequest{RangeRequest::Kind::kUnsatisfiable, {}};
  r.range = {*first, last};
  return r;
}

std::optional<ByteRange> parseContentRange(std::string_view header) {
  header = trim(header);
  if (header.size() >= 6 && (equalsIgnoreCase(header.substr(0, 6), "bytes ") ||
                             equalsIgnoreCase(header.substr(0, 6), "bytes="))) {
    header = trim(header.substr(6));
  }
  size_t slash = header.find('/');
  if (slash != std::string_view::npos) header = header.substr(0, slash);
  size_t dash = header.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = parseUint(header.substr(0, dash));
  auto last = parseUint(header.substr(dash + 1));
  if (!first || !last || *first > *last) return std::nullopt;
  return ByteRange{*first, *last};
}

// ---------------------------------------------------------------------------------------
// Responses

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request-URI Too Long";
    case 416:
      return "Requested Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
    default:
      return "Unknown";
  }
}

std::string serializeHead(int status,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += reasonPhrase(status);
  out += "\r\n";
  for (const auto& [k, v] : headers) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

}  // namespace regfs::api
