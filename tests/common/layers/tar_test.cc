// The tar parser (common/layers/tar.h): hand-crafted members of every format and hostile ones
// (tests/support/tar_writer.h), and archives the real GNU tar writes, checked against what
// stat and `tar -t` say of the files they hold.

#include "common/layers/tar.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "support/error_kind.h"
#include "support/process.h"
#include "support/tar_writer.h"

namespace regfs::layers {
namespace {

namespace fs = std::filesystem;
using regfs::testing::kindOf;
using regfs::testing::readFile;
using regfs::testing::TarHeader;
using regfs::testing::TarWriter;
using regfs::testing::TempDir;
using regfs::testing::writeFile;

std::vector<Entry> parseSplit(std::string_view bytes, const std::vector<size_t>& cuts,
                              TarLimits limits = {}) {
  std::vector<Entry> entries;
  TarParser parser([&](Entry&& e) { entries.push_back(std::move(e)); }, limits);
  size_t at = 0;
  for (size_t cut : cuts) {
    parser.feed(bytes.substr(at, cut - at));
    at = cut;
  }
  parser.feed(bytes.substr(at));
  parser.finish();
  return entries;
}

std::vector<Entry> parse(std::string_view bytes, TarLimits limits = {}) {
  return parseSplit(bytes, {}, limits);
}

std::string messageOf(std::string_view bytes, TarLimits limits = {}) {
  try {
    parse(bytes, limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The bytes a sparse file reads as: its extents from the stream, zeros between them.
std::string sparseContent(std::string_view tar, const Entry& e) {
  std::string content(e.size, '\0');
  uint64_t at = e.dataOffset;
  for (const Extent& x : e.sparse) {
    content.replace(x.offset, x.length, tar.substr(at, x.length));
    at += x.length;
  }
  return content;
}

// ---- cleanPath

TEST(TarCleanPath, CleansAndRefusesToLeaveTheRoot) {
  EXPECT_EQ(cleanPath("a/b"), "a/b");
  EXPECT_EQ(cleanPath("./a//b/./c/"), "a/b/c");
  EXPECT_EQ(cleanPath("/abs/x"), "abs/x");
  EXPECT_EQ(cleanPath("a/b/../c"), "a/c");
  EXPECT_EQ(cleanPath("./"), "");
  EXPECT_EQ(cleanPath("/"), "");
  EXPECT_EQ(cleanPath(""), "");
  EXPECT_EQ(cleanPath("a/.."), "");
  EXPECT_EQ(cleanPath(".../..x"), ".../..x");
  EXPECT_EQ(cleanPath("..").has_value(), false);
  EXPECT_EQ(cleanPath("../x").has_value(), false);
  EXPECT_EQ(cleanPath("a/../../x").has_value(), false);
  EXPECT_EQ(cleanPath("/../x").has_value(), false);
}

// ---- formats, hand-crafted

TEST(TarParser, UstarMembersOfEveryType) {
  TarWriter tar;
  tar.dir("./");
  tar.header(TarHeader().name("etc").type('5').mode(040755).uid(7).gid(8).mtime(1700000000));
  uint64_t hostsAt = tar.offset() + 512;
  tar.header(TarHeader().name("etc/hosts").mode(0100640).uid(1000).gid(1001).size(5).mtime(9));
  tar.data("hello");
  tar.symlink("etc/link", "../../outside/is/verbatim");
  tar.hardlink("etc/hard", "./etc//hosts");
  tar.fifo("fifo");
  tar.device("null", '3', 1, 3);
  tar.device("sda", '4', 8, 0);
  uint64_t contAt = tar.offset() + 512;
  tar.header(TarHeader().name("contiguous").type('7').size(3).mode(06755)).data("abc");
  tar.end();

  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 9u);
  EXPECT_EQ(entries[0].path, "");
  EXPECT_EQ(entries[0].type, EntryType::kDirectory);
  EXPECT_EQ(entries[0].mode, 0755u);

  Entry etc;
  etc.path = "etc";
  etc.type = EntryType::kDirectory;
  etc.mode = 0755;
  etc.uid = 7;
  etc.gid = 8;
  etc.mtimeSec = 1700000000;
  EXPECT_EQ(entries[1], etc);

  Entry hosts;
  hosts.path = "etc/hosts";
  hosts.mode = 0640;
  hosts.uid = 1000;
  hosts.gid = 1001;
  hosts.mtimeSec = 9;
  hosts.size = 5;
  hosts.dataOffset = hostsAt;
  EXPECT_EQ(entries[2], hosts);
  EXPECT_EQ(tar.bytes().substr(hostsAt, 5), "hello");

  EXPECT_EQ(entries[3].type, EntryType::kSymlink);
  EXPECT_EQ(entries[3].linkTarget, "../../outside/is/verbatim");
  EXPECT_EQ(entries[3].mode, 0777u);
  EXPECT_EQ(entries[4].type, EntryType::kHardlink);
  EXPECT_EQ(entries[4].linkTarget, "etc/hosts");
  EXPECT_EQ(entries[4].size, 0u);
  EXPECT_EQ(entries[5].type, EntryType::kFifo);
  EXPECT_EQ(entries[6].type, EntryType::kCharDevice);
  EXPECT_EQ(entries[6].devMajor, 1u);
  EXPECT_EQ(entries[6].devMinor, 3u);
  EXPECT_EQ(entries[7].type, EntryType::kBlockDevice);
  EXPECT_EQ(entries[7].devMajor, 8u);
  EXPECT_EQ(entries[8].type, EntryType::kRegular);
  EXPECT_EQ(entries[8].mode, 06755u);
  EXPECT_EQ(entries[8].dataOffset, contAt);
}

TEST(TarParser, UstarPrefixIsJoinedButNotInGnuOrV7Headers) {
  TarWriter tar;
  tar.header(TarHeader().name("file").prefix("a/b"));
  tar.header(TarHeader().gnu().name("gnu").prefix("ignored"));
  tar.header(TarHeader().v7().name("v7").prefix("ignored"));
  tar.end();
  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].path, "a/b/file");
  EXPECT_EQ(entries[1].path, "gnu");
  EXPECT_EQ(entries[2].path, "v7");
}

TEST(TarParser, V7TrailingSlashIsADirectoryAndDevicesHaveNoNumbers) {
  TarWriter tar;
  tar.header(TarHeader().v7().name("dir/").type('\0').size(0));
  tar.header(TarHeader().v7().name("also/").type('0'));
  uint64_t at = tar.offset() + 512;
  tar.header(TarHeader().v7().name("dir/file").type('\0').size(2)).data("hi");
  tar.header(TarHeader().v7().name("dev").type('3').device(4, 5));
  tar.end();
  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].type, EntryType::kDirectory);
  EXPECT_EQ(entries[0].path, "dir");
  EXPECT_EQ(entries[1].type, EntryType::kDirectory);
  EXPECT_EQ(entries[2].type, EntryType::kRegular);
  EXPECT_EQ(entries[2].dataOffset, at);
  EXPECT_EQ(entries[2].size, 2u);
  EXPECT_EQ(entries[3].devMajor, 0u);
}

