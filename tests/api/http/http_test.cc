#include "api/http/http.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace regfs::api {
namespace {

Request parseHead(std::string_view text, size_t* used = nullptr) {
  RequestHeadParser p;
  size_t n = p.feed(text);
  if (used) *used = n;
  EXPECT_EQ(p.state(), RequestHeadParser::State::kDone) << p.error();
  return p.take();
}

TEST(RequestHeadParser, ParsesRequestLineHeadersAndStopsAtTheBody) {
  std::string text =
      "PATCH /v2/a/b/blobs/uploads/u?x=1 HTTP/1.1\r\nHost: h\r\ncontent-length: 5\r\n"
      "Content-Range: 0-4\r\n\r\nhello";
  size_t used = 0;
  Request r = parseHead(text, &used);
  EXPECT_EQ(used, text.size() - 5) << "the body is left for the caller";
  EXPECT_EQ(r.method, "PATCH");
  EXPECT_EQ(r.path, "/v2/a/b/blobs/uploads/u");
  EXPECT_EQ(r.query, "x=1");
  EXPECT_EQ(r.contentLength, 5u);
  EXPECT_EQ(r.headers.get("CONTENT-RANGE"), "0-4");
  EXPECT_TRUE(r.keepAlive);
  EXPECT_TRUE(r.hasBody());
}

TEST(RequestHeadParser, AcceptsAHeadSplitAtEveryByte) {
  std::string text = "GET /v2/ HTTP/1.1\r\nAccept: a\r\nAccept: b\r\n\r\nNEXT";
  RequestHeadParser p;
  size_t total = 0;
  for (size_t i = 0; i < text.size() && p.state() == RequestHeadParser::State::kIncomplete; ++i) {
    total += p.feed(std::string_view(text).substr(i, 1));
  }
  ASSERT_EQ(p.state(), RequestHeadParser::State::kDone);
  EXPECT_EQ(total, text.size() - 4);
  Request r = p.take();
  EXPECT_EQ(r.headers.all("accept"), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_FALSE(r.hasBody());
}

// Found by fuzzing: a bare-LF head followed, in the same read, by a body holding a CRLF blank
// line ended at the later one, so the body was parsed as headers.
TEST(RequestHeadParser, EndsAtTheFirstBlankLineOfEitherKind) {
  std::string body = "body\r\n\r\nX: y\r\n\r\n";
  std::string text =
      "PUT /v2/a/blobs/uploads/u HTTP/1.1\nContent-Length: " + std::to_string(body.size()) +
      "\n\n" + body;
  size_t used = 0;
  Request r = parseHead(text, &used);
  EXPECT_EQ(used, text.size() - body.size());
  EXPECT_FALSE(r.headers.has("X"));
  EXPECT_EQ(r.contentLength, body.size());
}

TEST(RequestHeadParser, KeepAliveFollowsVersionAndConnection) {
  EXPECT_FALSE(parseHead("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keepAlive);
  EXPECT_FALSE(parseHead("GET / HTTP/1.0\r\n\r\n").keepAlive);
  EXPECT_TRUE(parseHead("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive);
  Request r =
      parseHead("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_TRUE(r.chunked);
  EXPECT_TRUE(r.expectContinue);
  EXPECT_TRUE(r.hasBody());
}

TEST(RequestHeadParser, RefusesMalformedAndAmbiguousHeads) {
  for (std::string bad :
       {"GET /\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\n folded\r\n\r\n",
        "PUT / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"}) {
    RequestHeadParser p;
    p.feed(bad);
    EXPECT_EQ(p.state(), RequestHeadParser::State::kError) << bad;
  }
  RequestHeadParser tls;
  tls.feed(std::string("\x16\x03\x01\x02\x00\x01", 6));
  EXPECT_EQ(tls.state(), RequestHeadParser::State::kError)
      << "a TLS ClientHello is refused at once";
  RequestHeadParser big;
  big.feed("GET / HTTP/1.1\r\nX: " + std::string(RequestHeadParser::kMaxHeadSize, 'a'));
  EXPECT_EQ(big.state(), RequestHeadParser::State::kError);
  EXPECT_EQ(big.errorStatus(), 431) << "Request Header Fields Too Large, as distribution answers";
  EXPECT_EQ(tls.errorStatus(), 400);
}

TEST(ChunkedDecoder, DecodesSplitInputWithExtensionsAndTrailers) {
  std::string body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (size_t step : {1u, 2u, 7u, 100u}) {
    ChunkedDecoder d;
    std::string out;
    size_t used = 0;
    for (size_t i = 0; i < body.size() && !d.done(); i += step) {
      std::string_view piece = std::string_view(body).substr(i, step);
      used += d.feed(piece, out);
    }
    EXPECT_TRUE(d.done());
    EXPECT_EQ(out, "hello world");
    EXPECT_EQ(used, body.size() - 4) << "step " << step;
  }
}

TEST(ChunkedDecoder, RefusesBadFraming) {
  for (std::string bad : {"zz\r\n", "5\r\nhelloXX", "\r\n"}) {
    ChunkedDecoder d;
    std::string out;
    EXPECT_THROW(d.feed(bad, out), Error) << bad;
  }
}

TEST(Ranges, ParseRangeAgainstASize) {
  auto r = parseRange("bytes=0-9", 100);
  EXPECT_EQ(r.kind, RangeRequest::Kind::kSatisfiable);
  EXPECT_EQ(r.range, (ByteRange{0, 9}));
  EXPECT_EQ(parseRange("bytes=90-", 100).range, (ByteRange{90, 99}));
  EXPECT_EQ(parseRange("bytes=-10", 100).range, (ByteRange{90, 99}));
  EXPECT_EQ(parseRange("bytes=50-1000", 100).range, (ByteRange{50, 99}));
  EXPECT_EQ(parseRange("bytes=-1000", 100).range, (ByteRange{0, 99}));
  EXPECT_EQ(parseRange("bytes=100-", 100).kind, RangeRequest::Kind::kUnsatisfiable);
  EXPECT_EQ(parseRange("bytes=0-0", 0).kind, RangeRequest::Kind::kUnsatisfiable);
  EXPECT_EQ(parseRange("bytes=5-1", 100).kind, RangeRequest::Kind::kNone);
  EXPECT_EQ(parseRange("bytes=0-1,5-6", 100).kind, RangeRequest::Kind::kNone);
  EXPECT_EQ(parseRange("items=0-1", 100).kind, RangeRequest::Kind::kNone);
  EXPECT_EQ(parseRange("bytes=a-b", 100).kind, RangeRequest::Kind::kNone);
}

TEST(Ranges, ParseContentRangeAsDockerSendsIt) {
  EXPECT_EQ(parseContentRange("0-1023"), (ByteRange{0, 1023}));
  EXPECT_EQ(parseContentRange("bytes 10-19/100"), (ByteRange{10, 19}));
  EXPECT_EQ(parseContentRange("bytes=10-19"), (ByteRange{10, 19}));
  EXPECT_FALSE(parseContentRange("19-10"));
  EXPECT_FALSE(parseContentRange("10"));
  EXPECT_FALSE(parseContentRange("a-b"));
  EXPECT_FALSE(parseContentRange("-5"));
}

TEST(Urls, PercentDecodingAndQueries) {
  EXPECT_EQ(percentDecode("a%2Fb%41"), "a/bA");
  EXPECT_FALSE(percentDecode("a%2"));
  EXPECT_FALSE(percentDecode("a%zz"));
  EXPECT_FALSE(percentDecode("a%00b"));
  EXPECT_EQ(queryValue("n=2&last=library%2Falpine", "last"), "library/alpine");
  EXPECT_EQ(queryValue("digest=sha256%3Aab", "digest"), "sha256:ab");
  EXPECT_FALSE(queryValue("n=2", "last"));
  EXPECT_EQ(queryEscape("library/alpine b"), "library%2Falpine+b");
}

TEST(Responses, SerializeHead) {
  EXPECT_EQ(serializeHead(404, {{"A", "1"}}), "HTTP/1.1 404 Not Found\r\nA: 1\r\n\r\n");
  EXPECT_EQ(reasonPhrase(416), "Requested Range Not Satisfiable");
}

}  // namespace
}  // namespace regfs::api
