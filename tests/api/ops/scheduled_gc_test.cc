// Replicas sharing a store, each with regfs.gc.interval set, run garbage collection once per
// interval between them (the lease in the store), and it removes what nothing references.
// Real server processes on one root; runs counted from the metrics and the log lines.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/store/layout.h"
#include "common/store/lease.h"
#include "common/store/store.h"
#include "support/poll.h"
#include "support/process.h"
#include "support/server.h"
#include "support/store_builder.h"

namespace regfs::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kSummary[] = "scheduled gc: ";
constexpr char kRunLine[] = "blobs marked; removed";

RegfsServerOptions withGc(const std::string& gc) {
  RegfsServerOptions o;
  o.extraConfig = gc;
  return o;
}

// A replica; its runs are counted from its log, one summary line each.
struct Replica : MetricsServer {
  Replica(const std::filesystem::path& root, const std::string& gc)
      : MetricsServer(root, withGc(gc)) {}
  size_t runs() const { return occurrences(server->log(), kRunLine); }
};

TEST(ScheduledGc, TwoReplicasOnOneStoreRunItOncePerInterval) {
  TempDir root;
  Store store = Store::openLocal(root.path());
  Repository app = store.repository(RepoName::parse("team/app"));
  app.putTag(Tag::parse("v1"), pushImage(store, app, {"kept layer"}).manifest);
  Digest orphan = store.putBlob("nothing references this");
  ageTree(root.path(), 2h);

  constexpr auto kInterval = 2s;
  const std::string gc = "regfs:\n  gc:\n    interval: 2s\n    grace: 1m\n    settle: 200ms\n";
  auto start = std::chrono::steady_clock::now();
  Replica a(root.path(), gc);
  Replica b(root.path(), gc);

  ASSERT_TRUE(waitUntil([&] { return a.runs() + b.runs() >= 4; }, 60s))
      << a.server->log() << b.server->log();
  size_t runs = a.runs() + b.runs();
  auto elapsed = std::chrono::steady_clock::now() - start;
  // One run per lease term; without the lease each replica would run every interval.
  size_t terms = static_cast<size_t>(elapsed / kInterval) + 1;
  EXPECT_LE(runs, terms) << runs << " runs in " << terms << " terms\n"
                         << a.server->log() << b.server->log();

  EXPECT_FALSE(store.statBlob(orphan)) << "a run removed the unreferenced blob";
  EXPECT_TRUE(store.statBlob(*app.resolveTag(Tag::parse("v1"))));
  // The lease names one of them; the metrics say so and count the runs.
  Lease lease(store.driverPtr(), layout::gcLease(), "test");
  auto held = lease.read();
  ASSERT_TRUE(held);
  std::string ma = a.metrics(), mb = b.metrics();
  EXPECT_EQ(sampleValue(ma, "regfs_gc_runs_total") + sampleValue(mb, "regfs_gc_runs_total"),
            static_cast<double>(a.runs() + b.runs()))
      << ma << mb;
  EXPECT_EQ(sampleValue(ma, "regfs_gc_blobs_removed_total") +
                sampleValue(mb, "regfs_gc_blobs_removed_total"),
            1.0);
  EXPECT_GT(sampleValue(ma, "regfs_gc_last_run_timestamp_seconds") +
                sampleValue(mb, "regfs_gc_last_run_timestamp_seconds"),
            0.0);
  EXPECT_LE(sampleValue(ma, "regfs_gc_lease_held") + sampleValue(mb, "regfs_gc_lease_held"), 1.0);
  EXPECT_EQ(sampleValue(ma, "regfs_gc_failures_total"), 0.0);
  EXPECT_EQ(a.server->stop(), 0);
  EXPECT_EQ(b.server->stop(), 0);
}

TEST(ScheduledGc, OffUnlessAnIntervalIsSet) {
  TempDir root;
  Store store = Store::openLocal(root.path());
  Digest orphan = store.putBlob("nothing references this");
  ageTree(root.path(), 2h);
  Replica a(root.path(), "");
  EXPECT_EQ(sampleValue(a.metrics(), "regfs_gc_runs_total"), 0.0);
  EXPECT_EQ(a.server->stop(), 0);
  EXPECT_EQ(occurrences(a.server->log(), kSummary), 0u);
  EXPECT_TRUE(store.statBlob(orphan));
  EXPECT_FALSE(store.driver().stat(layout::gcLease()));
}

}  // namespace
}  // namespace regfs::testing