TEST(TarParser, GnuLongNamesAndBase256Numbers) {
  std::string longName = std::string(150, 'n') + "/" + std::string(200, 'm');
  std::string longLink = std::string(300, 'l');
  TarWriter tar;
  tar.gnuLong('L', longName).gnuLong('K', longLink);
  tar.header(TarHeader().gnu().name("short").type('2').linkName("short"));
  tar.gnuLong('L', "dir/hard").gnuLong('K', "./" + longName);
  tar.header(TarHeader().gnu().name("x").type('1'));
  TarHeader big = TarHeader().gnu().name("big").type('0');
  big.base256(TarHeader::kUid, 4000000000).base256(TarHeader::kGid, 5);
  big.base256(TarHeader::kMtime, -12345).base256(TarHeader::kSize, 3);
  uint64_t at = tar.offset() + 512;
  tar.header(big).data("xyz").end();

  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].path, longName);
  EXPECT_EQ(entries[0].linkTarget, longLink);
  EXPECT_EQ(entries[1].path, "dir/hard");
  EXPECT_EQ(entries[1].linkTarget, longName);
  EXPECT_EQ(entries[2].uid, 4000000000u);
  EXPECT_EQ(entries[2].gid, 5u);
  EXPECT_EQ(entries[2].mtimeSec, -12345);
  EXPECT_EQ(entries[2].size, 3u);
  EXPECT_EQ(entries[2].dataOffset, at);
}

TEST(TarParser, Base256SizeLargerThanAnyFileIsRefused) {
  TarHeader h = TarHeader().gnu().name("f");
  h.set(TarHeader::kSize, std::string("\x80\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12));
  EXPECT_EQ(kindOf([&] { parse(TarWriter().header(h).end().bytes()); }),
            ErrorKind::kInvalidArgument);
  TarHeader negative = TarHeader().gnu().name("f");
  negative.base256(TarHeader::kSize, -1);
  EXPECT_EQ(kindOf([&] { parse(TarWriter().header(negative).end().bytes()); }),
            ErrorKind::kInvalidArgument);
}

TEST(TarParser, HugeDeclaredSizeIsSkippedWithoutBufferingAndTruncationIsReported) {
  TarHeader h = TarHeader().gnu().name("huge");
  h.base256(TarHeader::kSize, int64_t{1} << 50);
  TarWriter tar;
  tar.header(h).data(std::string(4096, 'x'));
  std::vector<Entry> entries;
  TarParser parser([&](Entry&& e) { entries.push_back(std::move(e)); });
  parser.feed(tar.bytes());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].size, uint64_t{1} << 50);
  EXPECT_EQ(parser.offset(), tar.bytes().size());
  EXPECT_EQ(kindOf([&] { parser.finish(); }), ErrorKind::kInvalidArgument);
}

TEST(TarParser, PaxRecordsOverrideTheHeader) {
  std::string xattrValue("\0\x01\n=\xff", 5);
  TarWriter tar;
  tar.pax({{"path", "pax/" + std::string(300, 'p')},
           {"uid", "4294967295"},
           {"gid", "12"},
           {"mtime", "1577934245.123456789123"},
           {"size", "4"},
           {"uname", "ignored"},
           {"atime", "1.5"},
           {"SCHILY.xattr.user.bin", xattrValue},
           {"SCHILY.xattr.security.capability", "cap"},
           {"SCHILY.xattr.user.bin", "replaced"}});
  uint64_t at = tar.offset() + 512;
  tar.header(TarHeader().name("short").size(0)).data("data");
  tar.pax({{"linkpath", "pax/target"}, {"mtime", "-1.25"}});
  tar.header(TarHeader().name("link").type('2').linkName("header"));
  tar.pax({{"path", ""}, {"mtime", "7"}});  // an empty value: the header's own name
  tar.header(TarHeader().name("own"));
  tar.end();

  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].path, "pax/" + std::string(300, 'p'));
  EXPECT_EQ(entries[0].uid, 4294967295u);
  EXPECT_EQ(entries[0].gid, 12u);
  EXPECT_EQ(entries[0].mtimeSec, 1577934245);
  EXPECT_EQ(entries[0].mtimeNsec, 123456789u);
  EXPECT_EQ(entries[0].size, 4u);
  EXPECT_EQ(entries[0].dataOffset, at);
  using Xattrs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(entries[0].xattrs, (Xattrs{{"user.bin", "replaced"}, {"security.capability", "cap"}}));
  EXPECT_EQ(entries[1].linkTarget, "pax/target");
  EXPECT_EQ(entries[1].mtimeSec, -2);
  EXPECT_EQ(entries[1].mtimeNsec, 750000000u);
  EXPECT_EQ(entries[2].path, "own");
  EXPECT_EQ(entries[2].mtimeSec, 7);
  EXPECT_TRUE(entries[2].xattrs.empty());
}

