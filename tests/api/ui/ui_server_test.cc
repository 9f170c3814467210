// regfs-server's web UI over HTTP: the page at /, its modules under /ui/, with the policy
// headers and gzip; served without credentials when the API needs them; gone with
// regfs.ui.enabled: false.

#include <gtest/gtest.h>

#include <filesystem>

#include "support/process.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

TEST(UiServer, ServesThePageAndItsModules) {
  RegfsServer server;
  Reply page = http("GET", server.url() + "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("/ui/app.js"), std::string::npos);
  EXPECT_NE(page.header("content-security-policy").find("script-src 'self';"), std::string::npos);
  EXPECT_EQ(page.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(page.header("referrer-policy"), "same-origin");
  Reply again = http("GET", server.url() + "/", {"-H", "If-None-Match: " + page.header("etag")});
  EXPECT_EQ(again.status, 304);
  Reply zipped = http("GET", server.url() + "/ui/app.js", {"-H", "Accept-Encoding: gzip"});
  EXPECT_EQ(zipped.status, 200);
  EXPECT_EQ(zipped.header("content-encoding"), "gzip");
  EXPECT_EQ(zipped.header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(http("GET", server.url() + "/ui/nothing.js").status, 404);
  EXPECT_EQ(http("POST", server.url() + "/").status, 404);
  // The API is where it was.
  EXPECT_EQ(http("GET", server.url() + "/v2/").status, 200);
}

TEST(UiServer, ThePageNeedsNoCredentialsTheApiDoes) {
  TempDir work;
  RegfsServer server(std::filesystem::path(), htpasswdAuth(work.path(), "alice", "wonder-land"));
  EXPECT_EQ(http("GET", server.url() + "/").status, 200);
  EXPECT_EQ(http("GET", server.url() + "/ui/app.js").status, 200);
  Reply api = http("GET", server.url() + "/v2/_catalog");
  EXPECT_EQ(api.status, 401);
  EXPECT_EQ(api.header("www-authenticate"), "Basic realm=\"Registry Realm\"");
}

TEST(UiServer, TurnedOffTheRootIsNotFound) {
  RegfsServerOptions options;
  options.extraConfig = "regfs:\n  ui:\n    enabled: false\n";
  RegfsServer server(std::filesystem::path(), options);
  EXPECT_EQ(http("GET", server.url() + "/").status, 404);
  EXPECT_EQ(http("GET", server.url() + "/ui/app.js").status, 404);
  EXPECT_EQ(http("GET", server.url() + "/v2/").status, 200);
}

}  // namespace
}  // namespace regfs::testing
