// An image's root file system as a tar stream: read back with the layers' own tar parser it
// is the merged tree, entry by entry and byte by byte, in tree order; an inode with several
// names is written once; names, link targets, owners and times that a ustar header cannot
// hold go through PAX; a tree that cannot be built writes nothing.
#include <gtest/gtest.h>
#include <zlib.h>

#include <functional>

#include "common/error.h"
#include "common/layers/export.h"
#include "common/layers/file_reader.h"
#include "common/layers/tar.h"
#include "support/compress.h"
#include "support/image.h"
#include "support/process.h"
#include "support/tar_writer.h"

namespace regfs::layers {
namespace {

using regfs::testing::TarHeader;
using regfs::testing::TarWriter;
using regfs::testing::TempDir;

struct Exported {
  std::string bytes;
  std::vector<Entry> entries;  // as the parser reads them back
  ExportStats stats;
  // The data of entries[i] (a regular file), from the stream.
  std::string data(size_t i) const { return bytes.substr(entries[i].dataOffset, entries[i].size); }
  const Entry* find(const std::string& path) const {
    for (const Entry& e : entries) {
      if (e.path == path) return &e;
    }
    return nullptr;
  }
};

class ExportTest : public ::testing::Test {
 protected:
  std::shared_ptr<const FileTree> tree(const std::vector<std::string>& layerTars) {
    TreeSource source;
    for (const std::string& tar : layerTars) source.layers.push_back(store.putBlob(tar));
    return trees.tree(source);
  }

  Exported exportOf(const FileTree& t) {
    Exported out;
    size_t pieces = 0;
    out.stats = exportTree(store, t, [&](std::string_view b) {
      out.bytes.append(b);
      ++pieces;
    });
    EXPECT_EQ(out.stats.bytes, out.bytes.size());
    EXPECT_EQ(out.bytes.size() % 512, 0u);
    TarParser parser([&](Entry&& e) { out.entries.push_back(std::move(e)); });
    parser.feed(out.bytes);
    parser.finish();
    EXPECT_TRUE(parser.ended()) << "the end-of-archive blocks";
    EXPECT_EQ(parser.dropped(), 0u);
    return out;
  }

