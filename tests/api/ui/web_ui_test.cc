// The web UI's files as WebUi answers them: paths, types, ETags and 304s, gzip, and the
// headers that keep the page to its own code.

#include "api/ui/web_ui.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "api/ui/gzip.h"

namespace regfs::api {
namespace {

using ::testing::HasSubstr;

Request get(const std::string& path,
            std::vector<std::pair<std::string, std::string>> headers = {}) {
  Request r;
  r.method = "GET";
  r.path = path;
  r.target = path;
  for (auto& [name, value] : headers) r.headers.add(name, value);
  return r;
}

std::string gunzip(const std::string& data) {
  z_stream s{};
  EXPECT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  inflateEnd(&s);
  return out;
}

const std::string kPage = "<!doctype html><title>regfs</title>" + std::string(2000, ' ');
const UiAsset kAssets[] = {{"index.html", kPage}, {"app.js", "export {};"}, {"views/a.css", "a{}"}};

TEST(WebUi, ServesThePageAtTheRootAndTheRestUnderUi) {
  WebUi ui(kAssets);
  auto page = ui.answer(get("/"));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, kPage);
  EXPECT_EQ(page->header("Content-Type"), "text/html; charset=utf-8");
  auto script = ui.answer(get("/ui/app.js"));
  ASSERT_TRUE(script);
  EXPECT_EQ(script->header("Content-Type"), "text/javascript; charset=utf-8");
  auto style = ui.answer(get("/ui/views/a.css"));
  ASSERT_TRUE(style);
  EXPECT_EQ(style->header("Content-Type"), "text/css; charset=utf-8");
}

TEST(WebUi, LeavesEveryOtherRequestToTheApi) {
  WebUi ui(kAssets);
  EXPECT_FALSE(ui.answer(get("/index.html")));
  EXPECT_FALSE(ui.answer(get("/ui/")));
  EXPECT_FALSE(ui.answer(get("/ui/missing.js")));
  EXPECT_FALSE(ui.answer(get("/ui/../ui/app.js")));
  EXPECT_FALSE(ui.answer(get("/v2/")));
  Request post = get("/");
  post.method = "POST";
  EXPECT_FALSE(ui.answer(post));
  Request head = get("/");
  head.method = "HEAD";
  EXPECT_TRUE(ui.answer(head));
}

TEST(WebUi, EveryAnswerCarriesThePolicyHeaders) {
  WebUi ui(kAssets);
  for (const char* path : {"/", "/ui/app.js"}) {
    auto r = ui.answer(get(path));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->header("Content-Security-Policy"), kUiContentSecurityPolicy);
    EXPECT_THAT(std::string(*r->header("Content-Security-Policy")),
                HasSubstr("script-src 'self';"));
    EXPECT_EQ(r->header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r->header("Referrer-Policy"), "same-origin");
    EXPECT_EQ(r->header("Cache-Control"), "no-cache");
  }
}

TEST(WebUi, AnEtagThatMatchesAnswers304) {
  WebUi ui(kAssets);
  auto first = ui.answer(get("/"));
  ASSERT_TRUE(first);
  std::string etag(*first->header("ETag"));
  EXPECT_EQ(etag.front(), '"');
  auto again = ui.answer(get("/", {{"If-None-Match", "\"other\", " + etag}}));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(again->header("ETag"), etag);
  auto other = ui.answer(get("/ui/app.js", {{"If-None-Match", etag}}));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
}

TEST(WebUi, CompressesForClientsThatAcceptGzip) {
  WebUi ui(kAssets);
  auto zipped = ui.answer(get("/", {{"Accept-Encoding", "br, gzip;q=0.8"}}));
  ASSERT_TRUE(zipped);
  EXPECT_EQ(zipped->header("Content-Encoding"), "gzip");
  EXPECT_EQ(zipped->header("Vary"), "Accept-Encoding");
  EXPECT_LT(zipped->body.size(), kPage.size());
  EXPECT_EQ(gunzip(zipped->body), kPage);
  auto plain = ui.answer(get("/", {{"Accept-Encoding", "gzip;q=0"}}));
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->header("Content-Encoding"));
  EXPECT_EQ(plain->body, kPage);
  // A file that does not get smaller goes as it is.
  auto tiny = ui.answer(get("/ui/views/a.css", {{"Accept-Encoding", "gzip"}}));
  ASSERT_TRUE(tiny);
  EXPECT_FALSE(tiny->header("Content-Encoding"));
}

TEST(WebUi, AcceptEncoding) {
  EXPECT_TRUE(acceptsGzip("gzip"));
  EXPECT_TRUE(acceptsGzip("deflate, GZIP"));
  EXPECT_TRUE(acceptsGzip("*"));
  EXPECT_TRUE(acceptsGzip("gzip; q=0.5"));
  EXPECT_FALSE(acceptsGzip(""));
  EXPECT_FALSE(acceptsGzip("identity"));
  EXPECT_FALSE(acceptsGzip("gzip;q=0.000"));
  EXPECT_FALSE(acceptsGzip("xgzip"));
}

TEST(WebUi, GzipRoundTrips) {
  std::string text(100000, 'a');
  EXPECT_EQ(gunzip(gzipCompress(text)), text);
  EXPECT_EQ(gunzip(gzipCompress("")), "");
}

TEST(WebUi, TheEmbeddedUiHasItsPageAndFitsTheBudget) {
  // The page and its modules, embedded at build time; JS and CSS at most 150 KiB compressed.
  bool page = false;
  size_t compressed = 0;
  for (const UiAsset& asset : embeddedUiAssets()) {
    if (asset.path == "index.html") page = true;
    if (asset.path.ends_with(".js") || asset.path.ends_with(".css"))
      compressed += gzipCompress(asset.bytes).size();
  }
  EXPECT_TRUE(page);
  EXPECT_LE(compressed, 150u * 1024);
  WebUi ui;
  auto r = ui.answer(get("/"));
  ASSERT_TRUE(r);
  EXPECT_THAT(r->body, HasSubstr("<script type=\"module\" src=\"/ui/app.js\"></script>"));
  EXPECT_TRUE(ui.answer(get("/ui/app.js")));
}

}  // namespace
}  // namespace regfs::api
