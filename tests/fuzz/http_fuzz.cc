// Fuzz target: what regfs-server parses from the wire before any handler runs (api/http/http.h):
// the request head parser, the chunked body decoder, Range and Content-Range, percent
// decoding and query parsing. Input: raw bytes as a client would send them. Checks that
//   - feeding the input whole or in pieces of any size gives the same head (or a refusal)
//     and the same decoded body (the reactor receives bytes in arbitrary pieces);
//   - a parsed head stays within kMaxHeadSize and its path holds no query;
//   - only Error escapes the chunked decoder, and it never consumes more than it is given;
//   - a satisfiable Range lies within the blob and an unsatisfiable one starts past its end;
//     a Content-Range has first <= last;
//   - percentDecode never yields a NUL byte.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/http/http.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

using api::ChunkedDecoder;
using api::RequestHeadParser;

// The head parser's outcome as text, fed `input` in pieces of `step` bytes.
std::string parseHead(std::string_view input, size_t step, size_t* consumed) {
  RequestHeadParser p;
  size_t used = 0;
  while (used < input.size() && p.state() == RequestHeadParser::State::kIncomplete) {
    std::string_view piece = input.substr(used, step);
    size_t n = p.feed(piece);
    FUZZ_CHECK(n <= piece.size(), "the head parser consumed more than it was given");
    used += n;
    if (n < piece.size()) break;
  }
  *consumed = used;
  switch (p.state()) {
    case RequestHeadParser::State::kIncomplete:
      return "incomplete";
    case RequestHeadParser::State::kError:  // which 400 line depends on where it was noticed
      FUZZ_CHECK(!p.error().empty(), "a refused head without a reason");
      return "error";
    case RequestHeadParser::State::kDone:
      break;
  }
  api::Request r = p.take();
  FUZZ_CHECK(r.path.find('?') == std::string::npos, "a path holds a query: " + show(r.path));
  std::string out = "done " + r.method + " " + r.path + " ? " + r.query + " 1." +
                    std::to_string(r.versionMinor) + (r.chunked ? " chunked" : "") +
                    (r.keepAlive ? " keep-alive" : "") + (r.expectContinue ? " 100" : "");
  if (r.contentLength) out += " length " + std::to_string(*r.contentLength);
  for (const auto& [k, v] : r.headers.entries()) out += "\n" + k + ": " + v;
  return out;
}

// The chunked decoder's outcome as text, fed `input` in pieces of `step` bytes.
std::string decodeChunked(std::string_view input, size_t step) {
  ChunkedDecoder d;
  std::string body;
  size_t used = 0;
  try {
    while (used < input.size() && !d.done()) {
      std::string_view piece = input.substr(used, step);
      size_t n = d.feed(piece, body);
      FUZZ_CHECK(n <= piece.size(), "the chunked decoder consumed more than it was given");
      used += n;
      if (n < piece.size() && !d.done()) fail("the chunked decoder stopped early");
    }
  } catch (const Error&) {
    return "error";
  }
  return (d.done() ? "done " : "partial ") + std::to_string(used) + " " + body;
}

void checkRanges(std::string_view line) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{100}, uint64_t{1} << 40}) {
    api::RangeRequest r = api::parseRange(line, size);
    if (r.kind == api::RangeRequest::Kind::kSatisfiable) {
      FUZZ_CHECK(r.range.first <= r.range.last && r.range.last < size,
                 "Range " + show(line) + " resolved outside a blob of " + std::to_string(size));
    }
  }
  if (auto c = api::parseContentRange(line)) {
    FUZZ_CHECK(c->first <= c->last, "Content-Range " + show(line) + " has first > last");
  }
  if (auto d = api::percentDecode(line)) {
    FUZZ_CHECK(d->find('\0') == std::string::npos, "percentDecode yielded NUL");
  }
  (void)api::parseQuery(line);
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs::fuzz;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t wholeUsed = 0;
  std::string whole = parseHead(input, input.size() + 1, &wholeUsed);
  for (size_t step : {size_t{1}, size_t{7}, size_t{4096}}) {
    size_t used = 0;
    // Where the head ends matters only for a head that parsed: an error closes the connection.
    std::string pieces = parseHead(input, step, &used);
    FUZZ_CHECK(pieces == whole && (used == wholeUsed || whole.rfind("done", 0) != 0),
               "the head parses differently in pieces of " + std::to_string(step));
  }
  FUZZ_CHECK(
      wholeUsed <= regfs::api::RequestHeadParser::kMaxHeadSize + 4 || whole.rfind("done", 0) != 0,
      "a head longer than kMaxHeadSize was accepted");
  // What follows the head is a chunked body as far as the decoder is concerned.
  std::string_view body = whole.rfind("done", 0) == 0 ? input.substr(wholeUsed) : input;
  std::string chunked = decodeChunked(body, body.size() + 1);
  FUZZ_CHECK(decodeChunked(body, 1) == chunked && decodeChunked(body, 5) == chunked,
             "the chunked body decodes differently in pieces");
  size_t start = 0;
  for (int lines = 0; start <= input.size() && lines < 16; ++lines) {
    size_t nl = input.find('\n', start);
    if (nl == std::string_view::npos) nl = input.size();
    checkRanges(input.substr(start, nl - start));
    start = nl + 1;
  }
  return 0;
}
