#include "common/layers/rootfs.h"
#include "common/error.h"
#include "support/layer_entries.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace regfs::layers {
namespace {

using testing::layerEntries;

char kindOf(EntryType type) {
  switch (type) {
    case EntryType::kRegular:
      return 'f';
    case EntryType::kDirectory:
      return 'd';
    case EntryType::kSymlink:
      return 'l';
    case EntryType::kHardlink:
      return 'h';
    case EntryType::kCharDevice:
      return 'c';
    case EntryType::kBlockDevice:
      return 'b';
    case EntryType::kFifo:
      return 'p';
  }
  return '?';
}

// One line per name, depth first in the tree's (sorted) order:
//   "<path> <kind> L<layer> E<entry or -> n<nlink>", and " =<first path>" for a name of an
//   inode already listed under another. An implied directory has kind 'd' and "E-".
std::string dump(const FsTree& tree, const std::vector<const std::vector<Entry>*>& layers) {
  std::string out;
  std::map<uint32_t, std::string> seen;
  auto line = [&](const std::string& path, uint32_t number) {
    const Inode& inode = tree.inode(number);
    char kind = 'd';
    if (inode.entry != Inode::kNone) kind = kindOf((*layers.at(inode.layer))[inode.entry].type);
    out += (path.empty() ? "/" : path) + " " + kind + " L" + std::to_string(inode.layer) + " E" +
           (inode.entry == Inode::kNone ? "-" : std::to_string(inode.entry)) + " n" +
           std::to_string(inode.nlink);
    if (auto it = seen.find(number); it != seen.end()) out += " =" + it->second;
    seen.emplace(number, path);
    out += "\n";
  };
  struct Item {
    std::string path;
    uint32_t number;
  };
  std::vector<Item> stack{{"", FsTree::kRoot}};
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    line(item.path, item.number);
    const auto& children = tree.inode(item.number).children;
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      stack.push_back({item.path.empty() ? it->first : item.path + "/" + it->first, it->second});
    }
  }
  return out;
}

struct Merged {
  std::vector<std::vector<Entry>> tables;
  std::vector<const std::vector<Entry>*> pointers;
  FsTree tree;
  std::string text;
};

Merged merged(std::vector<std::vector<Entry>> tables) {
  Merged m{std::move(tables), {}, {}, {}};
  for (const auto& t : m.tables) m.pointers.push_back(&t);
  m.tree = FsTree::merge(m.pointers);
  m.text = dump(m.tree, m.pointers);
  return m;
}

Merged singled(std::vector<Entry> table) {
  Merged m{{std::move(table)}, {}, {}, {}};
  m.pointers.push_back(&m.tables[0]);
  m.tree = FsTree::single(m.tables[0]);
  m.text = dump(m.tree, m.pointers);
  return m;
}

std::string lines(std::initializer_list<std::string_view> list) {
  std::string out;
  for (std::string_view l : list) (out += l) += "\n";
  return out;
}

