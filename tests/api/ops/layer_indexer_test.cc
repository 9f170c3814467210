// The server indexes what is pushed: after an image push, the index of each of its tar
// layers appears in the store without anyone browsing it, built by one thread at idle
// priority and counted in the metrics; an artifact or a disabled indexer builds nothing,
// and a server stopped in the middle of a big layer stores nothing half-built.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/ops/layer_indexer.h"
#include "common/digest.h"
#include "common/store/layout.h"
#include "support/compress.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/poll.h"
#include "support/server.h"
#include "support/tar_writer.h"

namespace regfs::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

// Indexing runs at idle priority on a shared machine: deadlines are generous.
constexpr auto kDeadline = 120s;

// One gzip member of `n` zeros, fed a MiB at a time; run-length matching, which is quick on
// long runs of zeros.
std::string gzipZeros(size_t n) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 9, Z_RLE), Z_OK);
  std::string out;
  std::string zeros(1 << 20, '\0');
  char buf[1 << 16];
  auto feed = [&](std::string_view in, int flush) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      deflate(&z, flush);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0 || z.avail_in > 0);
  };
  for (size_t i = 0; i < n / zeros.size(); ++i) feed(zeros, Z_NO_FLUSH);
  feed({}, Z_FINISH);
  deflateEnd(&z);
  return out;
}

// A gzip'd tar layer of one file of `gib` GiB of zeros: a few MiB to push, many seconds to
// scan. Multi-member gzip, one GiB member repeated.
std::string bigLayer(size_t gib) {
  std::string out = gzipBytes(TarHeader().name("zeros").size(uint64_t(gib) << 30).block());
  std::string member = gzipZeros(size_t{1} << 30);
  for (size_t i = 0; i < gib; ++i) out += member;
  return out + gzipBytes(std::string(1024, '\0'));
}

struct IndexingServer {
  int debugPort = freePort();
  std::unique_ptr<RegfsServer> server;
  explicit IndexingServer(std::string extraConfig = {}) {
    RegfsServerOptions o;
    o.extraConfig = std::move(extraConfig);
    o.env["REGISTRY_HTTP_DEBUG_ADDR"] = "127.0.0.1:" + std::to_string(debugPort);
    server = std::make_unique<RegfsServer>(std::filesystem::path(), o);
    EXPECT_TRUE(waitForPort(debugPort)) << server->log();
  }
  std::string metrics() const {
    return http("GET", "http://127.0.0.1:" + std::to_string(debugPort) + "/metrics").body;
  }
  double sample(const std::string& name) const { return sampleValue(metrics(), name); }
  bool indexed(const std::string& blob) const {
    return std::filesystem::exists(server->root().string() +
                                   layout::layerIndexFile(Digest::parse(blob)));
  }
};

const std::string kConfig = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{}}";

class LayerIndexerTest : public ::testing::Test {
 protected:
  TempDir work;
  OciLayout layout{work / "oci"};

  // An image of `layers` (their bytes) pushed as repo:tag.
  void push(RegfsServer& s, const std::string& repo, const std::string& tag,
            const std::vector<std::string>& layers) {
    HttpConnection c(s.port());
    Reply r = pushImage(c, repo, tag, ociImage(kConfig, layers, tag)).value_or(Reply{});
    ASSERT_EQ(r.status, 201) << r.body;
  }
};

// nice and scheduling policy of the server thread named `name` (fields 19 and 41 of
// /proc/PID/task/TID/stat), or nullopt when there is none.
std::optional<std::pair<int, int>> threadPriority(pid_t pid, const std::string& name) {
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string comm = readFile(task.path() / "comm");
    if (comm != name + "\n") continue;
    std::string stat = readFile(task.path() / "stat");
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;) fields.push_back(f);
    return std::make_pair(std::stoi(fields.at(19 - 3)), std::stoi(fields.at(41 - 3)));
  }
  return std::nullopt;
}

TEST(LayerIndexerQueue, IsBoundedAndHoldsEachDigestOnce) {
  TempDir dir;
  api::LayerIndexer indexer(std::make_shared<layers::FileTrees>(Store::openLocal(dir.path())), 2);
  indexer.stop();  // nothing is taken off the queue: what it holds stays countable
  Digest a = Digest::of("a"), b = Digest::of("b"), c = Digest::of("c");
  indexer.manifestPushed(a);
  indexer.manifestPushed(a);
  indexer.manifestPushed(b);
  indexer.manifestPushed(c);
  std::string m;
  indexer.collect(m);
  EXPECT_EQ(sampleValue("\n" + m, "regfs_layer_index_queue_length{kind=\"manifest\"}"), 2);
  EXPECT_EQ(sampleValue("\n" + m, "regfs_layer_index_dropped_total"), 1);
}

