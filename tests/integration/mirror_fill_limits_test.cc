// User story: the pull-through cache at its edges. A mirror stopped while clients stream a
// blob it is still fetching from a stalled upstream drains and exits at once, its clients cut
// short of Content-Length rather than left waiting; an upstream's 429 reaches the clients as
// regfs's own 429 with Retry-After, and the upstream is not asked again meanwhile. The
// upstream is a small fake registry that stalls or rate-limits on purpose
// (tests/support/fake_upstream.py).

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "support/fake_upstream.h"
#include "support/image.h"
#include "support/poll.h"
#include "support/server.h"

namespace regfs {
namespace {

namespace fs = std::filesystem;
using namespace regfs::testing;

std::unique_ptr<RegfsServer> mirrorOf(const std::string& upstreamUrl,
                                      std::map<std::string, std::string> env = {}) {
  RegfsServerOptions o;
  o.extraConfig = "proxy:\n  remoteurl: " + upstreamUrl + "\n";
  o.env = std::move(env);
  return std::make_unique<RegfsServer>(fs::path(), o);
}

uintmax_t sizeOr0(const fs::path& p) {
  std::error_code ec;
  uintmax_t n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

TEST(MirrorFillLimits, ADrainCutsShortTheClientsOfABlobStillBeingFetched) {
  TempDir dir;
  std::string blob = randomBytes(8 << 20, 31);
  std::string digest = digestOf(blob);
  FakeUpstream fake(blob, FakeUpstream::Mode::kPause);  // half the blob, then nothing
  auto mirror = mirrorOf(fake.url(), {{"REGISTRY_HTTP_DRAINTIMEOUT", "1s"}});
  fs::path out = dir / "partial";
  CommandResult client;
  std::thread pull([&] {
    client =
        curl({"-s", "-o", out.string(), mirror->url() + "/v2/library/stalled/blobs/" + digest});
  });
  // The client has the first bytes: it is following the fill, which waits on the upstream.
  bool streaming = waitUntil([&] { return sizeOr0(out) > 0; }).has_value();
  EXPECT_TRUE(streaming) << mirror->log();

  auto started = std::chrono::steady_clock::now();
  int status = mirror->stop();
  auto took = std::chrono::steady_clock::now() - started;
  pull.join();
  fake.release();
  EXPECT_EQ(status, 0) << mirror->log();
  // The drain's second, then the fill and its client are stopped: far below the upstream's
  // stall timeout (a minute), which was the wait before.
  EXPECT_LT(took, std::chrono::seconds(8)) << mirror->log();
  EXPECT_EQ(client.status, 18) << "curl: the transfer ended short of Content-Length";
  EXPECT_LT(sizeOr0(out), blob.size());
}

TEST(MirrorFillLimits, AnUpstreams429ReachesClientsWithRetryAfterAndIsNotRepeated) {
  std::string blob = randomBytes(1 << 20, 32);
  std::string digest = digestOf(blob);
  FakeUpstream fake(blob, FakeUpstream::Mode::kRateLimit, 10);  // 429, Retry-After: 2
  auto mirror = mirrorOf(fake.url());
  std::string url = mirror->url() + "/v2/library/limited/blobs/" + digest;

  for (int attempt = 0; attempt < 2; ++attempt) {
    Reply r = http("GET", url);
    EXPECT_EQ(r.status, 429) << r.body << mirror->log();
    EXPECT_EQ(r.code(), "TOOMANYREQUESTS");
    ASSERT_TRUE(r.has("retry-after")) << attempt;
    int seconds = std::stoi(r.header("retry-after"));
    EXPECT_GE(seconds, 1);
    EXPECT_LE(seconds, 2);
  }
  // The second request was answered without asking the upstream.
  EXPECT_EQ(occurrences(fake.log(), "GET /v2/library/limited/blobs/" + digest), 1u) << fake.log();
}

}  // namespace
}  // namespace regfs