TEST(RootfsLayer, LastEntryOfAPathWins) {
  auto m = merged({layerEntries({"f", "d/", "f"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E1 n2", "f f L0 E2 n1"}));
}

TEST(RootfsLayer, LaterEntryReplacesADirectoryTheSameLayerPopulated) {
  auto m = merged({layerEntries({"d/", "d/x", "d/sub/", "d", "d/y"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "d f L0 E3 n1"}));
  EXPECT_EQ(m.tree.droppedEntries(), 1u);  // d/y: d is a file by then
}

TEST(RootfsLayer, DirectoryOverDirectoryTakesAttributesAndKeepsChildren) {
  auto m = merged({layerEntries({"d/", "d/a", "d/s/"}), layerEntries({"d/", "d/b"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L1 E0 n3", "d/a f L0 E1 n1", "d/b f L1 E1 n1",
                           "d/s d L0 E2 n2"}));
  uint32_t d = m.tree.resolve("d");
  EXPECT_EQ(m.tree.inode(d).layer, 1u);
  EXPECT_EQ(m.tree.inode(d).entry, 0u);
}

TEST(RootfsLayer, DirectoryAgainInOneLayerKeepsItsChildren) {
  auto m = merged({layerEntries({"d/", "d/a", "d/"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E2 n2", "d/a f L0 E1 n1"}));
}

TEST(RootfsLayer, AnythingButADirectoryOverADirectoryReplacesIt) {
  auto m = merged({layerEntries({"a/", "a/x", "b/", "b/x", "c/", "c/x", "e"}),
                   layerEntries({"a", "b -> elsewhere", "p:c", "e/", "e/y"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "a f L1 E0 n1", "b l L1 E1 n1", "c p L1 E2 n1",
                           "e d L1 E3 n2", "e/y f L1 E4 n1"}));
}

TEST(RootfsWhiteout, HidesTheLowerLayersNameAndIsNotShown) {
  auto m =
      merged({layerEntries({"a", "b", "d/", "d/x", "d/y"}), layerEntries({".wh.a", "d/.wh.x"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "b f L0 E1 n1", "d d L0 E2 n2", "d/y f L0 E4 n1"}));
  EXPECT_EQ(m.tree.resolve(".wh.a"), Inode::kNone);
  EXPECT_EQ(m.tree.droppedEntries(), 0u);
}

TEST(RootfsWhiteout, NeverHidesItsOwnLayersEntryWhereverItStands) {
  for (auto upper : {layerEntries({"a", ".wh.a"}), layerEntries({".wh.a", "a"})}) {
    auto m = merged({layerEntries({"a"}), upper});
    const int added = upper[0].path == "a" ? 0 : 1;
    EXPECT_EQ(m.text, lines({"/ d L0 E- n2", ("a f L1 E" + std::to_string(added) + " n1").c_str()}))
        << upper[0].path;
  }
}

TEST(RootfsWhiteout, MakesNoParentDirectory) {
  auto m = merged({layerEntries({"a"}), layerEntries({"d/.wh.x", "e/f/.wh..wh..opq"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "a f L0 E0 n1"}));
}

TEST(RootfsWhiteout, ADirectoryOnlyImpliedAgainIsImplied) {
  for (auto upper : {layerEntries({".wh.d", "d/new"}), layerEntries({"d/new", ".wh.d"})}) {
    auto m = merged({layerEntries({"d/", "d/old"}), upper});
    int added = upper[0].path == "d/new" ? 0 : 1;
    EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L1 E- n2",
                             ("d/new f L1 E" + std::to_string(added) + " n1").c_str()}));
  }
}

TEST(RootfsWhiteout, OfADirectoryRemovesItsSubtree) {
  auto m = merged({layerEntries({"d/", "d/x/", "d/x/y", "k"}), layerEntries({".wh.d"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "k f L0 E3 n1"}));
  EXPECT_EQ(m.tree.resolve("d/x/y"), Inode::kNone);
}

TEST(RootfsWhiteout, ADirectoryWhitedOutAndAddedAgainHasOnlyThisLayersChildren) {
  for (auto upper :
       {layerEntries({".wh.d", "d/", "d/new"}), layerEntries({"d/", "d/new", ".wh.d"})}) {
    auto m = merged({layerEntries({"d/", "d/old", "d/sub/", "d/sub/x"}), upper});
    uint32_t d = m.tree.resolve("d");
    ASSERT_NE(d, Inode::kNone);
    EXPECT_EQ(m.tree.inode(d).layer, 1u);
    ASSERT_EQ(m.tree.inode(d).children.size(), 1u) << m.text;
    EXPECT_EQ(m.tree.inode(d).children[0].first, "new");
    EXPECT_EQ(m.tree.inode(d).nlink, 2u);
  }
}

TEST(RootfsWhiteout, OfSomethingAbsentDoesNothing) {
  auto m = merged({layerEntries({"a", "f"}),
                   layerEntries({".wh.b", "nodir/.wh.x", "f/.wh.x", "a/.wh..wh..opq"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "a f L0 E0 n1", "f f L0 E1 n1"}));
  EXPECT_EQ(m.tree.droppedEntries(), 0u);
}

TEST(RootfsWhiteout, NamesThatNameNothingDoNothing) {
  // ".wh." would name the directory itself, ".wh.." and ".wh..." its "." and "..": no tree
  // name can be any of those, nor start with ".wh." (".wh..wh.plnk" of AUFS).
  auto m = merged({layerEntries({"d/", "d/x", "y"}),
                   layerEntries({".wh.", ".wh..", ".wh...", ".wh..wh.plnk", "d/.wh.", "d/.wh.."})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E0 n2", "d/x f L0 E1 n1", "y f L0 E2 n1"}));
}

TEST(RootfsWhiteout, AnyTypeWithTheNameIsAWhiteout) {
  auto m =
      merged({layerEntries({"a", "b", "c"}), layerEntries({".wh.a/", ".wh.b -> x", "p:.wh.c"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2"}));
}

TEST(RootfsWhiteout, EntriesBelowAWhiteoutNameAreDropped) {
  auto m = merged({layerEntries({"a/"}), layerEntries({".wh.a/", ".wh.a/x", "d/.wh.b/y"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2"}));
  EXPECT_EQ(m.tree.droppedEntries(), 2u);
}

TEST(RootfsWhiteout, OneNameOfAHardlinkedInodeLeavesTheOther) {
  auto m = merged({layerEntries({"f", "h => f"}), layerEntries({".wh.f"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "h f L0 E0 n1"}));
}

TEST(RootfsOpaque, HidesLowerChildrenWhereverItStands) {
  const std::vector<std::pair<std::vector<Entry>, std::string>> cases = {
      {layerEntries({"d/", "d/.wh..wh..opq", "d/b"}), "d d L1 E0 n2\nd/b f L1 E2 n1\n"},
      {layerEntries({"d/", "d/b", "d/.wh..wh..opq"}), "d d L1 E0 n2\nd/b f L1 E1 n1\n"},
      {layerEntries({"d/b", "d/.wh..wh..opq", "d/"}), "d d L1 E2 n2\nd/b f L1 E0 n1\n"},
  };
  for (const auto& [upper, expected] : cases) {
    auto m = merged({layerEntries({"d/", "d/a", "d/s/", "d/s/x", "e"}), upper});
    EXPECT_EQ(m.text, "/ d L0 E- n3\n" + expected + "e f L0 E4 n1\n");
  }
}

TEST(RootfsOpaque, WithoutTheDirectoryEntryKeepsTheLowerAttributes) {
  auto m = merged({layerEntries({"d/", "d/a"}), layerEntries({"d/.wh..wh..opq"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E0 n2"}));
}

TEST(RootfsOpaque, AtTheRootHidesEverythingBelow) {
  auto m = merged({layerEntries({"/", "a/", "a/x", "b"}), layerEntries({".wh..wh..opq", "c"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E0 n2", "c f L1 E1 n1"}));
}

TEST(RootfsOpaque, OnANonDirectoryDoesNothing) {
  auto m =
      merged({layerEntries({"f", "s -> d"}), layerEntries({"f/.wh..wh..opq", "s/.wh..wh..opq"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "f f L0 E0 n1", "s l L0 E1 n1"}));
}

TEST(RootfsHardlink, SameLayerIsOneInode) {
  auto m = merged({layerEntries({"f", "d/", "d/h => f"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E1 n2", "d/h f L0 E0 n2", "f f L0 E0 n2 =d/h"}));
  EXPECT_EQ(m.tree.resolve("f"), m.tree.resolve("d/h"));
}

TEST(RootfsHardlink, ToALowerLayersFile) {
  auto m = merged({layerEntries({"f"}), layerEntries({"h => f"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "f f L0 E0 n2", "h f L0 E0 n2 =f"}));
}

TEST(RootfsHardlink, KeepsTheOldInodeWhenItsTargetIsReplaced) {
  auto m = merged({layerEntries({"f", "h => f", "f"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "f f L0 E2 n1", "h f L0 E0 n1"}));
  auto across = merged({layerEntries({"f", "h => f"}), layerEntries({"f -> x"})});
  EXPECT_EQ(across.text, lines({"/ d L0 E- n2", "f l L1 E0 n1", "h f L0 E0 n1"}));
}

TEST(RootfsHardlink, ToAHardlinkIsTheSameInode) {
  auto m = merged({layerEntries({"f", "h => f"}), layerEntries({"g => h"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "f f L0 E0 n3", "g f L0 E0 n3 =f", "h f L0 E0 n3 =f"}));
}

TEST(RootfsHardlink, ToAnyNonDirectory) {
  auto m = merged({layerEntries({"s -> x", "c:dev", "l => s", "m => dev"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "dev c L0 E1 n2", "l l L0 E0 n2", "m c L0 E1 n2 =dev",
                           "s l L0 E0 n2 =l"}));
  EXPECT_EQ(m.tree.droppedHardlinks(), 0u);
}

TEST(RootfsHardlink, MissingDirectoryOrDroppedTargetsAreDroppedAndCounted) {
  auto m = merged({layerEntries({"d/", "a => nothing", "b => d", "c => a", "r => ", "e => d/"}),
                   layerEntries({"f"}), layerEntries({".wh.f", "g => f"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E0 n2"}));
  EXPECT_EQ(m.tree.droppedHardlinks(), 6u);
}

TEST(RootfsHardlink, ReplacingTheDirectoryItsTargetIsInKeepsTheTarget) {
  auto m = merged({layerEntries({"d/", "d/f", "d => d/f"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "d f L0 E1 n1"}));
}

TEST(RootfsHardlink, ToItselfKeepsTheInode) {
  auto m = merged({layerEntries({"f"}), layerEntries({"f => f"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "f f L0 E0 n1"}));
}

TEST(RootfsImplied, ParentsNoLayerListsAreMadeByTheLayerThatNeededThem) {
  auto m = merged({layerEntries({"x"}), layerEntries({"a/b/c"}), layerEntries({"a/b/d", "a/e/f"})});
  EXPECT_EQ(m.text,
            lines({"/ d L0 E- n3", "a d L1 E- n4", "a/b d L1 E- n2", "a/b/c f L1 E0 n1",
                   "a/b/d f L2 E0 n1", "a/e d L2 E- n2", "a/e/f f L2 E1 n1", "x f L0 E0 n1"}));
}

TEST(RootfsImplied, ListedLaterTheDirectoryTakesTheEntry) {
  auto m = merged({layerEntries({"a/b", "a/"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "a d L0 E1 n2", "a/b f L0 E0 n1"}));
}

TEST(RootfsParent, NotADirectoryDropsTheEntry) {
  // s/x is not dropped: it lands at d/x, which the layer's d/x then replaces.
  auto m = merged({layerEntries({"f", "s -> d", "d/", "h => f"}),
                   layerEntries({"f/x", "s/x", "h/x/y", "d/x"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E2 n2", "d/x f L1 E3 n1", "f f L0 E0 n2",
                           "h f L0 E0 n2 =f", "s l L0 E1 n1"}));
  EXPECT_EQ(m.tree.droppedEntries(), 2u);
}

TEST(RootfsParent, PathsThatAreNotCleanAreDropped) {
  auto m = merged({layerEntries({"a//b", "./c", "d/..", "/e", "f/./g", "ok"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "ok f L0 E5 n1"}));
  EXPECT_EQ(m.tree.droppedEntries(), 5u);
}

TEST(RootfsSymlinkParent, InALowerLayerIsFollowed) {
  // A usrmerge base and a layer that still says lib/.
  auto m = merged({layerEntries({"usr/", "usr/lib/", "usr/lib/a", "lib -> usr/lib"}),
                   layerEntries({"lib/b", "lib/x86_64-linux-gnu/c", "lib/a"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "lib l L0 E3 n1", "usr d L0 E0 n3", "usr/lib d L0 E1 n3",
                           "usr/lib/a f L1 E2 n1", "usr/lib/b f L1 E0 n1",
                           "usr/lib/x86_64-linux-gnu d L1 E- n2",
                           "usr/lib/x86_64-linux-gnu/c f L1 E1 n1"}));
  EXPECT_EQ(m.tree.droppedEntries(), 0u);
}

TEST(RootfsSymlinkParent, MadeEarlierInTheSameLayerIsFollowed) {
  auto m = merged({layerEntries({"lib -> usr/lib", "usr/", "lib/a", "usr/lib/b"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "lib l L0 E0 n1", "usr d L0 E1 n3", "usr/lib d L0 E- n2",
                           "usr/lib/a f L0 E2 n1", "usr/lib/b f L0 E3 n1"}));
}

TEST(RootfsSymlinkParent, MadeAfterTheEntryReplacesWhatTheEntryMade) {
  auto m = merged({layerEntries({"lib/a", "lib -> usr/lib"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "lib l L0 E1 n1"}));
}

TEST(RootfsSymlinkParent, AbsoluteTargetsStartAtTheRoot) {
  auto m = merged({layerEntries({"d/", "d/sub/", "d/s -> /d/sub", "d/s/x", "d/r -> /", "d/r/y"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E0 n3", "d/r l L0 E4 n1", "d/s l L0 E2 n1",
                           "d/sub d L0 E1 n2", "d/sub/x f L0 E3 n1", "y f L0 E5 n1"}));
}

TEST(RootfsSymlinkParent, DotDotNeverClimbsAboveTheRoot) {
  auto m = merged({layerEntries(
      {"a/", "a/up -> ../../../b", "a/up/x", "a/s -> ../a/./c//", "a/s/y", "a/t -> ..", "a/t/z"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n4", "a d L0 E0 n3", "a/c d L0 E- n2", "a/c/y f L0 E4 n1",
                           "a/s l L0 E3 n1", "a/t l L0 E5 n1", "a/up l L0 E1 n1", "b d L0 E- n2",
                           "b/x f L0 E2 n1", "z f L0 E6 n1"}));
  EXPECT_EQ(m.tree.droppedEntries(), 0u);
}

TEST(RootfsSymlinkParent, DotDotIsLexicalAfterAMissingOrPlainName) {
  auto m = merged({layerEntries({"f", "d/", "s -> nowhere/../f/../d", "s/x"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E1 n2", "d/x f L0 E3 n1", "f f L0 E0 n1",
                           "s l L0 E2 n1"}));
}

// A symlink's chain of 255 links is followed; one more link, or a loop, drops the entry.
TEST(RootfsSymlinkParent, ChainsUpTo255LinksAreFollowedLoopsAreDropped) {
  std::vector<std::string> names;
  for (int i = 0; i <= 255; ++i) names.push_back("l" + std::to_string(i));
  std::vector<Entry> layer = layerEntries({"d/"});
  for (int i = 0; i <= 255; ++i) {
    layer.push_back(Entry{.path = names[i],
                          .type = EntryType::kSymlink,
                          .linkTarget = i == 255 ? "d" : names[i + 1]});
  }
  for (std::string_view line :
       {"l1/ok", "l0/far", "a -> b", "b -> a", "a/x", "s -> s", "s/y", "c -> .", "c/c/c/z"}) {
    layer.push_back(layerEntries({line})[0]);
  }
  auto m = merged({layer});
  EXPECT_NE(m.tree.resolve("d/ok"), Inode::kNone);
  EXPECT_EQ(m.tree.resolve("d/far"), Inode::kNone);
  EXPECT_NE(m.tree.resolve("z"), Inode::kNone);
  EXPECT_EQ(m.tree.droppedEntries(), 3u);  // l0/far, a/x, s/y
}

// Following symlinks costs at most a budget of names for the whole tree: a layer whose every
// entry sends the walk down a long chain is refused (the image cannot be shown), not followed
// without end.
TEST(RootfsSymlinkParent, FollowingHasABudgetForTheWholeTree) {
  std::vector<Entry> layer = layerEntries({"d/"});
  for (int i = 0; i < 100; ++i) {
    layer.push_back(Entry{.path = "l" + std::to_string(i),
                          .type = EntryType::kSymlink,
                          .linkTarget = i == 99 ? "d" : "l" + std::to_string(i + 1)});
  }
  // 50 parents, so that each is walked (the last parent walked is remembered).
  for (int i = 0; i < 50; ++i)
    layer.push_back(layerEntries({"l0/x" + std::to_string(i) + "/f"})[0]);
  EXPECT_NO_THROW(FsTree::merge({&layer}, 50 * 110));  // 50 walks of 100 links and a name
  try {
    FsTree::merge({&layer}, 50 * 100 / 2);
    ADD_FAILURE() << "no budget";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kSizeInvalid) << e.what();
  }
  EXPECT_THROW(FsTree::single(layer, 100), Error);
}

TEST(RootfsSymlinkParent, ToANonDirectoryDropsToNothingMakesTheTarget) {
  auto m = merged({layerEntries(
      {"f", "p:fifo", "s -> f", "t -> fifo", "u -> /no/where", "s/x", "t/y", "u/z"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "f f L0 E0 n1", "fifo p L0 E1 n1", "no d L0 E- n3",
                           "no/where d L0 E- n2", "no/where/z f L0 E7 n1", "s l L0 E2 n1",
                           "t l L0 E3 n1", "u l L0 E4 n1"}));
  EXPECT_EQ(m.tree.droppedEntries(), 2u);
}

TEST(RootfsSymlinkParent, TheLastNameIsReplacedNotFollowed) {
  auto m = merged({layerEntries({"usr/lib/", "usr/lib/a", "lib -> usr/lib", "bin -> usr/lib"}),
                   layerEntries({"lib/", "lib/b", "bin"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n4", "bin f L1 E2 n1", "lib d L1 E0 n2", "lib/b f L1 E1 n1",
                           "usr d L0 E- n3", "usr/lib d L0 E0 n2", "usr/lib/a f L0 E1 n1"}));
}

TEST(RootfsSymlinkParent, RememberedParentsForgetANewSymlink) {
  // s/a resolves through the missing m; once m is a symlink, s/b goes through it.
  auto m = merged({layerEntries({"d/", "e/", "e/f/", "s -> m/../d", "s/a", "m -> e/f", "s/b"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n4", "d d L0 E0 n2", "d/a f L0 E4 n1", "e d L0 E1 n4",
                           "e/d d L0 E- n2", "e/d/b f L0 E6 n1", "e/f d L0 E2 n2", "m l L0 E5 n1",
                           "s l L0 E3 n1"}));
}

TEST(RootfsSymlinkParent, ADirectoryReplacingASymlinkOnItsOwnParentPathIsNotRemembered) {
  // lib/lib/ replaces the symlink lib (its parent resolves to the root), so lib/lib is no
  // longer that directory: lib/lib/x goes one level down.
  auto m = merged({layerEntries({"lib -> .", "lib/lib/", "lib/lib/x"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "lib d L0 E1 n3", "lib/lib d L0 E- n2",
                           "lib/lib/x f L0 E2 n1"}));
}

TEST(RootfsSymlinkParent, WhiteoutsResolveTheirDirectoryThroughLowerSymlinks) {
  std::vector<Entry> base = layerEntries(
      {"usr/lib/", "usr/lib/a", "usr/lib/b", "usr/c/", "usr/c/d", "lib -> usr/lib", "c -> usr/c"});
  // A layer's whiteouts apply before its entries: its own symlink is not there yet.
  auto m = merged({base, layerEntries({"lib/.wh.a", "c/.wh..wh..opq", "e -> usr/lib", "e/.wh.b"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "c l L0 E6 n1", "e l L1 E2 n1", "lib l L0 E5 n1",
                           "usr d L0 E- n4", "usr/c d L0 E3 n2", "usr/lib d L0 E0 n2",
                           "usr/lib/b f L0 E2 n1"}));
}

TEST(RootfsSymlinkParent, HardlinkTargetsFollowTheirParentsNotTheirLastName) {
  auto m = merged({layerEntries({"usr/lib/", "usr/lib/f", "lib -> usr/lib"}),
                   layerEntries({"h => lib/f", "k => lib", "lib/g => lib/f"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "h f L0 E1 n3", "k l L0 E2 n2", "lib l L0 E2 n2 =k",
                           "usr d L0 E- n3", "usr/lib d L0 E0 n2", "usr/lib/f f L0 E1 n3 =h",
                           "usr/lib/g f L0 E1 n3 =h"}));
  EXPECT_EQ(m.tree.droppedHardlinks(), 0u);
}

TEST(RootfsSymlinkParent, InMergeAResolvedWhiteoutNameDropsTheEntry) {
  auto m = merged({layerEntries({"s -> .wh.x", "s/y", "t -> .wh.x/..", "t/z"})});
  EXPECT_EQ(m.text, lines({"/ d L0 E- n2", "s l L0 E0 n1", "t l L0 E2 n1", "z f L0 E3 n1"}));
  EXPECT_EQ(m.tree.droppedEntries(), 1u);
}

TEST(RootfsSymlinkParent, SingleFollowsInsideTheLayer) {
  auto m = singled(layerEntries({"lib -> usr/lib", "lib/a", "s -> .wh.x", "s/y", "h => lib/a"}));
  EXPECT_EQ(m.text, lines({"/ d L0 E- n4", ".wh.x d L0 E- n2", ".wh.x/y f L0 E3 n1", "h f L0 E1 n2",
                           "lib l L0 E0 n1", "s l L0 E2 n1", "usr d L0 E- n3", "usr/lib d L0 E- n2",
                           "usr/lib/a f L0 E1 n2 =h"}));
}

TEST(RootfsHostile, EntriesBelowALongSymlinkChainCostLinksTimesDepth) {
  // Every entry's parent changes, so none is remembered: each walks the whole chain.
  std::vector<Entry> layer = layerEntries({"d/"});
  for (int i = 0; i < 255; ++i) {
    layer.push_back(Entry{.path = "l" + std::to_string(i),
                          .type = EntryType::kSymlink,
                          .linkTarget = i == 254 ? "d" : "l" + std::to_string(i + 1)});
  }
  constexpr int kCount = 20'000;
  for (int i = 0; i < kCount; ++i) {
    layer.push_back(Entry{.path = (i % 2 ? "l0/" : "l1/") + std::to_string(i)});
  }
  FsTree tree = FsTree::merge({&layer});
  EXPECT_EQ(tree.inode(tree.resolve("d")).children.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(tree.droppedEntries(), 0u);
}

TEST(RootfsRoot, ItsEntrySetsItsAttributesAndNothingReplacesIt) {
  auto m = merged({layerEntries({"/", "a"}), layerEntries({"/"})});
  EXPECT_EQ(m.text, lines({"/ d L1 E0 n2", "a f L0 E1 n1"}));
  std::vector<Entry> odd = layerEntries({"a"});
  odd.push_back(Entry{.path = "", .type = EntryType::kRegular});
  odd.push_back(Entry{.path = "", .type = EntryType::kSymlink, .linkTarget = "/x"});
  odd.push_back(Entry{.path = "", .type = EntryType::kHardlink, .linkTarget = "a"});
  auto r = merged({layerEntries({"/"}), odd});
  EXPECT_EQ(r.text, lines({"/ d L0 E0 n2", "a f L1 E0 n1"}));
  EXPECT_EQ(r.tree.droppedEntries(), 3u);
}

TEST(RootfsNlink, DirectoriesCountSubdirectoriesFilesCountNames) {
  auto m =
      merged({layerEntries({"a/", "a/b/", "a/c/", "a/f", "a/g => a/f", "a/b/h => a/f", "e/"})});
  EXPECT_EQ(m.tree.inode(FsTree::kRoot).nlink, 4u);
  EXPECT_EQ(m.tree.inode(m.tree.resolve("a")).nlink, 4u);
  EXPECT_EQ(m.tree.inode(m.tree.resolve("a/b")).nlink, 2u);
  EXPECT_EQ(m.tree.inode(m.tree.resolve("a/f")).nlink, 3u);
}

TEST(RootfsLookup, ChildrenAreSortedBytewise) {
  auto m = merged({layerEntries({"b", "a", "\xff", "B", "a\n", "a b", "\x01"})});
  std::vector<std::string> names;
  for (const auto& [name, number] : m.tree.inode(FsTree::kRoot).children) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"\x01", "B", "a", "a\n", "a b", "b", "\xff"}));
  for (const auto& name : names) EXPECT_NE(m.tree.child(FsTree::kRoot, name), Inode::kNone);
}

TEST(RootfsLookup, ChildAndResolve) {
  auto m = merged({layerEntries({"d/", "d/x", "d/y/", "d/y/z"})});
  const FsTree& t = m.tree;
  EXPECT_EQ(t.resolve(""), FsTree::kRoot);
  uint32_t d = t.resolve("d");
  ASSERT_NE(d, Inode::kNone);
  EXPECT_EQ(t.child(FsTree::kRoot, "d"), d);
  EXPECT_EQ(t.resolve("d/y/z"), t.child(t.child(d, "y"), "z"));
  EXPECT_NE(t.resolve("d/x"), Inode::kNone);
  for (std::string_view missing : {"e", "d/x/y", "d//x", "d/.", "d/..", "/d", "d/", "d/y/z/w"}) {
    EXPECT_EQ(t.resolve(missing), Inode::kNone) << missing;
  }
  EXPECT_EQ(t.child(d, ""), Inode::kNone);
  EXPECT_EQ(t.child(static_cast<uint32_t>(t.size()), "d"), Inode::kNone);
  EXPECT_EQ(t.child(t.resolve("d/x"), "anything"), Inode::kNone);
}

TEST(RootfsLookup, NumbersAreBreadthFirstAndTheSameEveryBuild) {
  auto a = merged({layerEntries({"z/", "z/y", "a/", "a/b"}), layerEntries({"m"})});
  auto b = merged({layerEntries({"z/", "z/y", "a/", "a/b"}), layerEntries({"m"})});
  EXPECT_EQ(a.tree.resolve("a"), 1u);
  EXPECT_EQ(a.tree.resolve("m"), 2u);
  EXPECT_EQ(a.tree.resolve("z"), 3u);
  EXPECT_EQ(a.tree.resolve("a/b"), 4u);
  EXPECT_EQ(a.tree.size(), 6u);
  for (std::string_view p : {"a", "a/b", "m", "z", "z/y"}) {
    EXPECT_EQ(a.tree.resolve(p), b.tree.resolve(p)) << p;
  }
}

TEST(RootfsLookup, ReplacedAndWhitedOutInodesAreNotInTheTable) {
  auto m = merged({layerEntries({"d/", "d/a", "d/b", "f"}), layerEntries({".wh.d", "f"})});
  EXPECT_EQ(m.tree.size(), 2u);  // the root and the new f
}

TEST(RootfsSingle, ShowsWhiteoutsAsTheFilesTheyAre) {
  auto m =
      singled(layerEntries({"d/", "d/.wh..wh..opq", ".wh.x", ".wh.y/", ".wh.y/z", "d/a", "d/a"}));
  EXPECT_EQ(m.text,
            lines({"/ d L0 E- n4", ".wh.x f L0 E2 n1", ".wh.y d L0 E3 n2", ".wh.y/z f L0 E4 n1",
                   "d d L0 E0 n2", "d/.wh..wh..opq f L0 E1 n1", "d/a f L0 E6 n1"}));
}

TEST(RootfsSingle, HardlinksResolveInsideTheLayerOnly) {
  auto m = singled(layerEntries({"f", "h => f", "lower => from/below", "d/", "g => d"}));
  EXPECT_EQ(m.text, lines({"/ d L0 E- n3", "d d L0 E3 n2", "f f L0 E0 n2", "h f L0 E0 n2 =f"}));
  EXPECT_EQ(m.tree.droppedHardlinks(), 2u);
}

TEST(RootfsHostile, ADeepPathBuildsWithoutRecursion) {
  constexpr int kDepth = 10'000;
  std::string path = "a";
  for (int i = 1; i < kDepth; ++i) path += "/a";
  std::vector<Entry> deep = layerEntries({});
  deep.push_back(Entry{.path = path});
  std::vector<Entry> chain;
  std::string dir;
  for (int i = 0; i < kDepth; ++i) {
    dir += (dir.empty() ? "b" : "/b");
    chain.push_back(Entry{.path = dir, .type = EntryType::kDirectory});
  }
  std::vector<const std::vector<Entry>*> layers{&deep, &chain};
  FsTree tree = FsTree::merge(layers);
  EXPECT_EQ(tree.size(), 1u + 2u * kDepth);
  uint32_t file = tree.resolve(path);
  ASSERT_NE(file, Inode::kNone);
  EXPECT_EQ(tree.inode(file).entry, 0u);
  EXPECT_EQ(tree.inode(tree.resolve(dir)).entry, static_cast<uint32_t>(kDepth - 1));
  std::vector<Entry> gone = layerEntries({".wh.a", ".wh.b"});
  layers.push_back(&gone);
  EXPECT_EQ(FsTree::merge(layers).size(), 1u);
}

TEST(RootfsHostile, AMillionEntriesInOneDirectory) {
  constexpr size_t kCount = 1'000'000;
  std::vector<Entry> big;
  big.reserve(kCount + 1);
  big.push_back(Entry{.path = "d", .type = EntryType::kDirectory});
  for (size_t i = 0; i < kCount; ++i) big.push_back(Entry{.path = "d/f" + std::to_string(i)});
  FsTree tree = FsTree::merge({&big});
  uint32_t d = tree.resolve("d");
  ASSERT_NE(d, Inode::kNone);
  const auto& children = tree.inode(d).children;
  ASSERT_EQ(children.size(), kCount);
  EXPECT_TRUE(std::is_sorted(children.begin(), children.end()));
  EXPECT_EQ(tree.inode(tree.resolve("d/f999999")).entry, static_cast<uint32_t>(kCount));
  EXPECT_EQ(tree.inode(tree.child(d, "f0")).entry, 1u);
}

}  // namespace
}  // namespace regfs::layers