TEST_F(LayerIndexerTest, APushedImageIsIndexedInTheBackgroundAtIdlePriority) {
  IndexingServer s;
  Blob base = layout.addLayer({{"etc/os-release", "ID=test\n"}, {"bin/sh", "#!"}});
  Blob app = layout.addLayer({{"app/main", "print('hi')\n"}});
  std::string junk = gzipBytes("this is no tar archive, only text of some length");
  push(*s.server, "team/app", "v1", {base.bytes, app.bytes, junk});

  EXPECT_TRUE(waitUntil([&] { return s.indexed(base.digest) && s.indexed(app.digest); }, kDeadline))
      << s.server->log();
  EXPECT_TRUE(waitUntil(
      [&] {
        std::string m = s.metrics();
        return sampleValue(m, "regfs_layer_indexes_built_total{result=\"ok\"}") == 2 &&
               sampleValue(m, "regfs_layer_indexes_built_total{result=\"unreadable\"}") == 1;
      },
      kDeadline))
      << s.metrics();
  EXPECT_TRUE(s.indexed(digestOf(junk)));  // recording why it cannot be read
  std::string m = s.metrics();
  EXPECT_EQ(sampleValue(m, "regfs_layer_indexes_built_total{result=\"error\"}"), 0);
  EXPECT_EQ(sampleValue(m, "regfs_layer_index_queue_length{kind=\"layer\"}"), 0);
  EXPECT_EQ(sampleValue(m, "regfs_layer_index_queue_length{kind=\"manifest\"}"), 0);
  EXPECT_EQ(sampleValue(m, "regfs_layer_index_build_duration_seconds_count"), 3);
  EXPECT_GE(sampleValue(m, "regfs_layer_index_build_duration_seconds_sum"), 0);

  // The same layers pushed again in another image are not indexed again.
  Blob more = layout.addLayer({{"more", "x"}});
  push(*s.server, "team/other", "v1", {base.bytes, more.bytes});
  EXPECT_TRUE(waitUntil([&] { return s.indexed(more.digest); }, kDeadline));
  EXPECT_TRUE(waitUntil(
      [&] { return s.sample("regfs_layer_indexes_built_total{result=\"ok\"}") == 3; }, kDeadline))
      << s.metrics();

  auto priority = threadPriority(s.server->pid(), "layer-indexer");
  ASSERT_TRUE(priority) << "no thread named layer-indexer";
  EXPECT_EQ(priority->first, 19);  // nice
  EXPECT_EQ(priority->second, 5);  // SCHED_IDLE
}

TEST_F(LayerIndexerTest, AnArtifactOrAnIndexQueuesNothing) {
  IndexingServer s;
  Blob chart = layout.addLayer({{"Chart.yaml", "name: demo\n"}});
  ImageBytes artifact{"{\"name\":\"demo\"}", {chart.bytes}};
  artifact.manifest =
      manifestJson(descriptorOf("application/vnd.cncf.helm.config.v1+json", artifact.config),
                   {descriptorOf(kOciLayerType, chart.bytes)});
  HttpConnection c(s.server->port());
  ASSERT_EQ(pushImage(c, "charts/demo", "1.0", artifact).value_or(Reply{}).status, 201);
  // An index over the chart: nothing of its own to index.
  std::string index = indexJson({descriptorOf(kOciManifestType, artifact.manifest)});
  ASSERT_EQ(putManifest(c, "charts/demo", "all", index, kOciIndexType).value_or(Reply{}).status,
            201);

  // Then an image: once its layer is indexed, everything pushed before it was looked at.
  Blob layer = layout.addLayer({{"a", "b"}});
  push(*s.server, "team/app", "v1", {layer.bytes});
  EXPECT_TRUE(waitUntil([&] { return s.indexed(layer.digest); }, kDeadline)) << s.server->log();
  EXPECT_TRUE(waitUntil(
      [&] { return s.sample("regfs_layer_indexes_built_total{result=\"ok\"}") == 1; }, kDeadline))
      << s.metrics();
  EXPECT_FALSE(s.indexed(chart.digest));
}

TEST_F(LayerIndexerTest, TurnedOffByConfigBuildsNothing) {
  IndexingServer s("regfs:\n  indexing:\n    enabled: false\n");
  Blob layer = layout.addLayer({{"a", "b"}});
  push(*s.server, "team/app", "v1", {layer.bytes});
  std::string m = s.metrics();
  EXPECT_THAT(m, HasSubstr("registry_http_requests_total"));
  EXPECT_THAT(m, Not(HasSubstr("regfs_layer_index")));  // no indexer to report
  EXPECT_FALSE(s.indexed(layer.digest));
  EXPECT_EQ(s.server->stop(), 0);
  EXPECT_THAT(s.server->log(), Not(HasSubstr("layer indexing")));
  EXPECT_FALSE(s.indexed(layer.digest));
}

TEST_F(LayerIndexerTest, StoppingWhileABigLayerIsIndexedCancelsIt) {
  IndexingServer s;
  std::string big = bigLayer(8);
  push(*s.server, "team/big", "v1", {big});
  // The layer stays queued while it is built.
  ASSERT_TRUE(waitUntil(
      [&] { return s.sample("regfs_layer_index_queue_length{kind=\"layer\"}") == 1; }, kDeadline))
      << s.metrics();
  EXPECT_EQ(s.sample("regfs_layer_indexes_built_total{result=\"ok\"}"), 0);
  EXPECT_EQ(s.server->stop(), 0);
  EXPECT_THAT(s.server->log(), HasSubstr("stopped while indexing " + digestOf(big)));
  EXPECT_FALSE(s.indexed(digestOf(big)));
}

}  // namespace
}  // namespace regfs::testing