TEST(TarParser, PaxBinaryXattrValueIsKeptAsBytes) {
  std::string value("\0\x01\n=\xff", 5);
  TarWriter tar;
  tar.pax({{"SCHILY.xattr.user.bin", value}});
  tar.header(TarHeader().name("f")).end();
  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 1u);
  ASSERT_EQ(entries[0].xattrs.size(), 1u);
  EXPECT_EQ(entries[0].xattrs[0].first, "user.bin");
  EXPECT_EQ(entries[0].xattrs[0].second, value);
}

TEST(TarParser, GlobalPaxRecordsApplyToEveryLaterMember) {
  TarWriter tar;
  tar.header(TarHeader().name("before").uid(1));
  tar.pax({{"uid", "500"}, {"comment", "git archive"}, {"SCHILY.xattr.user.g", "1"}}, 'g');
  tar.header(TarHeader().name("a").uid(1));
  tar.pax({{"uid", "600"}, {"SCHILY.xattr.user.g", "2"}});
  tar.header(TarHeader().name("b").uid(1));
  tar.pax({{"uid", ""}}, 'g');  // an empty global value removes it
  tar.header(TarHeader().name("c").uid(1));
  tar.end();
  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].uid, 1u);
  EXPECT_EQ(entries[1].uid, 500u);
  using Xattrs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(entries[1].xattrs, (Xattrs{{"user.g", "1"}}));
  EXPECT_EQ(entries[2].uid, 600u);
  EXPECT_EQ(entries[2].xattrs, (Xattrs{{"user.g", "2"}}));
  EXPECT_EQ(entries[3].uid, 1u);
  EXPECT_EQ(entries[3].xattrs, (Xattrs{{"user.g", "1"}}));
}

TEST(TarParser, BadPaxRecordsAreRefused) {
  auto withRecords = [](std::string text) {
    TarWriter tar;
    tar.header(TarHeader().name("p").type('x').size(text.size())).data(text);
    return tar.header(TarHeader().name("f")).end().bytes();
  };
  using namespace std::string_literals;
  for (const std::string& text : std::vector<std::string>{
           "99 path=x\n", "8 path=x\n", "10 path=x\nx", "10 path=x ", "x path=y\n", "6 =xy\n",
           "9 pathxy\n", "11 path=\0x\n"s, "12 mtime=1x\n", "10 uid=-1\n", "18 uid=4294967296\n",
           "29 size=99999999999999999999\n", "13 mtime=1.x\n"}) {
    EXPECT_EQ(kindOf([&] { parse(withRecords(text)); }), ErrorKind::kInvalidArgument) << text;
  }
}

// ---- sparse files, hand-crafted

TEST(TarParser, PaxSparse00And01) {
  TarWriter tar;
  tar.pax({{"GNU.sparse.size", "10000"},
           {"GNU.sparse.numblocks", "2"},
           {"GNU.sparse.offset", "0"},
           {"GNU.sparse.numbytes", "3"},
           {"GNU.sparse.offset", "9998"},
           {"GNU.sparse.numbytes", "2"}});
  uint64_t at0 = tar.offset() + 512;
  tar.header(TarHeader().name("s00").size(5)).data("abcde");
  tar.pax({{"GNU.sparse.size", "100"},
           {"GNU.sparse.numblocks", "2"},
           {"GNU.sparse.name", "real/name"},
           {"GNU.sparse.map", "10,1,20,2"}});
  uint64_t at1 = tar.offset() + 512;
  tar.header(TarHeader().name("GNUSparseFile.1/name").size(3)).data("xyz");
  tar.end();
  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].path, "s00");
  EXPECT_EQ(entries[0].size, 10000u);
  EXPECT_EQ(entries[0].dataOffset, at0);
  EXPECT_EQ(entries[0].sparse, (std::vector<Extent>{{0, 3}, {9998, 2}}));
  std::string content = sparseContent(tar.bytes(), entries[0]);
  EXPECT_EQ(content.substr(0, 3), "abc");
  EXPECT_EQ(content.substr(9998), "de");
  EXPECT_EQ(entries[1].path, "real/name");
  EXPECT_EQ(entries[1].size, 100u);
  EXPECT_EQ(entries[1].dataOffset, at1);
  EXPECT_EQ(entries[1].sparse, (std::vector<Extent>{{10, 1}, {20, 2}}));
}

TEST(TarParser, PaxSparse10MapIsAtTheStartOfTheData) {
  std::string map = "2\n0\n3\n4096\n2\n";
  std::string stored = map + std::string(512 - map.size(), '\0') + "abcde";
  TarWriter tar;
  tar.pax({{"GNU.sparse.major", "1"},
           {"GNU.sparse.minor", "0"},
           {"GNU.sparse.name", "dir/sparse"},
           {"GNU.sparse.realsize", "8192"}});
  uint64_t at = tar.offset() + 512 + 512;
  tar.header(TarHeader().name("dir/GNUSparseFile.7/sparse").size(stored.size())).data(stored);
  tar.file("after", "z").end();
  for (size_t step : {size_t{1}, size_t{7}, size_t{100000}}) {
    std::vector<size_t> cuts;
    for (size_t i = step; i < tar.bytes().size(); i += step) cuts.push_back(i);
    std::vector<Entry> entries = parseSplit(tar.bytes(), cuts);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].path, "dir/sparse");
    EXPECT_EQ(entries[0].size, 8192u);
    EXPECT_EQ(entries[0].dataOffset, at);
    EXPECT_EQ(entries[0].sparse, (std::vector<Extent>{{0, 3}, {4096, 2}}));
    EXPECT_EQ(entries[1].path, "after");
  }
}

