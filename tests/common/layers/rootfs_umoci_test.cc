// The merged tree against a real unpacker: the same layers, written as tar files into an OCI
// image layout, unpacked by `umoci raw unpack`, and the file system it leaves compared name
// by name with FsTree::merge (kind, the entry that supplied each file, symlink targets,
// hardlink groups and their nlink). Skipped where umoci is not installed.

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/layers/rootfs.h"
#include "support/image.h"
#include "support/layer_entries.h"
#include "support/process.h"
#include "support/tar_writer.h"

namespace regfs::layers {
namespace {

using testing::layerEntries;

namespace fs = std::filesystem;
using testing::TarHeader;
using testing::TarWriter;
using testing::TempDir;

// A regular file's content names its layer and entry ("L1E3"), so the unpacked tree shows
// which entry supplied it. Layers are described as testing::layerEntries says.
std::string contentOf(size_t layer, size_t entry) {
  return "L" + std::to_string(layer) + "E" + std::to_string(entry);
}

// A ustar archive of `entries` (names under 100 bytes).
std::string ustar(const std::vector<Entry>& entries, size_t layerNumber) {
  TarWriter tar;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    std::string data = e.type == EntryType::kRegular ? contentOf(layerNumber, i) : "";
    char type = '0';
    if (e.type == EntryType::kDirectory) type = '5';
    if (e.type == EntryType::kSymlink) type = '2';
    if (e.type == EntryType::kHardlink) type = '1';
    if (e.type == EntryType::kFifo) type = '6';
    tar.header(TarHeader()
                   .name(e.type == EntryType::kDirectory ? e.path + "/" : e.path)
                   .mode(e.mode)
                   .size(data.size())
                   .mtime(1700000000)
                   .type(type)
                   .linkName(e.linkTarget))
        .data(data);
  }
  return tar.end().bytes();
}

struct Seen {
  char kind;
  std::string what;   // a file's content, a symlink's target
  uint64_t identity;  // st_ino, or the tree's inode number
  uint32_t nlink;
};

std::map<std::string, Seen> unpacked(const fs::path& root) {
  std::map<std::string, Seen> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    struct stat st {};
    EXPECT_EQ(::lstat(it->path().c_str(), &st), 0);
    std::string path = it->path().lexically_relative(root).string();  // no symlink resolved
    Seen seen{'?', "", st.st_ino, static_cast<uint32_t>(st.st_nlink)};
    if (S_ISDIR(st.st_mode)) seen.kind = 'd';
    if (S_ISREG(st.st_mode)) seen = {'f', testing::readFile(it->path()), st.st_ino, seen.nlink};
    if (S_ISLNK(st.st_mode)) seen = {'l', fs::read_symlink(it->path()).string(), st.st_ino, 1};
    if (S_ISFIFO(st.st_mode)) seen.kind = 'p';
    out.emplace(path, seen);
  }
  return out;
}

std::map<std::string, Seen> merged(const FsTree& tree,
                                   const std::vector<const std::vector<Entry>*>& layers) {
  std::map<std::string, Seen> out;
  std::vector<std::pair<std::string, uint32_t>> stack{{"", FsTree::kRoot}};
  while (!stack.empty()) {
    auto [path, number] = stack.back();
    stack.pop_back();
    for (const auto& [name, child] : tree.inode(number).children) {
      std::string childPath = path.empty() ? name : path + "/" + name;
      const Inode& inode = tree.inode(child);
      Seen seen{'d', "", child, inode.nlink};
      if (inode.entry != Inode::kNone) {
        const Entry& e = (*layers[inode.layer])[inode.entry];
        if (e.type == EntryType::kRegular)
          seen = {'f', contentOf(inode.layer, inode.entry), child, inode.nlink};
        if (e.type == EntryType::kSymlink) seen = {'l', e.linkTarget, child, 1};
        if (e.type == EntryType::kFifo) seen.kind = 'p';
      }
      out.emplace(childPath, seen);
      if (seen.kind == 'd') stack.emplace_back(childPath, child);
    }
  }
  return out;
}

