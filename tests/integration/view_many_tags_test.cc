// A store with 10,000 tags lists completely through the mount (`ls -lR`), with many
// threads serving it.

#include <gtest/gtest.h>

#include "common/store/layout.h"
#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;

TEST(ViewManyTagsTest, TenThousandTagsListInSeconds) {
  ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
  TempDir work;
  auto root = work / "store", mnt = work / "mnt";
  Store store = Store::openLocal(root);
  Repository repo = store.repository(RepoName::parse("big/repo"));
  std::vector<Digest> manifests;
  for (int i = 0; i < 10; ++i) {
    manifests.push_back(repo.putManifest("{\"schemaVersion\":2,\"n\":" + std::to_string(i) + "}"));
  }
  // The tag links are written straight into the layout (without a sync per file) to keep
  // the setup fast; the result is the same store putTag would leave.
  constexpr int kTags = 10000;
  for (int i = 0; i < kTags; ++i) {
    Tag tag = Tag::parse("t" + std::to_string(i));
    const Digest& m = manifests[static_cast<size_t>(i) % manifests.size()];
    writeFile(root.string() + layout::tagCurrentLink(repo.name(), tag), m.str());
  }
  ASSERT_EQ(repo.listTags().size(), static_cast<size_t>(kTags));

  MountedView view(root, mnt);
  auto start = std::chrono::steady_clock::now();
  auto r = sh("ls -lR '" + mnt.string() + "' | grep -c ' -> @sha256:'");
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  ASSERT_EQ(r.status, 0) << r.err << view.log();
  EXPECT_EQ(std::stoi(r.out), kTags);
  std::printf("ls -lR of %d tags: %lld ms\n", kTags, static_cast<long long>(took.count()));
  // Again, in parallel from several processes.
  start = std::chrono::steady_clock::now();
  r = sh("for i in 1 2 3 4; do ls -lR '" + mnt.string() + "' > /dev/null & done; wait");
  took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
  EXPECT_EQ(r.status, 0) << r.err;
  std::printf("4 parallel ls -lR: %lld ms\n", static_cast<long long>(took.count()));
  // Timing is reported, not asserted: bench/ measures speed.
}

}  // namespace
}  // namespace regfs
