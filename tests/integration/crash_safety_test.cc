// Crash safety: regfs-server is killed with SIGKILL at random moments while clients push
// blobs (monolithic, chunked, last chunk with the PUT), manifests by tag and by digest, and
// move tags; it is restarted on the same store each time. After every kill the store is
// consistent (support/store_check.h: no torn or empty file, every blob hashes to its
// digest, no link to missing content), every push that was answered 201 is there byte for
// byte, and every tag points at the last manifest acknowledged for it or at the one whose
// PUT the kill interrupted. At the end every acknowledged push is pulled back over HTTP.
//
// REGFS_CRASH_KILLS sets the number of kills (default 100); REGFS_CRASH_SEED the seed.
//
// SIGKILL keeps the page cache, so it cannot show a missing fsync. A second test traces the
// server's system calls (strace) through every kind of push and checks the discipline that
// makes a power cut safe too: a file is fsynced before it is renamed into place, and the
// directory of every rename and mkdir is fsynced before the thread renames anything else.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/store/store.h"
#include "support/http_client.h"
#include "support/poll.h"
#include "support/server.h"
#include "support/store_check.h"

namespace regfs::testing {
namespace {

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

constexpr int kWorkers = 3;
constexpr int kTagsPerWorker = 3;
constexpr int kSharedLayers = 6;

std::string sharedLayer(int i) {
  return randomBytes(static_cast<size_t>(200000 + 37 * i), 1000 + i);
}

struct PushedBlob {
  std::string repo;
  std::string bytes;
};

struct PushedManifest {
  std::string repo;
  std::string bytes;
};

// What the clients were told, and what they were doing when the server died.
struct Ledger {
  std::mutex mu;
  std::map<std::string, PushedBlob> blobs;          // digest -> first acknowledged push
  std::map<std::string, PushedManifest> manifests;  // "repo@digest"
  std::map<std::string, std::string> tagAcked;      // "repo:tag" -> digest
  std::map<std::string, std::string> tagInFlight;   // "repo:tag" -> digest whose PUT was cut
  std::atomic<int> acknowledged{0};
  std::atomic<int> interrupted{0};
  std::vector<std::string> failures;  // answers other than the expected ones

  void fail(const std::string& what) {
    std::lock_guard lock(mu);
    if (failures.size() < 20) failures.push_back(what);
  }
};

// One client: pushes images into its own repository (moving its own tags, so the expected
// value of each tag is known) and shared layers into a repository every client uses.
class Worker {
 public:
  Worker(int id, int port, Ledger& ledger, uint64_t seed, const std::atomic<bool>& stop)
      : id_(id), conn_(port, std::chrono::seconds(20)), ledger_(ledger), rng_(seed), stop_(stop) {}

  void run() {
    while (!stop_.load() && pushNextImage()) {
    }
  }

 private:
  // Uploads `bytes` one of the three ways, chosen at random, and notes what was acknowledged.
  bool pushAndRecordBlob(const std::string& repo, const std::string& bytes) {
    auto how = static_cast<BlobUpload>(rng_() % 3);
    int chunks = how == BlobUpload::kChunked              ? 1 + static_cast<int>(rng_() % 4)
                 : how == BlobUpload::kChunkedLastWithPut ? 2 + static_cast<int>(rng_() % 3)
                                                          : 1;
    std::optional<Reply> r = pushBlob(conn_, repo, bytes, how, chunks);
    if (!r) {
      ledger_.interrupted++;
      return false;
    }
    if (r->status != 201 || r->header("docker-content-digest") != digestOf(bytes)) {
      ledger_.fail("blob push to " + repo + ": " + std::to_string(r->status) + " " + r->body);
      return false;
    }
    ledger_.acknowledged++;
    std::lock_guard lock(ledger_.mu);
    ledger_.blobs.try_emplace(digestOf(bytes), PushedBlob{repo, bytes});
    return true;
  }