void expectSameAsUmoci(const std::vector<std::vector<Entry>>& tables) {
  ASSERT_TRUE(testing::haveProgram("umoci")) << "umoci is required (scripts/setup.sh installs it)";
  TempDir dir;
  testing::OciLayout oci(dir / "oci");
  std::vector<testing::Blob> blobs;
  for (size_t l = 0; l < tables.size(); ++l) {
    testing::writeFile(dir / "layer.tar", ustar(tables[l], l));
    auto gz = testing::sh("gzip -nc '" + (dir / "layer.tar").string() + "'");
    ASSERT_EQ(gz.status, 0) << gz.err;
    blobs.push_back(oci.addBlob(testing::kOciLayerType, gz.out));
  }
  oci.tag("t", oci.addImage(blobs));
  auto result = testing::run({"umoci", "raw", "unpack", "--rootless", "--image",
                              (dir / "oci").string() + ":t", (dir / "rootfs").string()});
  ASSERT_EQ(result.status, 0) << result.err;

  std::vector<const std::vector<Entry>*> pointers;
  for (const auto& t : tables) pointers.push_back(&t);
  FsTree tree = FsTree::merge(pointers);
  auto ours = merged(tree, pointers);
  auto theirs = unpacked(dir / "rootfs");

  std::map<uint64_t, uint64_t> inodeOf;  // our inode -> their st_ino, one to one
  std::map<uint64_t, uint64_t> numberOf;
  for (const auto& [path, seen] : theirs) {
    auto it = ours.find(path);
    if (it == ours.end()) {
      ADD_FAILURE() << "only umoci has " << path;
      continue;
    }
    const Seen& mine = it->second;
    EXPECT_EQ(mine.kind, seen.kind) << path;
    EXPECT_EQ(mine.what, seen.what) << path;
    if (seen.kind == 'd') continue;
    EXPECT_EQ(mine.nlink, seen.nlink) << path;
    EXPECT_EQ(inodeOf.try_emplace(mine.identity, seen.identity).first->second, seen.identity)
        << "hardlinks differ at " << path;
    EXPECT_EQ(numberOf.try_emplace(seen.identity, mine.identity).first->second, mine.identity)
        << "hardlinks differ at " << path;
  }
  for (const auto& [path, seen] : ours) {
    EXPECT_TRUE(theirs.count(path)) << "only regfs has " << path;
  }
}

TEST(RootfsUmoci, WhiteoutsAndOpaqueDirectories) {
  expectSameAsUmoci({
      layerEntries({"etc/", "etc/a", "etc/b", "bin/", "bin/x", "bin/sub/", "bin/sub/y", "d/",
                    "d/old", "d/sub/", "d/sub/z", "f"}),
      layerEntries({"etc/", "etc/.wh.a", "bin/", "bin/.wh..wh..opq", "bin/z", ".wh.d", "d/",
                    "d/new", ".wh.nothing"}),
      layerEntries({"etc/", "etc/c", "etc/.wh..wh..opq", "f/", "f/g", "bin/", "bin/.wh.z"}),
  });
}

TEST(RootfsUmoci, Hardlinks) {
  expectSameAsUmoci({
      layerEntries({"a", "h => a", "b", "d/", "d/x"}),
      layerEntries({"l => b", "a", "d", "m => h"}),
      layerEntries({".wh.b", "p:fifo", "q => fifo", "r => l"}),
  });
}

TEST(RootfsUmoci, ReplacementsWithinAndAcrossLayers) {
  expectSameAsUmoci({
      layerEntries({"x/", "x/1", "x", "y", "y/", "y/2", "z -> target", "z", "k/", "k/1"}),
      layerEntries({"y -> elsewhere", "w/deep/er/file", "k/", "k/2", "x/"}),
  });
}

TEST(RootfsUmoci, WhiteoutsAfterTheirOwnLayersEntriesAndLinksToReplacedNames) {
  expectSameAsUmoci({
      layerEntries({"a", "b", "c/", "c/1", "c/sub/", "c/sub/2", "e"}),
      layerEntries({"a", ".wh.a", "h => b", "b", "g => h", ".wh..wh.plnk", "c/2", "c/.wh..wh..opq",
                    "c/sub/", "c/sub/3", "e/", "e/.wh.x"}),
  });
}

// Symlinked parent directories, followed inside the root. Only what umoci can unpack: a loop,
// a chain past 255 links or a parent that is a file fails its whole unpack (regfs drops the
// entry; rootfs_test.cc covers those).
TEST(RootfsUmoci, EntriesBelowASymlinkOfALowerLayer) {
  expectSameAsUmoci({
      layerEntries({"usr/", "usr/lib/", "usr/lib/a", "lib -> usr/lib", "bin -> usr/lib"}),
      layerEntries({"lib/b", "lib/x86_64-linux-gnu/c", "lib/a", "bin/", "bin/d"}),
  });
}

TEST(RootfsUmoci, SymlinksOfTheSameLayerAbsoluteDotDotChainsAndDangling) {
  expectSameAsUmoci({
      layerEntries({"lib -> usr/lib",
                    "usr/",
                    "lib/a",
                    "d/",
                    "d/sub/",
                    "d/s -> /d/sub",
                    "d/s/x",
                    "a/",
                    "a/up -> ../../../b",
                    "a/up/x",
                    "a/s -> ../a/./c//",
                    "a/s/y",
                    "c1 -> c2",
                    "c2 -> c3",
                    "c3 -> d",
                    "c1/z",
                    "u -> /no/where",
                    "u/z",
                    "r -> ..",
                    "r/top",
                    "m -> nowhere/../d",
                    "m/w"}),
  });
}

TEST(RootfsUmoci, WhiteoutsAndHardlinksThroughLowerSymlinks) {
  expectSameAsUmoci({
      layerEntries({"usr/lib/", "usr/lib/a", "usr/lib/b", "usr/lib/f", "usr/c/", "usr/c/d",
                    "lib -> usr/lib", "c -> usr/c"}),
      layerEntries({"lib/.wh.a", "c/.wh..wh..opq", "h => lib/f", "k => lib", "lib/g => lib/b"}),
  });
}

}  // namespace
}  // namespace regfs::layers
