// Read-ahead across the files of a directory inside an image (fs/prefetch.h): once a file
// is opened, the files after it in the directory are stored into the kernel's page cache by
// the daemon, so a program reading them one after another (tar, cp -r) sends no READ for
// them, and every byte it reads is the file's.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>
#include <thread>

#include "support/http_client.h"
#include "support/poll.h"
#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;

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

  // A reader that looks at files (as tar and cp -r do) gets listings that make the kernel know
  // every file, which the daemon can then store pages for (fs/stat_habits.h).
  EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::symlink_status(dir / "big")));
  std::vector<std::string> names;
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

// A listing inside an image carries the attributes of files only for a reader that has looked
// up a file (fs/stat_habits.h): find and ls make the kernel build no inode per file, while ls
// -l, tar and rsync, once they have looked at one file, need no LOOKUP for the others.
TEST(ViewPrefetchTest, ListingsCarryFileAttributesOnlyForReadersThatLookAtFiles) {
  ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
  TempDir work;
  OciLayout oci(work / "oci");
  std::map<std::string, std::string> files;
  for (const char* d : {"a", "b"}) {
    for (int i = 0; i < 20; ++i)
      files[std::string(d) + "/f" + std::to_string(i)] = "file " + std::to_string(i);
  }
  files["c/x"] = "looked up first";
  Blob image = oci.addImage({oci.addLayer(files)});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "app", {image}, "latest");
  MountedView view(work / "store", work / "mnt", {"-o", "debug"});
  auto rootfs = view.path() / "app/latest/rootfs";
  static const std::regex lookup(R"(opcode: LOOKUP \(1\))");
  // Lists directory `d` and stats its files on a thread of its own (the daemon tells readers
  // apart by thread id), after a look at the file `first` when it is not empty; returns the
  // LOOKUPs the stats took.
  auto listThenStat = [&](const std::string& d, const std::string& first) {
    size_t lookups = 0;
    std::thread reader([&] {
      if (!first.empty()) {
        EXPECT_EQ(std::filesystem::file_size(rootfs / first), files[first].size());
      }
      std::vector<std::filesystem::path> listed;
      for (const auto& e : std::filesystem::directory_iterator(rootfs / d)) {
        EXPECT_TRUE(e.is_regular_file()) << e.path();  // the type comes with every name
        listed.push_back(e.path());
      }
      EXPECT_EQ(listed.size(), 20u);
      size_t before = countInLog(view.log(), lookup);
      for (const auto& path : listed) {
        EXPECT_EQ(std::filesystem::file_size(path),
                  files[d + "/" + path.filename().string()].size())
            << path;
      }
      lookups = countInLog(view.log(), lookup) - before;
    });
    reader.join();
    return lookups;
  };
  // A reader new to the mount: its listing had names and types only, each stat a LOOKUP.
  EXPECT_EQ(listThenStat("a", ""), 20u);
  // A reader that has looked at a file (one the kernel did not know yet): its listing carried
  // every attribute.
  EXPECT_EQ(listThenStat("b", "c/x"), 0u);
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