  // Pushes the next image blob by blob, noting each step in the ledger: the tag's manifest is
  // in flight from just before its PUT until the answer.
  bool pushNextImage() {
    std::string repo = "crash/w" + std::to_string(id_);
    uint64_t n = rng_();
    std::string config = "{\"worker\":" + std::to_string(id_) + ",\"n\":" + std::to_string(n) + "}";
    std::vector<std::string> layers;
    layers.push_back(randomBytes(rng_() % 3 == 0 ? 1 + rng_() % 3000000 : rng_() % 70000, n));
    layers.push_back(sharedLayer(static_cast<int>(rng_() % kSharedLayers)));
    if (rng_() % 2) layers.push_back(std::string());  // the empty blob
    ImageBytes image = ociImage(config, layers, std::to_string(n));
    for (const std::string& blob : image.blobs()) {
      if (!pushAndRecordBlob(repo, blob)) return false;
    }
    // Shared layers also go to one repository all clients push to at once.
    if (!pushAndRecordBlob("crash/shared", layers[1])) return false;

    const std::string& manifest = image.manifest;
    std::string digest = image.digest();
    bool byTag = rng_() % 4 != 0;
    std::string tagKey = repo + ":t" + std::to_string(rng_() % kTagsPerWorker);
    std::string reference = byTag ? tagKey.substr(repo.size() + 1) : digest;
    if (byTag) {
      std::lock_guard lock(ledger_.mu);
      ledger_.tagInFlight[tagKey] = digest;
    }
    auto r = putManifest(conn_, repo, reference, manifest, kOciManifestType);
    if (!r) {
      ledger_.interrupted++;
      return false;
    }
    std::lock_guard lock(ledger_.mu);
    ledger_.tagInFlight.erase(tagKey);
    if (r->status != 201 || r->header("docker-content-digest") != digest) {
      ledger_.failures.push_back("manifest push to " + repo + ": " + std::to_string(r->status) +
                                 " " + r->body);
      return false;
    }
    ledger_.acknowledged++;
    ledger_.manifests.try_emplace(repo + "@" + digest, PushedManifest{repo, manifest});
    if (byTag) ledger_.tagAcked[tagKey] = digest;
    return true;
  }

  int id_;
  HttpConnection conn_;
  Ledger& ledger_;
  std::mt19937_64 rng_;
  const std::atomic<bool>& stop_;
};

// What the store holds for the ledger, read through common/ with the server dead.
void expectLedgerInStore(const std::filesystem::path& root, Ledger& ledger, int kill) {
  Store store = Store::openLocal(root);
  std::lock_guard lock(ledger.mu);
  for (const auto& [digest, blob] : ledger.blobs) {
    Repository repo = store.repository(RepoName::parse(blob.repo));
    auto info = repo.statLayer(Digest::parse(digest));
    ASSERT_TRUE(info) << "after kill " << kill << ": acknowledged blob " << digest
                      << " is gone from " << blob.repo;
    EXPECT_EQ(info->size, blob.bytes.size()) << digest;
  }
  for (const auto& [key, m] : ledger.manifests) {
    Repository repo = store.repository(RepoName::parse(m.repo));
    Digest digest = Digest::parse(key.substr(key.find('@') + 1));
    ASSERT_TRUE(repo.hasManifest(digest))
        << "after kill " << kill << ": acknowledged manifest " << key << " is gone";
    EXPECT_EQ(repo.getManifest(digest), m.bytes) << key;
  }
  std::set<std::string> tags;
  for (const auto& [tag, _] : ledger.tagAcked) tags.insert(tag);
  for (const auto& [tag, _] : ledger.tagInFlight) tags.insert(tag);
  for (const std::string& key : tags) {
    size_t colon = key.find(':');
    Repository repo = store.repository(RepoName::parse(key.substr(0, colon)));
    auto current = repo.resolveTag(Tag::parse(key.substr(colon + 1)));
    std::set<std::string> allowed;
    // A tag never acknowledged may not exist yet.
    allowed.insert(ledger.tagAcked.count(key) ? ledger.tagAcked[key] : "(none)");
    if (ledger.tagInFlight.count(key)) allowed.insert(ledger.tagInFlight[key]);
    std::string now = current ? current->str() : "(none)";
    EXPECT_TRUE(allowed.count(now))
        << "after kill " << kill << ": tag " << key << " points at " << now << ", acknowledged "
        << (ledger.tagAcked.count(key) ? ledger.tagAcked[key] : "-");
    // The interrupted PUT has now either happened or not; either is the acknowledged state.
    if (current) ledger.tagAcked[key] = now;
  }
  ledger.tagInFlight.clear();
}

TEST(CrashSafety, KillNineDuringPushesLosesNothingAcknowledged) {
  const int kills = envInt("REGFS_CRASH_KILLS", 100);
  const uint64_t seed =
      static_cast<uint64_t>(envInt("REGFS_CRASH_SEED", static_cast<int>(::time(nullptr))));
  std::mt19937_64 rng(seed);
  TempDir dir;
  auto root = dir / "store";
  Ledger ledger;
  StoreChecker checker(root);
  size_t tempFiles = 0;

  for (int kill = 1; kill <= kills; ++kill) {
    auto server = std::make_unique<RegfsServer>(root);
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (int w = 0; w < kWorkers; ++w) {
      uint64_t workerSeed = rng();
      workers.emplace_back(
          [&, w, workerSeed] { Worker(w, server->port(), ledger, workerSeed, stop).run(); });
    }
    // Anywhere from the first request to the middle of a multi-MiB upload.
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 300));
    ASSERT_EQ(::kill(server->pid(), SIGKILL), 0);
    stop = true;
    for (auto& t : workers) t.join();
    server.reset();