TEST(TarParser, OldGnuSparseWithExtensionBlocks) {
  // 30 extents: 4 in the header, 21 in the first extension block, 5 in the second.
  std::vector<Extent> extents;
  for (uint64_t i = 0; i < 30; ++i) extents.push_back({i * 1000, 10});
  TarHeader h = TarHeader().gnu().name("sparse").type('S').size(300);
  h.octal(TarHeader::kGnuRealSize, 29010);
  auto pair = [](const Extent& e) {
    TarHeader p;  // only for its octal formatting
    p.octal({0, 12}, e.offset).octal({12, 12}, e.length);
    return p.block().substr(0, 24);
  };
  std::string map;
  for (size_t i = 0; i < 4; ++i) map += pair(extents[i]);
  h.set(TarHeader::kGnuSparse, map).set(TarHeader::kGnuIsExtended, "\1");
  std::string ext1(512, '\0'), ext2(512, '\0');
  for (size_t i = 0; i < 21; ++i) ext1.replace(i * 24, 24, pair(extents[4 + i]));
  ext1[504] = 1;
  for (size_t i = 0; i < 5; ++i) ext2.replace(i * 24, 24, pair(extents[25 + i]));
  TarWriter tar;
  tar.header(h).raw(ext1).raw(ext2);
  uint64_t at = tar.offset();
  std::string data;
  for (size_t i = 0; i < 30; ++i) data += std::string(10, static_cast<char>('A' + i));
  tar.data(data).end();
  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].type, EntryType::kRegular);
  EXPECT_EQ(entries[0].size, 29010u);
  EXPECT_EQ(entries[0].dataOffset, at);
  EXPECT_EQ(entries[0].sparse, extents);
  EXPECT_EQ(sparseContent(tar.bytes(), entries[0]).substr(29000), std::string(10, 'A' + 29));
}