  TempDir dir;
  Store store = Store::openLocal(dir.path());
  FileTrees trees{store};
};

// The tree's paths in tree order (parents first, names bytewise), as export promises them.
std::vector<std::string> treeOrder(const FileTree& t) {
  std::vector<std::string> out;
  std::function<void(uint32_t, const std::string&)> walk = [&](uint32_t n, const std::string& p) {
    for (const auto& [name, child] : t.tree.inode(n).children) {
      std::string path = p.empty() ? name : p + "/" + name;
      out.push_back(path);
      walk(child, path);
    }
  };
  walk(FsTree::kRoot, "");
  return out;
}

TEST_F(ExportTest, TheMergedTreeEntryByEntryAndByteByByte) {
  TarWriter base;
  base.dir("etc/", 0700)
      .file("etc/passwd", "root:x:0:0\n")
      .file("etc/gone", "whited out\n")
      .file("etc/replaced", "old\n")
      .file("bin/su", "setuid binary", 04755)  // bin/ implied
      .symlink("bin/sh", "../usr/bin/../bin/su")
      .fifo("run/fifo")
      .device("dev/null", '3', 1, 3)
      .device("dev/sda", '4', 8, 0)
      .dir("tmp/", 01777)
      .header(TarHeader().name("home/u/notes").uid(1000).gid(100).mtime(1700000000).size(5))
      .data("notes");
  TarWriter upper;
  upper.file("etc/.wh.gone", "").file("etc/replaced", "new bytes\n", 0600).file("etc/new", "n\n");
  auto t = tree({base.end().bytes(), upper.end().bytes()});
  ASSERT_TRUE(t->error.empty()) << t->error;
  Exported x = exportOf(*t);

  std::vector<std::string> paths;
  for (const Entry& e : x.entries) paths.push_back(e.path);
  EXPECT_EQ(paths, treeOrder(*t));
  EXPECT_EQ(paths,
            (std::vector<std::string>{"bin", "bin/sh", "bin/su", "dev", "dev/null", "dev/sda",
                                      "etc", "etc/new", "etc/passwd", "etc/replaced", "home",
                                      "home/u", "home/u/notes", "run", "run/fifo", "tmp"}));
  // Every entry says what the tree's entry says (implied directories: 0755 0:0 at 0).
  for (size_t i = 0; i < x.entries.size(); ++i) {
    const Entry& got = x.entries[i];
    const Entry* want = t->entry(t->tree.resolve(got.path));
    SCOPED_TRACE(got.path);
    if (!want) {
      EXPECT_EQ(got.type, EntryType::kDirectory);
      EXPECT_EQ(got.mode, 0755u);
      EXPECT_EQ(got.uid + got.gid, 0u);
      EXPECT_EQ(got.mtimeSec, 0);
      continue;
    }
    Entry expected = *want;
    expected.dataOffset = got.dataOffset;
    EXPECT_EQ(got, expected);
    if (got.type == EntryType::kRegular) {
      std::string bytes(got.size, '\0');
      FileReader(*openBlobSource(store, t->layerOf(t->tree.resolve(got.path))),
                 t->indexOf(t->tree.resolve(got.path)).stream, *want)
          .read(0, bytes.data(), bytes.size());
      EXPECT_EQ(x.data(i), bytes);
    }
  }
  EXPECT_EQ(x.data(9), "new bytes\n");  // etc/replaced, from the upper layer
  EXPECT_EQ(x.find("etc/replaced")->mode, 0600u);
  EXPECT_EQ(x.find("bin/su")->mode, 04755u);
  EXPECT_EQ(x.find("tmp")->mode, 01777u);
  EXPECT_EQ(x.find("etc")->mode, 0700u);
  EXPECT_EQ(x.find("bin/sh")->linkTarget, "../usr/bin/../bin/su") << "verbatim";
  EXPECT_EQ(x.find("dev/sda")->type, EntryType::kBlockDevice);
  EXPECT_EQ(x.find("dev/null")->devMinor, 3u);
  EXPECT_EQ(x.find("home/u/notes")->uid, 1000u);
  EXPECT_EQ(x.find("home/u/notes")->mtimeSec, 1700000000);
  EXPECT_EQ(x.stats.entries, paths.size());
  EXPECT_EQ(x.bytes.find(".wh."), std::string::npos) << "no whiteouts";
  EXPECT_EQ(x.bytes.find("PaxHeaders"), std::string::npos) << "ustar says all of this";
  EXPECT_EQ(x.bytes.substr(0, 5), std::string("bin/\0", 5)) << "no root entry, no ./ prefix";

  // The same tree gives the same bytes.
  EXPECT_EQ(exportOf(*tree({base.bytes(), upper.bytes()})).bytes, x.bytes);
}

TEST_F(ExportTest, AnInodeWithSeveralNamesIsWrittenOnce) {
  std::string data(5000, 'd');
  TarWriter tar;
  // In tree order "a/link" comes before "z/file": it becomes the file, the rest link to it.
  tar.file("z/file", data, 04711).hardlink("a/link", "z/file").hardlink("m/other", "z/file");
  tar.file("lone", "one name");
  auto t = tree({tar.end().bytes()});
  Exported x = exportOf(*t);
  const Entry* first = x.find("a/link");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, EntryType::kRegular);
  EXPECT_EQ(first->size, data.size());
  EXPECT_EQ(first->mode, 04711u);
  for (const char* later : {"m/other", "z/file"}) {
    const Entry* e = x.find(later);
    ASSERT_TRUE(e) << later;
    EXPECT_EQ(e->type, EntryType::kHardlink) << later;
    EXPECT_EQ(e->linkTarget, "a/link") << later;
  }
  EXPECT_EQ(x.find("lone")->type, EntryType::kRegular);
  EXPECT_EQ(x.stats.hardlinks, 2u);
  EXPECT_EQ(x.bytes.find(data), x.bytes.rfind(data)) << "the data is there once";
  EXPECT_NE(x.bytes.find(data), std::string::npos);

