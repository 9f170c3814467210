// The pieces of the pull-through cache that need no upstream: reading token challenges and
// Retry-After, coalescing concurrent work on one key, and the choice of an upstream by name.
#include "api/mirror/upstream.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "api/mirror/mirror.h"
#include "common/error.h"

namespace regfs::api::mirror {
namespace {

using namespace std::chrono_literals;

TEST(BearerChallenge, ReadsDockerHubsChallenge) {
  auto c = parseBearerChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->realm, "https://auth.docker.io/token");
  EXPECT_EQ(c->service, "registry.docker.io");
  EXPECT_EQ(c->scope, "repository:library/alpine:pull");
}

TEST(BearerChallenge, TakesAnyOrderUnquotedValuesAndCase) {
  auto c = parseBearerChallenge(R"(bearer service=ghcr.io, realm="https://ghcr.io/token")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->realm, "https://ghcr.io/token");
  EXPECT_EQ(c->service, "ghcr.io");
  EXPECT_EQ(c->scope, "");
}

TEST(BearerChallenge, RefusesWhatIsNoBearerChallenge) {
  EXPECT_FALSE(parseBearerChallenge(R"(Basic realm="registry")"));
  EXPECT_FALSE(parseBearerChallenge(R"(Bearer service="x")"));                 // no realm
  EXPECT_FALSE(parseBearerChallenge(R"(Bearer realm="file:///etc/passwd")"));  // not http(s)
  EXPECT_FALSE(parseBearerChallenge(R"(Bearer realm="https://unterminated)"));
  EXPECT_FALSE(parseBearerChallenge(""));
}

TEST(RetryAfter, ReadsSecondsAndHttpDates) {
  auto now = std::chrono::system_clock::from_time_t(1765100000);  // 2025-12-07T09:33:20Z
  EXPECT_EQ(parseRetryAfter("120", now), 120s);
  EXPECT_EQ(parseRetryAfter("0", now), 0s);
  EXPECT_EQ(parseRetryAfter("Sun, 07 Dec 2025 09:34:20 GMT", now), 60s);
  EXPECT_EQ(parseRetryAfter("Sun, 07 Dec 2025 09:00:00 GMT", now), 0s);  // already past
  EXPECT_FALSE(parseRetryAfter("soon", now));
  EXPECT_FALSE(parseRetryAfter("-5", now));
  EXPECT_FALSE(parseRetryAfter("99999999999999999999", now));
  EXPECT_FALSE(parseRetryAfter("", now));
}

TEST(Coalescer, ConcurrentCallersOfOneKeyShareOneRun) {
  Coalescer coalescer;
  std::atomic<int> runs{0};
  std::atomic<int> ran{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> callers;
  std::atomic<int> joined{0};
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&] {
      bool ranIt = coalescer.run("library/alpine:latest", [&] {
        runs++;
        while (!release.load()) std::this_thread::yield();
      });
      (ranIt ? ran : joined)++;
    });
  }
  // Let the callers pile up on the first run before it ends.
  while (runs.load() == 0) std::this_thread::yield();
  std::this_thread::sleep_for(50ms);
  release = true;
  for (auto& t : callers) t.join();
  EXPECT_EQ(ran.load() + joined.load(), 8);
  EXPECT_EQ(runs.load(), ran.load());
  EXPECT_GE(runs.load(), 1);
}

TEST(Coalescer, EveryJoinedCallerGetsTheRunsError) {
  Coalescer coalescer;
  std::atomic<bool> release{false};
  std::atomic<bool> started{false};
  std::thread first([&] {
    EXPECT_THROW(coalescer.run("k",
                               [&] {
                                 started = true;
                                 while (!release.load()) std::this_thread::yield();
                                 throw Error(ErrorKind::kUnavailable, "upstream down");
                               }),
                 Error);
  });
  while (!started.load()) std::this_thread::yield();
  std::thread second([&] {
    try {
      coalescer.run("k", [] {});
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
    }
  });
  std::this_thread::sleep_for(20ms);
  release = true;
  first.join();
  second.join();
  // Once over, the key runs again.
  bool ranAgain = false;
  EXPECT_TRUE(coalescer.run("k", [&] { ranAgain = true; }));
  EXPECT_TRUE(ranAgain);
}

ProxyConfig upstreamAt(const std::string& url, std::chrono::nanoseconds ttl) {
  ProxyConfig c;
  c.remoteUrl = url;
  c.ttl = ttl;
  return c;
}

TEST(Upstreams, TheLongestPrefixOfWholeComponentsWinsAndIsStripped) {
  Upstreams ups(upstreamAt("http://plain", 1h), {{"ghcr.io", upstreamAt("http://ghcr", 2h)},
                                                 {"ghcr.io/team", upstreamAt("http://team", 0s)},
                                                 {"quay.io", upstreamAt("http://quay", 3h)}});
  auto chosen = [&](const std::string& name) {
    auto c = ups.forRepository(name);
    return c.upstream ? c.upstream->url() + " " + c.remoteName : std::string("none");
  };
  EXPECT_EQ(chosen("ghcr.io/org/app"), "http://ghcr org/app");
  EXPECT_EQ(chosen("ghcr.io/team/app"), "http://team app");
  EXPECT_EQ(chosen("ghcr.io/teams/app"), "http://ghcr teams/app");
  EXPECT_EQ(chosen("quay.io/a/b/c"), "http://quay a/b/c");
  // Under no prefix: proxy.remoteurl, asked for the name as it is.
  EXPECT_EQ(chosen("library/alpine"), "http://plain library/alpine");
  EXPECT_EQ(chosen("ghcr.io"), "http://plain ghcr.io");
  EXPECT_EQ(chosen("ghcr.iox/app"), "http://plain ghcr.iox/app");
  EXPECT_EQ(ups.forRepository("ghcr.io/org/app").ttl, 2h);
  EXPECT_EQ(ups.forRepository("ghcr.io/team/app").ttl, 0s);
  EXPECT_EQ(ups.forRepository("library/alpine").ttl, 1h);
  EXPECT_EQ(ups.shortestTtl(), 1h);
  EXPECT_EQ(ups.all().size(), 4u);
}

TEST(Upstreams, WithoutProxyRemoteurlANameUnderNoPrefixHasNone) {
  Upstreams ups(ProxyConfig{}, {{"docker.io", upstreamAt("http://hub", 0s)}});
  EXPECT_EQ(ups.forRepository("docker.io/library/alpine").remoteName, "library/alpine");
  EXPECT_EQ(ups.forRepository("library/alpine").upstream, nullptr);
  EXPECT_EQ(ups.forRepository("docker.io").upstream, nullptr);
  EXPECT_EQ(ups.shortestTtl(), 0s);  // nothing expires
  EXPECT_EQ(Upstreams(ProxyConfig{}).forRepository("a/b").upstream, nullptr);
}

}  // namespace
}  // namespace regfs::api::mirror
