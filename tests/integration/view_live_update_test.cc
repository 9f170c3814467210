// A mounted view follows the store without a remount: a new tag, a tag that moves and a
// deleted manifest show up within a second, even right after the kernel cached the old
// names and attributes.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/poll.h"
#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;
using std::chrono::milliseconds;

bool present(const std::filesystem::path& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

std::string target(const std::filesystem::path& p) {
  char buf[256];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

// Looks at everything, so the kernel holds cached entries and attributes for it all.
void warmCache(const std::filesystem::path& mnt) { walkTree(mnt, /*hashFiles=*/false); }

// A store with image `one` pushed as NAME:latest, mounted; image `two` (sharing one's base
// layer) waits in the OCI layout for the test to push.
class ViewLiveUpdateTest : public ::testing::Test {
 protected:
  void mount(const std::string& name) {
    ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
    pushLayout(store, oci, name, {one}, "latest");
    view = std::make_unique<MountedView>(root, mnt);
  }
  Repository repository(const std::string& name) { return store.repository(RepoName::parse(name)); }

  TempDir work;
  std::filesystem::path root = work / "store", mnt = work / "mnt";
  OciLayout oci{work / "oci"};
  Blob base = oci.addLayer({{"base", "base"}});
  Blob one = oci.addImage({base});
  Blob two = oci.addImage({base, oci.addLayer({{"two", "two"}})});
  Store store = Store::openLocal(root);
  std::unique_ptr<MountedView> view;
};

TEST_F(ViewLiveUpdateTest, PushTagMoveAndDeleteShowWithinASecond) {
  ASSERT_NO_FATAL_FAILURE(mount("live/app"));
  Repository repo = repository("live/app");
  auto app = mnt / "live/app";
  const milliseconds kSecond(1000);

  warmCache(mnt);
  EXPECT_FALSE(present(app / "v2"));
  repo.putManifest(two.bytes);
  repo.putTag(Tag::parse("v2"), Digest::parse(two.digest));
  auto took = waitUntil([&] { return target(app / "v2") == "@" + two.digest; }, kSecond);
  ASSERT_TRUE(took) << "a new tag did not show within a second";
  std::printf("new tag visible after %lld ms\n", static_cast<long long>(took->count()));
  EXPECT_TRUE(present(app / ("@" + two.digest) / "layers"));

  warmCache(mnt);
  EXPECT_EQ(target(app / "latest"), "@" + one.digest);
  repo.putTag(Tag::parse("latest"), Digest::parse(two.digest));
  took = waitUntil([&] { return target(app / "latest") == "@" + two.digest; }, kSecond);
  ASSERT_TRUE(took) << "a moved tag did not show within a second";
  std::printf("moved tag visible after %lld ms\n", static_cast<long long>(took->count()));

  warmCache(mnt);
  auto baseLayer =
      app / ("@" + one.digest) / "layers" / ("00-" + base.digest.substr(7) + ".tar.gz");
  struct stat st;
  ASSERT_EQ(::lstat(baseLayer.c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  repo.deleteManifest(Digest::parse(two.digest));
  took = waitUntil(
      [&] {
        struct stat s;
        return !present(app / ("@" + two.digest)) && !present(app / "latest") &&
               !present(app / "v2") && ::lstat(baseLayer.c_str(), &s) == 0 && s.st_nlink == 1;
      },
      kSecond);
  ASSERT_TRUE(took) << "a deleted manifest did not go within a second";
  std::printf("delete visible after %lld ms\n", static_cast<long long>(took->count()));

  // A whole new repository appears too.
  warmCache(mnt);
  pushLayout(store, oci, "live/other", {one}, "x");
  EXPECT_TRUE(waitUntil([&] { return present(mnt / "live/other/x"); }, kSecond));

  // After the mount sat unused long enough for the daemon to stop rebuilding on its own
  // (two cache timeouts), the first look at a moved tag still leads to the new target
  // within a second.
  warmCache(mnt);
  EXPECT_EQ(target(mnt / "live/other/x"), "@" + one.digest);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  Repository other = store.repository(RepoName::parse("live/other"));
  other.putManifest(two.bytes);
  other.putTag(Tag::parse("x"), Digest::parse(two.digest));
  took = waitUntil([&] { return target(mnt / "live/other/x") == "@" + two.digest; }, kSecond);
  ASSERT_TRUE(took) << "a tag moved while the mount was idle did not show within a second";
  std::printf("tag moved while idle visible after %lld ms\n",
              static_cast<long long>(took->count()));

  // The same for a manifest deleted while idle, seen from inside its repository (as from a
  // shell whose working directory is there, no walk through the names above): its
  // directory, whose content the kernel may cache for long, goes.
  warmCache(mnt);
  int repoDir = ::open((mnt / "live/other").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(repoDir, 0);
  std::string manifestDir = "@" + one.digest;
  auto presentInRepo = [&] {
    struct stat st;
    return ::fstatat(repoDir, manifestDir.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  };
  ASSERT_TRUE(presentInRepo());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  other.deleteManifest(Digest::parse(one.digest));
  took = waitUntil([&] { return !presentInRepo(); }, kSecond);
  ::close(repoDir);
  ASSERT_TRUE(took) << "a manifest deleted while the mount was idle did not go within a second";
  std::printf("delete while idle visible after %lld ms\n", static_cast<long long>(took->count()));
}

// After the mount sat unused past every timer (the daemon's rebuilds, the kernel's caches), a
// script that changes the store and looks a second later sees the change at its first look:
// no retry. Each kind of change is made after its own idle spell.
TEST_F(ViewLiveUpdateTest, AfterIdleTheFirstLookASecondLaterSeesTheChange) {
  ASSERT_NO_FATAL_FAILURE(mount("idle/app"));
  Repository repo = repository("idle/app");
  auto app = mnt / "idle/app";
  // Longer than two cache timeouts (the default one is a second): the daemon has stopped
  // rebuilding on its own and the kernel's brief entries and attributes have expired.
  auto idle = [&] {
    warmCache(mnt);
    std::this_thread::sleep_for(std::chrono::seconds(3));
  };
  auto promise = [] { std::this_thread::sleep_for(milliseconds(1000)); };

  idle();
  repo.putManifest(two.bytes);
  repo.putTag(Tag::parse("v2"), Digest::parse(two.digest));
  promise();
  EXPECT_EQ(target(app / "v2"), "@" + two.digest) << "a new tag";

  idle();
  pushLayout(store, oci, "idle/new", {one}, "x");
  promise();
  EXPECT_EQ(target(mnt / "idle/new/x"), "@" + one.digest) << "a new repository";

  idle();
  repo.putTag(Tag::parse("latest"), Digest::parse(two.digest));
  promise();
  EXPECT_EQ(target(app / "latest"), "@" + two.digest) << "a moved tag";

  // A deleted manifest, seen from inside its repository (a shell whose working directory is
  // there): its directory, which the kernel may cache for long, is gone, and the layer it
  // shared with the other manifest has one link less.
  int repoDir = ::open(app.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(repoDir, 0);
  std::string sharedLayer = "@" + two.digest + "/layers/00-" + base.digest.substr(7) + ".tar.gz";
  struct stat st;
  ASSERT_EQ(::fstatat(repoDir, sharedLayer.c_str(), &st, 0), 0);
  nlink_t linksBefore = st.st_nlink;
  idle();
  repo.deleteManifest(Digest::parse(one.digest));
  promise();
  EXPECT_NE(::fstatat(repoDir, ("@" + one.digest).c_str(), &st, AT_SYMLINK_NOFOLLOW), 0)
      << "a deleted manifest";
  ASSERT_EQ(::fstatat(repoDir, sharedLayer.c_str(), &st, 0), 0);
  EXPECT_EQ(st.st_nlink, linksBefore - 1) << "a layer's link count after a delete";
  ::close(repoDir);
}

}  // namespace
}  // namespace regfs