TEST(TarParser, SparseMapsThatDoNotAddUpAreRefused) {
  auto v01 = [](std::string size, std::string count, std::string map, std::string data) {
    TarWriter tar;
    tar.pax({{"GNU.sparse.size", size}, {"GNU.sparse.numblocks", count}, {"GNU.sparse.map", map}});
    return tar.header(TarHeader().name("s").size(data.size())).data(data).end().bytes();
  };
  EXPECT_EQ(parse(v01("10", "1", "0,3", "abc")).size(), 1u);
  EXPECT_EQ(kindOf([&] { parse(v01("10", "1", "0,4", "abc")); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { parse(v01("10", "1", "8,3", "abc")); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { parse(v01("10", "2", "5,1,0,2", "abc")); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { parse(v01("10", "2", "0,3", "abc")); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { parse(v01("10", "1", "0,3,4", "abc")); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { parse(v01("10", "1", "0,x", "abc")); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { parse(v01("18446744073709551615", "1", "0,3", "abc")); }),
            ErrorKind::kInvalidArgument);
  // An all-hole file keeps an (empty) extent, so it never reads as stored whole.
  TarWriter t;
  t.pax({{"GNU.sparse.size", "5000"},
         {"GNU.sparse.numblocks", "1"},
         {"GNU.sparse.offset", "5000"},
         {"GNU.sparse.numbytes", "0"}});
  std::vector<Entry> hole = parse(t.header(TarHeader().name("hole")).end().bytes());
  ASSERT_EQ(hole.size(), 1u);
  EXPECT_EQ(hole[0].size, 5000u);
  EXPECT_EQ(hole[0].sparse, (std::vector<Extent>{{5000, 0}}));
  // A 1.0 map that runs past the member's data.
  TarWriter v1;
  v1.pax({{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.realsize", "9"}});
  v1.header(TarHeader().name("s").size(4)).data("1\n0\n").end();
  EXPECT_EQ(kindOf([&] { parse(v1.bytes()); }), ErrorKind::kInvalidArgument);
}

// ---- types, ends, truncation

TEST(TarParser, UnknownTypesAreRegularAndVolumeLabelsAreSkipped) {
  TarWriter tar;
  tar.header(TarHeader().gnu().name("label").type('V').size(0));
  tar.header(TarHeader().name("m").type('M').size(3)).data("abc");
  uint64_t at = tar.offset() + 512;
  tar.header(TarHeader().name("vendor").type('Z').size(4)).data("data");
  tar.header(TarHeader().gnu().name("dumpdir").type('D').size(6)).data("Nname\0");
  // Header-only types: a symlink's size field is no data (the next header follows at once).
  tar.header(TarHeader().name("sym").type('2').linkName("t").size(700));
  tar.header(TarHeader().name("last"));
  tar.end();
  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].path, "vendor");
  EXPECT_EQ(entries[0].type, EntryType::kRegular);
  EXPECT_EQ(entries[0].dataOffset, at);
  EXPECT_EQ(entries[1].path, "dumpdir");
  EXPECT_EQ(entries[1].type, EntryType::kDirectory);
  EXPECT_EQ(entries[1].size, 0u);
  EXPECT_EQ(entries[2].path, "sym");
  EXPECT_EQ(entries[2].size, 0u);
  EXPECT_EQ(entries[3].path, "last");
}

TEST(TarParser, EndOfArchive) {
  TarWriter tar;
  tar.file("a", "1");
  std::string noEnd = tar.bytes();
  std::string oneZero = noEnd + std::string(512, '\0');
  std::string twoZeros = oneZero + std::string(512, '\0') + "garbage after the end";
  for (const std::string& bytes : {noEnd, oneZero, twoZeros}) {
    std::vector<Entry> entries;
    TarParser parser([&](Entry&& e) { entries.push_back(std::move(e)); });
    parser.feed(bytes);
    EXPECT_NO_THROW(parser.finish());
    EXPECT_EQ(entries.size(), 1u);
    EXPECT_EQ(parser.ended(), bytes.size() != noEnd.size());
    EXPECT_EQ(parser.offset(), bytes.size());
    EXPECT_EQ(parser.entries(), 1u);
  }
  // Nothing after a zero block counts (GNU tar stops there too).
  std::string after = oneZero + TarWriter().file("b", "2").end().bytes();
  EXPECT_EQ(parse(after).size(), 1u);
  EXPECT_TRUE(parse("").empty());
}

TEST(TarParser, TruncatedStreamsAreRefused) {
  TarWriter tar;
  tar.file("a", std::string(1000, 'a'));
  tar.pax({{"path", "long"}});
  tar.header(TarHeader().name("b"));
  const std::string& bytes = tar.bytes();
  // In a header, in data, in data padding, in a PAX record, after a PAX header.
  for (size_t cut : {size_t{100}, size_t{700}, size_t{1400}, size_t{1536 + 10}, size_t{2048 + 3},
                     size_t{2048}}) {
    EXPECT_EQ(kindOf([&] { parse(bytes.substr(0, cut)); }), ErrorKind::kInvalidArgument) << cut;
  }
  EXPECT_EQ(parse(bytes.substr(0, 1536)).size(), 1u);
  EXPECT_EQ(parse(bytes).size(), 2u);
}

TEST(TarParser, ChecksumIsVerifiedSignedOrUnsigned) {
  TarWriter tar;
  tar.file("a", "1");
  tar.header(TarHeader().name("b").checksum("0000000"));
  std::string message = messageOf(tar.bytes());
  EXPECT_NE(message.find("checksum"), std::string::npos) << message;
  EXPECT_NE(message.find("offset 1024"), std::string::npos) << message;

  // Old Sun tars summed signed bytes: a name with bytes >= 0x80 sums differently.
  TarHeader h = TarHeader().name("\xe9t\xe9");
  std::string block = h.block();
  block.replace(148, 8, "        ");
  long signedSum = 0;
  for (char c : block) signedSum += static_cast<signed char>(c);
  char field[9];
  std::snprintf(field, sizeof field, "%06lo", signedSum);
  h.checksum(std::string(field, 6) + std::string("\0 ", 2));
  std::vector<Entry> entries = parse(TarWriter().header(h).end().bytes());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].path, "\xe9t\xe9");
  EXPECT_EQ(kindOf([&] { parse(TarWriter().header(TarHeader().checksum("zz")).bytes()); }),
            ErrorKind::kInvalidArgument);
}

TEST(TarParser, MalformedNumbersAreRefused) {
  for (auto [f, text] : {std::pair{TarHeader::kSize, "12x"},
                         {TarHeader::kMode, "9"},
                         {TarHeader::kUid, "1 2"},
                         {TarHeader::kMtime, "-1"}}) {
    TarWriter tar;
    tar.header(TarHeader().name("f").set(f, text)).end();
    EXPECT_EQ(kindOf([&] { parse(tar.bytes()); }), ErrorKind::kInvalidArgument) << text;
  }
  // Spaces and NULs around the digits are fine, as is a field full of digits.
  TarWriter tar;
  tar.header(
      TarHeader().name("f").set(TarHeader::kUid, "  17 \0").set(TarHeader::kSize, "000000000003"));
  tar.data("abc").end();
  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].uid, 15u);
  EXPECT_EQ(entries[0].size, 3u);
}

// ---- hostile names

TEST(TarParser, NamesThatLeaveTheRootAreDropped) {
  TarWriter tar;
  tar.file("../x", "1").file("a/../../x", "2").file("/abs", "3").dir("./a/./b//c/");
  tar.hardlink("h", "../../etc/passwd").hardlink("h2", "./").file(".", "root file");
  tar.pax({{"path", "../pax"}}).file("fine", "4");
  tar.gnuLong('L', "x/../../gnu").file("short", "5");
  tar.file("ok", "6").end();
  std::vector<Entry> entries;
  TarParser parser([&](Entry&& e) { entries.push_back(std::move(e)); });
  parser.feed(tar.bytes());
  parser.finish();
  std::vector<std::string> paths;
  for (const Entry& e : entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"abs", "a/b/c", "ok"}));
  EXPECT_EQ(entries[0].dataOffset, 2u * 1024 + 512);
  EXPECT_EQ(parser.dropped(), 7u);
  EXPECT_EQ(parser.entries(), 3u);
  EXPECT_EQ(parser.droppedNames(), (std::vector<std::string>{"../x", "a/../../x", "h", "h2", ".",
                                                             "../pax", "x/../../gnu"}));
}

TEST(TarParser, DroppedNamesKeepsTheFirstSixteen) {
  TarWriter tar;
  for (int i = 0; i < 40; ++i) tar.file("../" + std::to_string(i), "x");
  tar.end();
  TarParser parser([](Entry&&) {});
  parser.feed(tar.bytes());
  parser.finish();
  EXPECT_EQ(parser.dropped(), 40u);
  ASSERT_EQ(parser.droppedNames().size(), 16u);
  EXPECT_EQ(parser.droppedNames()[15], "../15");
}

TEST(TarParser, NamesAreBytes) {
  TarWriter tar;
  tar.file("new\nline", "").file(std::string("nul\0cut", 7), "").file("\xff\xfe/\x80", "");
  tar.pax({{"path", "pax\nnew\rline"}}).file("x", "");
  tar.file("dup", "1").file("dup", "2").end();
  std::vector<Entry> entries = parse(tar.bytes());
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries[0].path, "new\nline");
  EXPECT_EQ(entries[1].path, "nul");
  EXPECT_EQ(entries[2].path, "\xff\xfe/\x80");
  EXPECT_EQ(entries[3].path, "pax\nnew\rline");
  EXPECT_EQ(entries[4].path, "dup");  // both emitted: the last wins later, in the merge
  EXPECT_EQ(entries[5].path, "dup");
  EXPECT_NE(entries[4].dataOffset, entries[5].dataOffset);
  TarWriter nul;
  nul.pax({{"path", std::string("a\0b", 3)}}).file("x", "").end();
  EXPECT_EQ(kindOf([&] { parse(nul.bytes()); }), ErrorKind::kInvalidArgument);
}

