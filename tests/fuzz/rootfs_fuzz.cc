// Fuzz target: layers applied into a tree (common/layers/rootfs.h). The input is decoded into
// up to four layers of entries whose names come from a small alphabet rich in whiteouts; the
// tree FsTree::merge (and FsTree::single, per layer) builds is checked for the shape rootfs.h
// promises and against a plain model that keeps every full path in an ordered map.
//
// Input: a byte stream read as entries. Per entry: a kind byte (type; 6 starts the next layer),
// a depth byte and one name byte per level (depth 0 is the root), for a hardlink the same for
// its target, and for a symlink one byte that picks its target.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/layers/rootfs.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

using layers::Entry;
using layers::EntryType;
using layers::FsTree;
using layers::Inode;

constexpr uint32_t kNone = Inode::kNone;
constexpr std::string_view kNames[] = {
    "a",    "b",   "c", ".wh.a", ".wh.b", ".wh.c", ".wh..wh..opq", ".wh.", ".wh..", ".wh..wh.plnk",
    "\xff", "a b", ".", "..",    "",
};
// Symlink targets: relative, absolute, climbing, chains (a -> b -> a), whiteout names.
constexpr std::string_view kTargets[] = {
    "a", "b", "c", "/a", "/", "..", "../b", "a/b", ".", "", "c/../a", "b/..", ".wh.a", "/c/./a//",
};

class Input {
 public:
  explicit Input(std::string_view bytes) : bytes_(bytes) {}
  bool empty() const { return bytes_.empty(); }
  uint8_t next() {
    if (bytes_.empty()) return 0;
    auto byte = static_cast<uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return byte;
  }
  // A path of 0-3 names; unclean names (".", "..", "") are rare, as the tar parser cleans.
  std::string path() {
    std::string out;
    int depth = next() % 4;
    for (int i = 0; i < depth; ++i) {
      uint8_t pick = next();
      size_t count = std::size(kNames) - (pick & 0x80 ? 0 : 3);
      if (i > 0) out += '/';
      out += kNames[pick % count];
    }
    return out;
  }

 private:
  std::string_view bytes_;
};

std::vector<std::vector<Entry>> decode(std::string_view bytes) {
  std::vector<std::vector<Entry>> tables(1);
  Input in(bytes);
  while (!in.empty() && tables.back().size() < 64) {
    static constexpr EntryType kTypes[] = {EntryType::kRegular, EntryType::kDirectory,
                                           EntryType::kSymlink, EntryType::kHardlink,
                                           EntryType::kFifo,    EntryType::kCharDevice};
    uint8_t kind = in.next() % 7;
    if (kind == 6) {
      if (tables.size() == 4) break;
      tables.emplace_back();
      continue;
    }
    Entry e;
    e.type = kTypes[kind];
    e.path = in.path();
    if (e.type == EntryType::kHardlink) e.linkTarget = in.path();
    if (e.type == EntryType::kSymlink) e.linkTarget = kTargets[in.next() % std::size(kTargets)];
    tables.back().push_back(std::move(e));
  }
  return tables;
}

bool isWhiteoutName(std::string_view name) { return name.starts_with(".wh."); }
bool isClean(std::string_view name) { return !name.empty() && name != "." && name != ".."; }

