// Read-ahead across the files of a directory inside an image (fs/prefetch.h): once a file
// is opened, the files after it in the directory are stored into the kernel's page cache by
// the daemon, so a program reading them one after another (tar, cp -r) sends no READ for
// them, and every byte it reads is the file's.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>

#include "support/http_client.h"
#include "support/poll.h"
#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;

// How often `pattern` occurs in the daemon's debug log.
size_t countInLog(const std::string& log, const std::regex& pattern) {
  return static_cast<size_t>(
      std::distance(std::sregex_iterator(log.begin(), log.end(), pattern), std::sregex_iterator()));
}

TEST(ViewPrefetchTest, FilesThatFollowInADirectoryAreReadAheadIntoThePageCache) {
  ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
  TempDir work;
  OciLayout oci(work / "oci");
  std::map<std::string, std::string> files;
  for (int i = 0; i < 100; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "dir/f%03d", i);
    files[name] = randomBytes(3000 + 97 * static_cast<size_t>(i), static_cast<uint64_t>(i));
  }
  files["dir/big"] = randomBytes(3 << 20, 1000);  // past the per-file bound: read, not stored
  Blob layer = oci.addLayer(files);
  Blob image = oci.addImage({layer});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "app", {image}, "latest");
  MountedView view(work / "store", work / "mnt", {"-o", "debug"});
  auto dir = view.path() / "app/latest/rootfs/dir";

  std::vector<std::string> names;  // listing the directory makes the kernel know its files
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 101u);
  ASSERT_EQ(names[0], "big");

  static const std::regex read(R"(opcode: READ \(15\))");
  static const std::regex stored(R"(NOTIFY: code=4 )");  // FUSE_NOTIFY_STORE
  EXPECT_EQ(readFile(dir / "f000"), files["dir/f000"]);
  size_t readsBefore = countInLog(view.log(), read);
  EXPECT_GE(readsBefore, 1u) << "the first file is read through the daemon";
  // Opening f000 queued the next 64 files (fs/prefetch.h's window) past it.
  EXPECT_TRUE(waitUntil([&] { return countInLog(view.log(), stored) >= 64; }))
      << countInLog(view.log(), stored) << " files stored into the page cache:\n"
      << view.log().substr(0, 4000);
  for (int i = 1; i <= 64; ++i) {
    std::string name = names[static_cast<size_t>(i) + 1];
    EXPECT_EQ(readFile(dir / name), files["dir/" + name]) << name;
  }
  EXPECT_EQ(countInLog(view.log(), read), readsBefore)
      << "files stored ahead were read through the daemon again";

  // The rest, and the big one, read as they are, whichever way they come.
  for (size_t i = 66; i < names.size(); ++i)
    EXPECT_EQ(readFile(dir / names[i]), files["dir/" + names[i]]) << names[i];
  EXPECT_EQ(readFile(dir / "big"), files["dir/big"]);
}

// -o prefetch_files=0 turns the read-ahead off: every file is read through the daemon.
TEST(ViewPrefetchTest, PrefetchFilesZeroReadsEveryFileThroughTheDaemon) {
  ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
  TempDir work;
  OciLayout oci(work / "oci");
  std::map<std::string, std::string> files;
  for (int i = 0; i < 10; ++i)
    files["dir/f" + std::to_string(i)] = randomBytes(5000, static_cast<uint64_t>(i));
  Blob image = oci.addImage({oci.addLayer(files)});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "app", {image}, "latest");
  MountedView view(work / "store", work / "mnt", {"-o", "debug,prefetch_files=0"});
  auto dir = view.path() / "app/latest/rootfs/dir";
  for (const auto& e : std::filesystem::directory_iterator(dir)) static_cast<void>(e);
  for (const auto& [name, bytes] : files)
    EXPECT_EQ(readFile(view.path() / "app/latest/rootfs" / name), bytes) << name;
  static const std::regex read(R"(opcode: READ \(15\))");
  static const std::regex stored(R"(NOTIFY: code=4 )");
  EXPECT_EQ(countInLog(view.log(), stored), 0u);
  EXPECT_EQ(countInLog(view.log(), read), files.size());
}

}  // namespace
}  // namespace regfs