// ---- limits

TEST(TarParser, EachLimitThrowsNamingIt) {
  auto expectLimit = [](const std::string& bytes, TarLimits limits, const std::string& name) {
    EXPECT_EQ(kindOf([&] { parse(bytes, limits); }), ErrorKind::kSizeInvalid) << name;
    EXPECT_NE(messageOf(bytes, limits).find(name), std::string::npos) << messageOf(bytes, limits);
  };
  TarLimits limits;
  limits.maxEntries = 2;
  expectLimit(TarWriter().file("a", "").file("../b", "").file("c", "").end().bytes(), limits,
              "maxEntries");
  EXPECT_EQ(parse(TarWriter().file("a", "").file("b", "").end().bytes(), limits).size(), 2u);

  limits = {};
  limits.maxPathBytes = 10;
  expectLimit(TarWriter().file("0123456789a", "").end().bytes(), limits, "maxPathBytes");
  expectLimit(TarWriter().symlink("s", "0123456789a").end().bytes(), limits, "maxPathBytes");
  expectLimit(TarWriter().hardlink("h", "0123456789a").end().bytes(), limits, "maxPathBytes");
  EXPECT_EQ(parse(TarWriter().file("./0123456789", "").end().bytes(), limits).size(), 1u);

  limits = {};
  limits.maxDepth = 3;
  expectLimit(TarWriter().file("a/b/c/d", "").end().bytes(), limits, "maxDepth");
  EXPECT_EQ(parse(TarWriter().file("a/b/c", "").end().bytes(), limits).size(), 1u);

  limits = {};
  limits.maxExtendedBytes = 100;
  expectLimit(TarWriter().pax({{"path", std::string(100, 'p')}}).file("x", "").end().bytes(),
              limits, "maxExtendedBytes");
  expectLimit(TarWriter().gnuLong('L', std::string(100, 'l')).file("x", "").end().bytes(), limits,
              "maxExtendedBytes");
  expectLimit(TarWriter().pax({{"path", std::string(100, 'p')}}, 'g').end().bytes(), limits,
              "maxExtendedBytes");

  limits = {};
  limits.maxXattrBytes = 10;
  expectLimit(TarWriter().pax({{"SCHILY.xattr.user.a", "123456789"}}).file("x", "").end().bytes(),
              limits, "maxXattrBytes");
  TarWriter both;  // global and own together
  both.pax({{"SCHILY.xattr.a", "12345"}}, 'g').pax({{"SCHILY.xattr.b", "12345"}}).file("x", "");
  expectLimit(both.end().bytes(), limits, "maxXattrBytes");
  TarWriter replaced;  // a value replaced counts once
  for (int i = 0; i < 20; ++i) replaced.pax({{"SCHILY.xattr.a", "12345"}}, 'g');
  replaced.pax({{"SCHILY.xattr.b", "1"}, {"SCHILY.xattr.b", "123"}}).file("x", "").end();
  EXPECT_EQ(parse(replaced.bytes(), limits).at(0).xattrs.size(), 2u);

  limits = {};
  limits.maxSparseExtents = 2;
  TarWriter v01;
  v01.pax(
      {{"GNU.sparse.size", "9"}, {"GNU.sparse.numblocks", "3"}, {"GNU.sparse.map", "0,1,2,1,4,1"}});
  expectLimit(v01.header(TarHeader().name("s").size(3)).data("abc").end().bytes(), limits,
              "maxSparseExtents");
  TarWriter v00;
  v00.pax({{"GNU.sparse.size", "9"},
           {"GNU.sparse.numblocks", "3"},
           {"GNU.sparse.offset", "0"},
           {"GNU.sparse.numbytes", "1"},
           {"GNU.sparse.offset", "2"},
           {"GNU.sparse.numbytes", "1"},
           {"GNU.sparse.offset", "4"},
           {"GNU.sparse.numbytes", "1"}});
  expectLimit(v00.header(TarHeader().name("s").size(3)).data("abc").end().bytes(), limits,
              "maxSparseExtents");
  TarWriter v10;
  v10.pax({{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.realsize", "9"}});
  std::string map = "3\n0\n1\n2\n1\n4\n1\n";
  v10.header(TarHeader().name("s").size(515))
      .data(map + std::string(512 - map.size(), '\0') + "abc");
  expectLimit(v10.end().bytes(), limits, "maxSparseExtents");
  TarHeader gnu = TarHeader().gnu().name("s").type('S').size(3);
  TarHeader pairs;
  pairs.octal({0, 12}, 0).octal({12, 12}, 1).octal({24, 12}, 2).octal({36, 12}, 1);
  pairs.octal({48, 12}, 4).octal({60, 12}, 1);
  gnu.set(TarHeader::kGnuSparse, pairs.block().substr(0, 72)).octal(TarHeader::kGnuRealSize, 9);
  expectLimit(TarWriter().header(gnu).data("abc").end().bytes(), limits, "maxSparseExtents");
}

// ---- splits and scale

std::string everyFeature() {
  TarWriter tar;
  tar.dir("./").file("etc/hosts", std::string(700, 'h'));
  tar.pax({{"path", std::string(400, 'p')}, {"mtime", "5.5"}, {"SCHILY.xattr.user.x", "v"}});
  tar.file("x", "pax data");
  tar.pax({{"uid", "9"}}, 'g');
  tar.gnuLong('L', std::string(300, 'g')).gnuLong('K', "etc/hosts");
  tar.header(TarHeader().gnu().name("l").type('1'));
  tar.file("../dropped", "zz");
  tar.pax({{"GNU.sparse.size", "100"}, {"GNU.sparse.numblocks", "1"}, {"GNU.sparse.map", "50,3"}});
  tar.header(TarHeader().name("s01").size(3)).data("abc");
  std::string map = "1\n90\n2\n";
  tar.pax({{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.realsize", "100"}});
  tar.header(TarHeader().name("s10").size(514))
      .data(map + std::string(512 - map.size(), '\0') + "yz");
  tar.symlink("sym", "/abs/target").fifo("fifo").end();
  return tar.bytes();
}

TEST(TarParser, EverySplitGivesTheSameEntries) {
  std::string bytes = everyFeature();
  std::vector<Entry> whole = parse(bytes);
  ASSERT_EQ(whole.size(), 8u);
  std::vector<size_t> everyByte;
  for (size_t i = 1; i < bytes.size(); ++i) everyByte.push_back(i);
  EXPECT_EQ(parseSplit(bytes, everyByte), whole);
  std::mt19937 random(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> cuts;
    for (int i = random() % 20; i > 0; --i) cuts.push_back(random() % (bytes.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    EXPECT_EQ(parseSplit(bytes, cuts), whole) << "round " << round;
  }
}

TEST(TarParser, EntriesAreEmittedBeforeTheirData) {
  TarWriter tar;
  tar.file("a", std::string(2000, 'a')).end();
  std::vector<Entry> entries;
  TarParser parser([&](Entry&& e) { entries.push_back(std::move(e)); });
  parser.feed(std::string_view(tar.bytes()).substr(0, 512));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].dataOffset, 512u);
  EXPECT_EQ(entries[0].size, 2000u);
}

TEST(TarParser, HundredThousandEntriesAndHugeRecords) {
  TarWriter tar;
  for (int i = 0; i < 100000; ++i) tar.header(TarHeader().name("d/" + std::to_string(i)));
  // A record of a megabyte in tiny records, and in one.
  std::vector<std::pair<std::string, std::string>> tiny(80000, {"comment", "c"});
  tar.pax(tiny).file("t", "");
  tar.pax({{"path", std::string(1000000, 'p')}}).file("x", "");
  tar.gnuLong('L', std::string(1000000, 'l')).file("y", "").end();
  TarLimits limits;
  limits.maxPathBytes = 2000000;
  limits.maxDepth = 10;
  uint64_t count = 0;
  TarParser parser([&](Entry&&) { ++count; }, limits);
  parser.feed(tar.bytes());
  parser.finish();
  EXPECT_EQ(count, 100003u);
}

// ---- archives of the real GNU tar

struct TarTree {
  TempDir dir;
  fs::path src = dir / "src";
};

// Entries of `tar` (made from `src` with -C src .) against the files: every name `tar -t`
// lists, and for each entry what lstat says and the bytes at dataOffset.
void checkAgainstFiles(const std::string& tarBytes, const fs::path& tarPath, const fs::path& src,
                       bool subSecond) {
  std::vector<Entry> entries = parse(tarBytes);
  regfs::testing::CommandResult listing = regfs::testing::run({"tar", "-tf", tarPath.string()});
  ASSERT_EQ(listing.status, 0) << listing.err;
  std::set<std::string> listed, parsed;
  std::istringstream lines(listing.out);
  for (std::string line; std::getline(lines, line);) listed.insert(*cleanPath(line));
  std::map<std::string, const Entry*> byPath;
  for (const Entry& e : entries) {
    parsed.insert(e.path);
    byPath[e.path] = &e;
  }
  EXPECT_EQ(parsed, listed);
  EXPECT_EQ(entries.size(), listed.size());

  for (const Entry& e : entries) {
    SCOPED_TRACE(e.path);
    fs::path file = e.path.empty() ? src : src / e.path;
    struct stat st {};
    ASSERT_EQ(::lstat(file.c_str(), &st), 0);
    EXPECT_EQ(e.mode, st.st_mode & 07777);
    EXPECT_EQ(e.uid, st.st_uid);
    EXPECT_EQ(e.gid, st.st_gid);
    EXPECT_EQ(e.mtimeSec, st.st_mtim.tv_sec);
    EXPECT_EQ(e.mtimeNsec, subSecond ? st.st_mtim.tv_nsec : 0);
    switch (e.type) {
      case EntryType::kDirectory:
        EXPECT_TRUE(S_ISDIR(st.st_mode));
        break;
      case EntryType::kSymlink:
        EXPECT_TRUE(S_ISLNK(st.st_mode));
        EXPECT_EQ(e.linkTarget, fs::read_symlink(file).string());
        break;
      case EntryType::kFifo:
        EXPECT_TRUE(S_ISFIFO(st.st_mode));
        break;
      case EntryType::kHardlink: {
        struct stat target {};
        ASSERT_EQ(::lstat((src / e.linkTarget).c_str(), &target), 0);
        EXPECT_EQ(target.st_ino, st.st_ino);
        ASSERT_TRUE(byPath.count(e.linkTarget));
        break;
      }
      case EntryType::kRegular:
        EXPECT_TRUE(S_ISREG(st.st_mode));
        EXPECT_EQ(e.size, static_cast<uint64_t>(st.st_size));
        if (e.sparse.empty()) {
          EXPECT_EQ(tarBytes.substr(e.dataOffset, e.size), readFile(file));
        } else {
          EXPECT_EQ(sparseContent(tarBytes, e), readFile(file));
        }
        break;
      default:
        ADD_FAILURE() << "unexpected type";
    }
  }
}

class TarGnuTar : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(regfs::testing::haveProgram("tar")) << "GNU tar is needed"; }
};

TEST_P(TarGnuTar, ArchivesMatchTheFiles) {
  const std::string format = GetParam();
  TarTree t;
  fs::create_directories(t.src / "dir/sub");
  writeFile(t.src / "dir/file", "hello\n");
  writeFile(t.src / "dir/sub/big", std::string(5000, 'b') + "end");
  writeFile(t.src / "empty", "");
  fs::permissions(t.src / "dir/file", static_cast<fs::perms>(0640));
  fs::permissions(t.src / "dir/sub", static_cast<fs::perms>(0750));
  fs::create_symlink("dir/file", t.src / "link");
  fs::create_hard_link(t.src / "dir/file", t.src / "hard");
  // ustar splits a name up to 255 bytes into prefix and name; gnu and pax take any length.
  std::string deep = std::string(70, 'a') + "/" + std::string(70, 'b');
  if (format == "v7") deep = "short/name";
  fs::create_directories(t.src / deep);
  writeFile(t.src / deep / (format == "v7" ? "f" : std::string(60, 'c')), "deep");
  if (format == "gnu" || format == "pax") {
    std::string veryLong = std::string(120, 'x') + "/" + std::string(150, 'y');
    fs::create_directories(t.src / veryLong);
    writeFile(t.src / veryLong / std::string(200, 'z'), "long");
    fs::create_symlink(std::string(300, 't'), t.src / "longlink");
  }
  if (format != "v7") {
    ASSERT_EQ(::mkfifo((t.src / "fifo").c_str(), 0600), 0);
  }
  regfs::testing::CommandResult touched =
      regfs::testing::run({"touch", "-h", "-d", "2020-01-02 03:04:05.123456789",
                           (t.src / "dir/file").string(), (t.src / "link").string()});
  ASSERT_EQ(touched.status, 0) << touched.err;

  fs::path tarPath = t.dir / "out.tar";
  regfs::testing::CommandResult made = regfs::testing::run(
      {"tar", "--format=" + format, "-cf", tarPath.string(), "-C", t.src.string(), "."});
  ASSERT_EQ(made.status, 0) << made.err;
  checkAgainstFiles(readFile(tarPath), tarPath, t.src, format == "pax");
}

INSTANTIATE_TEST_SUITE_P(Tar, TarGnuTar, ::testing::Values("v7", "ustar", "gnu", "pax"));

class TarGnuTarSparse : public TarGnuTar {};

TEST_P(TarGnuTarSparse, SparseFilesReadBackAsWritten) {
  TarTree t;
  fs::create_directories(t.src);
  {
    std::ofstream out(t.src / "sparse", std::ios::binary);
    for (int i = 0; i < 40; ++i) {  // more runs than an old GNU header holds: extension blocks
      out.seekp(i * 65536 + i);
      out << "run " << i;
    }
  }
  fs::resize_file(t.src / "sparse", 40 * 65536 + 12345);
  writeFile(t.src / "hole", "");
  fs::resize_file(t.src / "hole", 100000);
  std::vector<std::string> args = {"tar", "--sparse"};
  if (GetParam() == "gnu") {
    args.push_back("--format=gnu");
  } else {
    args.push_back("--format=pax");
    args.push_back("--sparse-version=" + GetParam());
  }
  fs::path tarPath = t.dir / "out.tar";
  for (std::string arg : {"-cf", tarPath.c_str(), "-C", t.src.c_str(), "."}) args.push_back(arg);
  regfs::testing::CommandResult made = regfs::testing::run(args);
  ASSERT_EQ(made.status, 0) << made.err;
  std::string bytes = readFile(tarPath);
  checkAgainstFiles(bytes, tarPath, t.src, GetParam() != "gnu");
  std::vector<Entry> entries = parse(bytes);
  size_t sparse = 0;
  for (const Entry& e : entries) {
    if (e.type != EntryType::kRegular) continue;
    EXPECT_FALSE(e.sparse.empty()) << e.path;
    sparse += e.sparse.size() > 4 ? 1 : 0;
  }
  EXPECT_EQ(sparse, 1u);  // the file of many runs kept them
  EXPECT_LT(bytes.size(), 200000u);
}

INSTANTIATE_TEST_SUITE_P(Tar, TarGnuTarSparse, ::testing::Values("gnu", "0.0", "0.1", "1.0"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

TEST_F(TarGnuTar, XattrsOfPaxArchives) {
  TarTree t;
  fs::create_directories(t.src);
  writeFile(t.src / "f", "x");
  std::string value("bin\0\x01\xff", 6);
  if (::setxattr((t.src / "f").c_str(), "user.regfs", value.data(), value.size(), 0) != 0) {
    FAIL() << "user xattrs are required on the temporary directory's file system: "
           << std::strerror(errno);
  }
  fs::path tarPath = t.dir / "out.tar";
  regfs::testing::CommandResult made =
      regfs::testing::run({"tar", "--xattrs", "--xattrs-include=user.*", "--format=pax", "-cf",
                           tarPath.string(), "-C", t.src.string(), "f"});
  ASSERT_EQ(made.status, 0) << made.err;
  std::vector<Entry> entries = parse(readFile(tarPath));
  ASSERT_EQ(entries.size(), 1u);
  using Xattrs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(entries[0].xattrs, (Xattrs{{"user.regfs", value}}));
}

}  // namespace
}  // namespace regfs::layers