    ASSERT_TRUE(ledger.failures.empty())
        << "seed " << seed << ", kill " << kill << ": " << ledger.failures[0];
    StoreReport report = checker.check();
    ASSERT_TRUE(report.clean()) << "seed " << seed << ", after kill " << kill << ": "
                                << report.describe();
    tempFiles = report.tempFiles;
    expectLedgerInStore(root, ledger, kill);
    if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure()) {
      FAIL() << "seed " << seed << ", after kill " << kill;
    }
  }

  // Everything acknowledged pulls back byte for byte from a restarted server.
  RegfsServer server(root);
  HttpConnection c(server.port());
  for (const auto& [digest, blob] : ledger.blobs) {
    auto r = c.request("GET", "/v2/" + blob.repo + "/blobs/" + digest);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << digest;
    ASSERT_TRUE(r->body == blob.bytes) << digest;
  }
  for (const auto& [key, m] : ledger.manifests) {
    auto r = c.request("GET", "/v2/" + m.repo + "/manifests/" + key.substr(key.find('@') + 1), {},
                       {"Accept: " + kOciManifestType});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << key;
    ASSERT_EQ(r->body, m.bytes) << key;
  }
  for (const auto& [key, digest] : ledger.tagAcked) {
    size_t colon = key.find(':');
    auto r = c.request("GET", "/v2/" + key.substr(0, colon) + "/manifests/" + key.substr(colon + 1),
                       {}, {"Accept: " + kOciManifestType});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << key;
    EXPECT_EQ(r->header("docker-content-digest"), digest) << key;
  }
  std::cout << "[ crash    ] seed " << seed << ": " << kills << " kills, "
            << ledger.acknowledged.load() << " pushes acknowledged (" << ledger.blobs.size()
            << " blobs, " << ledger.manifests.size() << " manifests, " << ledger.tagAcked.size()
            << " tags), " << ledger.interrupted.load() << " requests cut by a kill, " << tempFiles
            << " temporary files left behind\n";
  EXPECT_GT(ledger.interrupted.load(), kills / 2) << "the kills should land inside requests";
}