bool cleanPath(std::string_view path) {
  while (true) {
    size_t slash = path.find('/');
    if (!isClean(path.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

std::string lastName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
std::string parentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}
std::string join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}
std::string joinAll(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out = join(out, name);
  return out;
}

// The rules of rootfs.h applied the obvious way: every full path in a map, subtrees removed by
// prefix. Slow, and plain enough to trust.
struct Model {
  struct Node {
    bool dir;
    uint32_t layer;
    uint32_t entry;
    std::optional<std::string> symlink;  // its target
  };
  std::vector<Node> nodes{{true, 0, kNone, std::nullopt}};
  std::map<std::string, uint32_t> names{{"", 0}};
  uint64_t droppedHardlinks = 0;
  uint64_t droppedEntries = 0;

  bool isDir(const std::string& path) const {
    auto it = names.find(path);
    return it != names.end() && nodes[it->second].dir;
  }
  // The path `path` leads to, each name followed where it is a symlink, written as securejoin
  // is: the target spliced in front of what is left, ".." lexical. Nothing past 255 symlinks,
  // below a non-directory, or (whiteouts) with a ".wh." name left in it.
  std::optional<std::string> follow(const std::string& path, bool whiteouts) const {
    std::vector<std::string> walked;
    std::string rest = path;
    int symlinks = 0;
    while (!rest.empty()) {
      size_t slash = rest.find('/');
      std::string name = rest.substr(0, slash);
      rest = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
      if (name.empty() || name == ".") continue;
      if (name == "..") {
        if (!walked.empty()) walked.pop_back();
        continue;
      }
      std::string dir = joinAll(walked);
      if (names.count(dir) && !isDir(dir)) return std::nullopt;
      auto it = names.find(join(dir, name));
      if (it != names.end() && nodes[it->second].symlink) {
        if (++symlinks > 255) return std::nullopt;
        const std::string& target = *nodes[it->second].symlink;
        if (target.starts_with('/')) walked.clear();
        rest = target + "/" + rest;
        continue;
      }
      walked.push_back(name);
    }
    for (const auto& name : walked) {
      if (whiteouts && isWhiteoutName(name)) return std::nullopt;
    }
    return joinAll(walked);
  }

  void eraseBelow(const std::string& path) {  // the descendants of `path`, not `path`
    std::string prefix = path.empty() ? std::string() : path + "/";
    for (auto it = names.lower_bound(prefix); it != names.end() && it->first.starts_with(prefix);) {
      it = it->first.empty() ? std::next(it) : names.erase(it);
    }
  }

  void whiteouts(const std::vector<Entry>& table) {
    for (const Entry& e : table) {
      std::string name = lastName(e.path);
      if (e.path.empty() || !isWhiteoutName(name) || !cleanPath(e.path)) continue;
      std::optional<std::string> found = follow(parentOf(e.path), false);
      if (!found || !isDir(*found)) continue;
      const std::string& dir = *found;
      if (name == ".wh..wh..opq") {
        eraseBelow(dir);
        continue;
      }
      std::string victim = join(dir, std::string_view(name).substr(4));
      if (victim == dir || !names.count(victim)) continue;
      eraseBelow(victim);
      names.erase(victim);
    }
  }

  void add(uint32_t layer, uint32_t index, const Entry& e, bool applyWhiteouts) {
    if (e.path.empty()) {
      if (e.type == EntryType::kDirectory) {
        nodes[0].layer = layer;
        nodes[0].entry = index;
      } else {
        ++droppedEntries;
      }
      return;
    }
    if (applyWhiteouts && isWhiteoutName(lastName(e.path))) return;
    std::string_view rest = e.path;
    bool clean = true;
    while (true) {
      size_t slash = rest.find('/');
      std::string_view name = rest.substr(0, slash);
      clean = clean && isClean(name);
      if (slash == std::string_view::npos) break;
      clean = clean && !(applyWhiteouts && isWhiteoutName(name));
      rest.remove_prefix(slash + 1);
    }
    if (!clean) {
      ++droppedEntries;
      return;
    }
    uint32_t target = kNone;
    if (e.type == EntryType::kHardlink) {
      std::optional<std::string> dir = follow(parentOf(e.linkTarget), false);
      auto it = dir ? names.find(join(*dir, lastName(e.linkTarget))) : names.end();
      if (it == names.end() || nodes[it->second].dir) {
        ++droppedHardlinks;
        return;
      }
      target = it->second;
    }
    std::optional<std::string> parent = follow(parentOf(e.path), applyWhiteouts);
    if (!parent || (names.count(*parent) && !isDir(*parent))) {
      ++droppedEntries;
      return;
    }
    std::string sofar;
    for (std::string_view rest = *parent; !rest.empty();) {
      size_t slash = rest.find('/');
      sofar = join(sofar, rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
      if (!names.count(sofar)) {
        names[sofar] = static_cast<uint32_t>(nodes.size());
        nodes.push_back({true, layer, kNone, std::nullopt});
      }
    }
    std::string path = join(*parent, lastName(e.path));
    bool dir = e.type == EntryType::kDirectory;
    if (dir && isDir(path)) {
      nodes[names[path]].layer = layer;
      nodes[names[path]].entry = index;
      return;
    }
    eraseBelow(path);
    if (target == kNone) {
      target = static_cast<uint32_t>(nodes.size());
      std::optional<std::string> symlink;
      if (e.type == EntryType::kSymlink) symlink = e.linkTarget;
      nodes.push_back({dir, layer, index, symlink});
    }
    names[path] = target;
  }
};

// Walks the tree checking its shape, and returns every path with its inode number.
std::map<std::string, uint32_t> walk(const FsTree& tree,
                                     const std::vector<const std::vector<Entry>*>& tables,
                                     bool noWhiteoutNames) {
  std::map<std::string, uint32_t> paths{{"", FsTree::kRoot}};
  std::vector<uint32_t> names(tree.size(), 0);
  std::vector<std::string> stack{""};
  while (!stack.empty()) {
    std::string path = std::move(stack.back());
    stack.pop_back();
    uint32_t number = paths[path];
    const Inode& inode = tree.inode(number);
    bool dir = inode.entry == kNone ||
               (*tables.at(inode.layer)).at(inode.entry).type == EntryType::kDirectory;
    FUZZ_CHECK(inode.entry == kNone ||
                   (*tables.at(inode.layer)).at(inode.entry).type != EntryType::kHardlink,
               "an inode comes from a hardlink entry: " + show(path));
    FUZZ_CHECK(dir || inode.children.empty(), "a non-directory has children: " + show(path));
    uint32_t subdirs = 0;
    for (size_t i = 0; i < inode.children.size(); ++i) {
      const auto& [name, child] = inode.children[i];
      FUZZ_CHECK(isClean(name) && name.find('/') == std::string::npos,
                 "a child name is not a clean name: " + show(path + "/" + name));
      FUZZ_CHECK(i == 0 || inode.children[i - 1].first < name,
                 "children are not sorted and unique in " + show(path));
      FUZZ_CHECK(!noWhiteoutNames || !isWhiteoutName(name),
                 "a whiteout name is in the merged tree: " + show(path + "/" + name));
      FUZZ_CHECK(child != FsTree::kRoot && child < tree.size(),
                 "a child has a bad inode number in " + show(path));
      FUZZ_CHECK(tree.child(number, name) == child, "child() misses " + show(path + "/" + name));
      const Inode& c = tree.inode(child);
      bool childDir =
          c.entry == kNone || (*tables.at(c.layer)).at(c.entry).type == EntryType::kDirectory;
      subdirs += childDir ? 1 : 0;
      ++names[child];
      FUZZ_CHECK(!childDir || names[child] == 1, "a directory has two names: " + show(path));
      std::string childPath = join(path, name);
      paths[childPath] = child;
      if (names[child] == 1) stack.push_back(childPath);
    }
    if (dir) {
      FUZZ_CHECK(inode.nlink == 2 + subdirs, "a directory's nlink is wrong: " + show(path));
    }
  }
  for (uint32_t n = 1; n < tree.size(); ++n) {
    FUZZ_CHECK(names[n] > 0, "an inode no name reaches is in the table");
    const Inode& inode = tree.inode(n);
    if (inode.entry != kNone &&
        (*tables.at(inode.layer))[inode.entry].type != EntryType::kDirectory) {
      FUZZ_CHECK(inode.nlink == names[n], "a file's nlink is not its number of names");
    }
  }
  for (const auto& [path, number] : paths) {
    FUZZ_CHECK(tree.resolve(path) == number, "resolve() disagrees with the walk on " + show(path));
  }
  return paths;
}

void compare(const FsTree& tree, const Model& model,
             const std::vector<const std::vector<Entry>*>& tables, bool merged) {
  auto paths = walk(tree, tables, merged);
  FUZZ_CHECK(paths.size() == model.names.size(), "the tree has " + std::to_string(paths.size()) +
                                                     " names, the model " +
                                                     std::to_string(model.names.size()));
  std::map<uint32_t, uint32_t> inodeOf;  // model node -> tree inode, one to one
  std::map<uint32_t, uint32_t> nodeOf;
  for (const auto& [path, node] : model.names) {
    auto it = paths.find(path);
    FUZZ_CHECK(it != paths.end(), "the tree lacks " + show(path));
    const Inode& inode = tree.inode(it->second);
    const Model::Node& expected = model.nodes[node];
    FUZZ_CHECK(inode.layer == expected.layer && inode.entry == expected.entry,
               "another entry supplies " + show(path));
    FUZZ_CHECK(inodeOf.try_emplace(node, it->second).first->second == it->second &&
                   nodeOf.try_emplace(it->second, node).first->second == node,
               "hardlinks differ from the model at " + show(path));
  }
  FUZZ_CHECK(tree.droppedHardlinks() == model.droppedHardlinks, "droppedHardlinks differs");
  FUZZ_CHECK(tree.droppedEntries() == model.droppedEntries, "droppedEntries differs");
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs::fuzz;
  auto tables = decode(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<const std::vector<Entry>*> pointers;
  for (const auto& t : tables) pointers.push_back(&t);

  Model model;
  for (uint32_t l = 0; l < tables.size(); ++l) {
    model.whiteouts(tables[l]);
    for (uint32_t i = 0; i < tables[l].size(); ++i) model.add(l, i, tables[l][i], true);
  }
  FsTree tree = FsTree::merge(pointers);
  compare(tree, model, pointers, true);

  FsTree again = FsTree::merge(pointers);
  FUZZ_CHECK(again.size() == tree.size(), "a second merge differs");
  for (uint32_t n = 0; n < tree.size(); ++n) {
    const Inode& a = tree.inode(n);
    const Inode& b = again.inode(n);
    FUZZ_CHECK(
        a.layer == b.layer && a.entry == b.entry && a.nlink == b.nlink && a.children == b.children,
        "a second merge numbers inodes differently");
  }

  for (const auto& table : tables) {
    Model plain;
    for (uint32_t i = 0; i < table.size(); ++i) plain.add(0, i, table[i], false);
    compare(FsTree::single(table), plain, {&table}, false);
  }
  return 0;
}
