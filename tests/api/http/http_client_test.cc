// api/http_client: which URLs it takes, what it reports, and that a cancelled exchange
// ends at once instead of at its timeout.

#include "api/http/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "support/server.h"

namespace regfs::testing {
namespace {

using namespace std::chrono_literals;

TEST(HttpClientUnit, TakesOnlyAbsoluteHttpAndHttpsUrls) {
  EXPECT_TRUE(api::isHttpUrl("http://hooks.example/events"));
  EXPECT_TRUE(api::isHttpUrl("https://hooks.example:8443/a?b=c"));
  EXPECT_TRUE(api::isHttpUrl("HTTPS://[::1]:8443/"));
  EXPECT_FALSE(api::isHttpUrl("ftp://hooks.example/"));
  EXPECT_FALSE(api::isHttpUrl("file:///etc/passwd"));
  EXPECT_FALSE(api::isHttpUrl("hooks.example/events"));
  EXPECT_FALSE(api::isHttpUrl("http://"));
  EXPECT_FALSE(api::isHttpUrl(""));
}

TEST(HttpClientUnit, ReportsTheStatusOrWhyThereIsNone) {
  api::HttpClient client;
  LoopbackListener closing;  // accepts and closes: no answer at all
  api::OutboundRequest post;
  post.url = "http://127.0.0.1:" + std::to_string(closing.port()) + "/events";
  post.body = "{}";
  api::OutboundResult r = client.send(post);
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());

  RegfsServer registry;
  api::OutboundRequest head;
  head.method = "HEAD";
  head.url = registry.url() + "/v2/";
  r = client.send(head);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  head.url = registry.url() + "/v2/no/such/manifests/latest";
  r = client.send(head);
  EXPECT_EQ(r.status, 404);
}

TEST(HttpClientUnit, ACancelledExchangeEndsBeforeItsTimeout) {
  LoopbackListener silent(0, false);  // connections wait in the backlog, never answered
  api::HttpClient client;
  api::OutboundRequest post;
  post.url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/events";
  post.timeout = 120s;
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  api::OutboundResult r = client.send(post, &cancel);
  canceller.join();
  // Had the cancel been missed, the error would be the timeout's, two minutes later.
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.error, ::testing::HasSubstr("aborted")) << r.error;
}

}  // namespace
}  // namespace regfs::testing