// The fsync discipline in an strace -f log; one line per violation.
std::vector<std::string> fsyncViolations(const std::string& trace, size_t& renames) {
  std::vector<std::string> out;
  std::map<std::string, std::string> unfinished;          // pid -> start of the line
  std::map<long, std::string> fdPath;                     // fds are shared by the threads
  std::set<std::string> dirty;                            // written, not yet fsynced
  std::map<std::string, std::set<std::string>> needSync;  // pid -> directories to fsync
  auto parent = [](const std::string& p) { return p.substr(0, p.rfind('/')); };
  // Quoted strings in a call's arguments (paths here: no escapes in store paths).
  auto quotedStrings = [](const std::string& args) {
    std::vector<std::string> out;
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] != '"') continue;
      size_t end = i + 1;
      while (end < args.size() && args[end] != '"') end += args[end] == '\\' ? 2 : 1;
      out.push_back(args.substr(i + 1, end - i - 1));
      i = end;
    }
    return out;
  };
  // The quoted paths in a call's arguments, each one relative to a directory descriptor
  // (the *at calls: "3, \"name\"") made absolute with the path that descriptor was opened at.
  auto pathsOf = [&](const std::string& args) {
    std::vector<std::string> out;
    std::string before;  // the argument before the current one
    size_t start = 0;
    for (size_t i = 0, depth = 0; i <= args.size(); ++i) {
      if (i < args.size() && args[i] == '"') {
        while (++i < args.size() && args[i] != '"') i += args[i] == '\\';
        continue;
      }
      if (i < args.size() && (args[i] == '{' || args[i] == '[')) ++depth;
      if (i < args.size() && (args[i] == '}' || args[i] == ']')) --depth;
      if (i < args.size() && (args[i] != ',' || depth > 0)) continue;
      std::string arg = args.substr(start, i - start);
      arg.erase(0, arg.find_first_not_of(' '));
      start = i + 1;
      std::vector<std::string> quoted = quotedStrings(arg);
      if (arg.starts_with('"') && !quoted.empty()) {
        std::string path = quoted[0];
        auto dir = before.empty() || !std::isdigit(static_cast<unsigned char>(before[0]))
                       ? fdPath.end()
                       : fdPath.find(std::atol(before.c_str()));
        if (!path.starts_with('/') && dir != fdPath.end()) path = dir->second + "/" + path;
        out.push_back(path);
      }
      before = arg;
    }
    return out;
  };
  std::istringstream in(trace);
  std::string line;
  while (std::getline(in, line)) {
    std::string pid = line.substr(0, line.find(' '));
    if (auto p = line.find(" <unfinished ...>"); p != std::string::npos) {
      unfinished[pid] = line.substr(0, p);
      continue;
    }
    if (auto p = line.find(" resumed>"); p != std::string::npos) {
      line = unfinished[pid] + line.substr(p + 9);
      unfinished.erase(pid);
    }
    // "PID name(args)   = ret": strace pads before " = ".
    size_t open = line.find('('), eq = line.rfind(" = ");
    if (open == std::string::npos || eq == std::string::npos || eq < open) continue;
    size_t close = line.rfind(')', eq);
    if (close == std::string::npos || close < open) continue;
    size_t nameStart = line.find_first_not_of(' ', pid.size());
    std::string name = line.substr(nameStart, open - nameStart);
    std::string args = line.substr(open + 1, close - open - 1);
    long ret = std::atol(line.c_str() + eq + 3);
    if (ret < 0) continue;
    std::vector<std::string> paths = pathsOf(args);
    long fd = std::atol(args.c_str());
    if ((name == "openat" || name == "openat2") && !paths.empty()) {
      fdPath[ret] = paths[0];
    } else if (name == "close") {
      fdPath.erase(fd);
    } else if ((name == "write" || name == "pwrite64" || name == "writev") && fdPath.count(fd)) {
      dirty.insert(fdPath[fd]);
    } else if ((name == "fsync" || name == "fdatasync") && fdPath.count(fd)) {
      dirty.erase(fdPath[fd]);
      needSync[pid].erase(fdPath[fd]);
    } else if ((name == "mkdir" || name == "mkdirat") && !paths.empty()) {
      needSync[pid].insert(parent(paths[0]));
    } else if (name.rfind("rename", 0) == 0 && paths.size() == 2) {
      renames++;
      for (const std::string& dir : needSync[pid]) {
        out.push_back("rename of " + paths[0] + " before directory " + dir + " was fsynced");
      }
      needSync[pid].clear();
      if (dirty.count(paths[0]))
        out.push_back("rename of " + paths[0] + " before its data was fsynced");
      dirty.erase(paths[0]);
      needSync[pid].insert(parent(paths[1]));
    }
  }
  for (const auto& [pid, dirs] : needSync) {
    for (const std::string& dir : dirs)
      out.push_back("directory " + dir + " never fsynced after a change");
  }
  return out;
}