  // Merged with a layer that replaces one name: the old inode keeps its other names.
  auto t2 = tree({tar.bytes(), TarWriter().file("a/link", "new").end().bytes()});
  Exported y = exportOf(*t2);
  EXPECT_EQ(y.find("a/link")->type, EntryType::kRegular);
  EXPECT_EQ(y.find("a/link")->size, 3u);
  EXPECT_EQ(y.find("m/other")->type, EntryType::kRegular) << "now the first of its inode";
  EXPECT_EQ(y.find("z/file")->linkTarget, "m/other");
}

TEST_F(ExportTest, LongNamesAndLinkTargetsGoThroughPax) {
  std::string deep = std::string(120, 'd') + "/" + std::string(150, 'e');
  std::string target = "/" + std::string(200, 't');
  TarWriter tar;
  tar.pax({{"path", deep + "/file"}}).file("x", "long name");
  tar.pax({{"path", "s"}, {"linkpath", target}}).symlink("s", "short");
  tar.pax({{"path", deep + "/link"}, {"linkpath", deep + "/file"}}).hardlink("y", "x");
  tar.file(std::string(100, 'n'), "exactly one hundred");
  auto t = tree({tar.end().bytes()});
  ASSERT_TRUE(t->error.empty()) << t->error;
  Exported x = exportOf(*t);
  const Entry* file = x.find(deep + "/file");
  ASSERT_TRUE(file);
  EXPECT_EQ(x.data(static_cast<size_t>(file - x.entries.data())), "long name");
  ASSERT_TRUE(x.find(deep + "/link"));
  EXPECT_EQ(x.find(deep + "/link")->linkTarget, deep + "/file");
  EXPECT_EQ(x.find("s")->linkTarget, target);
  ASSERT_TRUE(x.find(std::string(100, 'n')));
  EXPECT_TRUE(x.find(std::string(120, 'd')));
  EXPECT_NE(x.bytes.find("PaxHeaders"), std::string::npos);
}

TEST_F(ExportTest, XattrsSubSecondTimesAndLargeNumbers) {
  std::string binary("\0\x01\xff=\n", 5);
  TarWriter tar;
  tar.pax({{"mtime", "1612325106.123456789"},
           {"SCHILY.xattr.user.comment", "from layer one"},
           {"SCHILY.xattr.security.capability", binary},
           {"uid", "4000000000"},
           {"gid", "3000000"}})
      .file("f", "x");
  tar.pax({{"mtime", "-1.25"}}).dir("old/");
  tar.pax({{"mtime", "99999999999"}}).file("future", "");  // past 11 octal digits
  tar.device("dev/big", '3', 5000000, 1);                  // base-256 in the header
  auto t = tree({tar.end().bytes()});
  ASSERT_TRUE(t->error.empty()) << t->error;
  Exported x = exportOf(*t);
  const Entry* f = x.find("f");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->mtimeSec, 1612325106);
  EXPECT_EQ(f->mtimeNsec, 123456789u);
  EXPECT_EQ(f->uid, 4000000000u);
  EXPECT_EQ(f->gid, 3000000u);
  EXPECT_EQ(f->xattrs, (std::vector<std::pair<std::string, std::string>>{
                           {"user.comment", "from layer one"}, {"security.capability", binary}}));
  EXPECT_EQ(x.find("old")->mtimeSec, -2);
  EXPECT_EQ(x.find("old")->mtimeNsec, 750000000u);
  EXPECT_EQ(x.find("future")->mtimeSec, 99999999999);
  EXPECT_EQ(x.find("dev/big")->devMajor, 5000000u);
  EXPECT_EQ(x.find("dev/big")->devMinor, 1u);
}

TEST_F(ExportTest, FilesOfCompressedLayersInAnyOrder) {
  // Tree order is not tar order here: the one stream reader per layer goes back and forth.
  std::vector<std::string> data;
  TarWriter low, high;
  for (int i = 0; i < 6; ++i) {
    data.push_back(regfs::testing::randomBytes(700 * 1024 + i, i));
    low.file("f" + std::to_string(5 - i), data.back());
  }
  high.file("b", "upper").file("f3", "replaced");
  auto t = tree({regfs::testing::gzipBytes(low.end().bytes()),
                 regfs::testing::gzipBytes(high.end().bytes())});
  ASSERT_TRUE(t->error.empty()) << t->error;
  ASSERT_GE(t->indexes[0]->stream.checkpoints.size(), 2u);
  Exported x = exportOf(*t);
  std::vector<std::string> paths;
  for (const Entry& e : x.entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"b", "f0", "f1", "f2", "f3", "f4", "f5"}));
  EXPECT_EQ(x.data(0), "upper");
  for (int i : {0, 1, 2, 4, 5}) EXPECT_EQ(x.data(1 + i), data[5 - i]) << "f" << i;
  EXPECT_EQ(x.data(4), "replaced");
}

TEST_F(ExportTest, ATreeThatCannotBeBuiltWritesNothing) {
  auto t = tree({TarWriter().file("a", "a").end().bytes(), "not a tar, not at all"});
  ASSERT_FALSE(t->error.empty());
  bool called = false;
  try {
    exportTree(store, *t, [&](std::string_view) { called = true; });
    FAIL() << "exported an unreadable layer";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find(t->source.layers[1].str()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(called);
}

TEST(ExportPlatformTest, ParsesOsArchVariant) {
  Platform p = parsePlatform("linux/arm/v7");
  EXPECT_EQ(p.os, "linux");
  EXPECT_EQ(p.architecture, "arm");
  EXPECT_EQ(p.variant, "v7");
  EXPECT_EQ(platformString(parsePlatform("linux/amd64")), "linux/amd64");
  for (const char* bad : {"", "linux", "linux/", "/amd64", "linux/arm/v7/x", "linux//v7"}) {
    try {
      parsePlatform(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace regfs::layers
