// regfs-mount's command line: help and version, one clear line on bad arguments, and a
// stale mount left by a crashed daemon recovered at the next start.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "support/poll.h"
#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;

std::string mountBin() { return (binDir() / "regfs-mount").string(); }

TEST(ViewCommandLineTest, HelpVersionAndBadArguments) {
  auto r = run({mountBin(), "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("MOUNTPOINT"), std::string::npos) << r.out;
  r = run({mountBin(), "--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("regfs-mount ", 0), 0u) << r.out;

  TempDir work;
  std::filesystem::create_directories(work / "mnt");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {(work / "store").string()},
           {(work / "missing").string(), (work / "mnt").string(), "-f"},
           {work.path().string(), (work / "missing-mnt").string(), "-f"},
           {work.path().string(), (work / "mnt").string(), "-f", "extra"},
           {work.path().string(), (work / "mnt").string(), "-f", "-o", "cache_timeout_ms=x"},
       }) {
    std::vector<std::string> argv = {mountBin()};
    argv.insert(argv.end(), args.begin(), args.end());
    r = run(argv);
    EXPECT_NE(r.status, 0) << ::testing::PrintToString(args);
    EXPECT_EQ(lines(r.err), 1u) << ::testing::PrintToString(args) << ": " << r.err;
    EXPECT_FALSE(isRegfsMount(work / "mnt"));
  }
}

TEST(ViewCommandLineTest, FailuresExitWithTheToolsStatuses) {
  TempDir work;
  std::filesystem::create_directories(work / "mnt");
  std::string mnt = (work / "mnt").string();
  EXPECT_EQ(run({mountBin(), (work / "missing").string(), mnt, "-f"}).status, 66)
      << "EX_NOINPUT: ROOT is missing";
  EXPECT_EQ(run({mountBin(), work.path().string(), mnt, "-f", "-o", "max_threads=-1"}).status, 2)
      << "a bad option";
  writeFile(work / "config.yml", "version: 0.1\nstorage:\n  bogus: {}\n");
  EXPECT_EQ(run({mountBin(), (work / "config.yml").string(), mnt, "-f"}).status, 78) << "EX_CONFIG";
  EXPECT_FALSE(isRegfsMount(work / "mnt"));
}

TEST(ViewCommandLineTest, StaleMountOfACrashedDaemonIsRecovered) {
  ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
  TempDir work;
  auto root = work / "store", mnt = work / "mnt";
  Store store = Store::openLocal(root);
  Repository repo = store.repository(RepoName::parse("crash/test"));
  repo.putTag(Tag::parse("t"), repo.putManifest("{\"schemaVersion\":2}"));
  MountedView crashed(root, mnt);
  ASSERT_TRUE(std::filesystem::is_symlink(mnt / "crash/test/t"));
  crashed.stop(SIGKILL);
  // The kernel still has the mount, but nobody answers it (once cached attributes expire).
  ASSERT_TRUE(isRegfsMount(mnt)) << "the killed daemon's mount vanished; cannot test recovery";
  EXPECT_TRUE(waitUntil(
      [&] {
        struct stat st;
        return ::stat(mnt.c_str(), &st) != 0 && errno == ENOTCONN;
      },
      std::chrono::seconds(5)));
  MountedView again(root, mnt);
  EXPECT_TRUE(std::filesystem::is_symlink(mnt / "crash/test/t")) << again.log();
  EXPECT_NE(again.log().find("stale mount"), std::string::npos) << again.log();
}

TEST(ViewCommandLineTest, RootMayBeAConfigYml) {
  ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
  TempDir work;
  auto root = work / "store", mnt = work / "mnt";
  Store store = Store::openLocal(root);
  Repository repo = store.repository(RepoName::parse("from/config"));
  repo.putTag(Tag::parse("t"), repo.putManifest("{\"schemaVersion\":2}"));
  writeFile(work / "config.yml",
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + root.string() + "\n");
  MountedView view(work / "config.yml", mnt);
  EXPECT_TRUE(std::filesystem::is_symlink(mnt / "from/config/t"));
}

}  // namespace
}  // namespace regfs