bool allThreadsTraced(pid_t pid) {
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string status = readFile(task.path() / "status");
    auto p = status.find("TracerPid:");
    if (p == std::string::npos || std::stoi(status.substr(p + 10)) == 0) return false;
  }
  return true;
}

TEST(CrashSafety, EveryRenameFollowsAnFsyncAndIsFollowedByADirectoryFsync) {
  ASSERT_TRUE(haveProgram("strace")) << "strace is needed";
  TempDir dir;
  // In sanitizer builds: LeakSanitizer cannot check a traced process at exit, so it does not.
  RegfsServerOptions options;
  const char* asan = std::getenv("ASAN_OPTIONS");
  options.env["ASAN_OPTIONS"] = std::string(asan ? asan : "") + ":detect_leaks=0";
  RegfsServer server(dir / "store", options);
  auto log = dir / "trace";
  Process strace({"strace", "-f", "-qq", "-s", "512", "-o", log.string(), "-e",
                  "trace=openat,openat2,write,pwrite64,writev,fsync,fdatasync,close,mkdir,mkdirat,"
                  "rename,renameat,renameat2",
                  "-p", std::to_string(server.pid())});
  waitUntil([&] { return allThreadsTraced(server.pid()); }, std::chrono::seconds(20),
            std::chrono::milliseconds(50));
  ASSERT_TRUE(allThreadsTraced(server.pid())) << "strace did not attach";

  HttpConnection c(server.port(), std::chrono::seconds(60));
  std::string config = "{}", a = randomBytes(300000, 1), b = randomBytes(100000, 2),
              e = randomBytes(50000, 3);
  ASSERT_EQ(pushBlobMonolithic(c, "audit/app", config)->status, 201);
  ASSERT_EQ(pushBlobChunked(c, "audit/app", a, 3)->status, 201);
  ASSERT_EQ(pushBlobChunked(c, "audit/app", b, 2, true)->status, 201);
  ASSERT_EQ(pushBlobMonolithic(c, "audit/other", e)->status, 201);
  auto r =
      c.request("POST", "/v2/audit/app/blobs/uploads/?mount=" + digestOf(e) + "&from=audit/other");
  ASSERT_EQ(r->status, 201);
  std::string m1 = ociManifest(config, {a, b, e}), m2 = ociManifest(config, {a}, "2");
  ASSERT_EQ(putManifest(c, "audit/app", "v1", m1, kOciManifestType)->status, 201);
  ASSERT_EQ(putManifest(c, "audit/app", "v1", m2, kOciManifestType)->status, 201);  // a tag move
  ASSERT_EQ(putManifest(c, "audit/app", digestOf(m1), m1, kOciManifestType)->status, 201);
  std::string index = indexJson({descriptorOf(kOciManifestType, m1)});
  ASSERT_EQ(putManifest(c, "audit/app", "multi", index, kOciIndexType)->status, 201);
  c.close();
  EXPECT_EQ(server.stop(), 0);
  strace.stop(SIGTERM, std::chrono::seconds(10));

  size_t renames = 0;
  auto violations = fsyncViolations(readFile(log), renames);
  EXPECT_GE(renames, 20u) << "the trace should hold every commit";
  std::string all;
  for (const auto& v : violations) all += "\n  " + v;
  EXPECT_TRUE(violations.empty()) << violations.size() << " violation(s) in " << renames
                                  << " renames:" << all;
}

}  // namespace
}  // namespace regfs::testing
