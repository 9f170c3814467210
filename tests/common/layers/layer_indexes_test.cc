// The layer indexes of a store: built once and read back, never trusted when torn or corrupt,
// a layer that cannot be read recorded (and tried again only under other limits), and the
// files inside a layer read through its index.
#include <gtest/gtest.h>
#include <zlib.h>

#include "common/error.h"
#include "common/layers/file_reader.h"
#include "common/layers/file_trees.h"
#include "common/layers/layer_index.h"
#include "common/store/layout.h"
#include "support/compress.h"
#include "support/image.h"
#include "support/process.h"
#include "support/tar_writer.h"

namespace regfs::layers {
namespace {

using regfs::testing::TarWriter;
using regfs::testing::TempDir;

class LayerIndexesTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  std::string big = regfs::testing::randomBytes(3 << 20, 7);
  std::string layerTar = TarWriter()
                             .dir("etc/")
                             .file("etc/os-release", "ID=test\n")
                             .file("big", big)
                             .file("etc/last", "the end\n")
                             .end()
                             .bytes();
  Digest layer = store.putBlob(regfs::testing::gzipBytes(layerTar));
  std::string indexPath() const { return dir.path().string() + layout::layerIndexFile(layer); }
};

TEST_F(LayerIndexesTest, BuiltOnceThenReadBack) {
  LayerIndexes indexes(store);
  EXPECT_EQ(indexes.load(layer), nullptr);
  auto built = indexes.get(layer);
  ASSERT_FALSE(built->failure) << built->failure->message;
  EXPECT_EQ(built->stream.compression, Compression::kGzip);
  EXPECT_GE(built->stream.checkpoints.size(), 2u);  // 3 MiB at one per MiB or more
  ASSERT_EQ(built->entries.size(), 4u);
  EXPECT_EQ(built->entries[1].path, "etc/os-release");
  ASSERT_TRUE(std::filesystem::exists(indexPath()));
  auto mtime = std::filesystem::last_write_time(indexPath());

  LayerIndexes again(store);  // another process: reads the file, builds nothing
  auto loaded = again.get(layer);
  EXPECT_EQ(*loaded, *built);
  EXPECT_EQ(std::filesystem::last_write_time(indexPath()), mtime);
}

TEST_F(LayerIndexesTest, ATornOrCorruptIndexIsBuiltAgain) {
  LayerIndexes indexes(store);
  auto built = indexes.get(layer);
  std::string bytes = regfs::testing::readFile(indexPath());
  for (std::string bad : {bytes.substr(0, bytes.size() / 2), std::string(),
                          bytes.substr(0, 40) + "x" + bytes.substr(41)}) {
    regfs::testing::writeFile(indexPath(), bad);
    EXPECT_EQ(indexes.load(layer), nullptr);
    // Another process (this one shares the index it holds in memory) builds it again.
    EXPECT_EQ(*LayerIndexes(store).get(layer), *built);
    EXPECT_EQ(indexes.get(layer), built);
    EXPECT_EQ(regfs::testing::readFile(indexPath()), bytes);  // the same index, rebuilt
  }
}

TEST_F(LayerIndexesTest, FilesReadThroughTheIndexEqualTheirBytes) {
  LayerIndexes indexes(store);
  auto index = indexes.get(layer);
  auto blob = openBlobSource(store, layer);
  const Entry& bigEntry = index->entries[2];
  ASSERT_EQ(bigEntry.path, "big");
  FileReader reader(*blob, index->stream, bigEntry);
  for (uint64_t offset :
       {uint64_t{0}, uint64_t{1} << 20, uint64_t{3 << 20} - 10, uint64_t{12345}}) {
    std::string got(5000, '\0');
    size_t n = reader.read(offset, got.data(), got.size());
    got.resize(n);
    EXPECT_EQ(got, big.substr(offset, 5000)) << offset;
  }
  char past[4];
  EXPECT_EQ(reader.read(big.size(), past, sizeof past), 0u);
  FileReader last(*blob, index->stream, index->entries[3]);
  std::string text(100, '\0');
  text.resize(last.read(0, text.data(), text.size()));
  EXPECT_EQ(text, "the end\n");
}

TEST_F(LayerIndexesTest, ALayerThatIsNoTarIsRecordedNotReadAgain) {
  Digest junk =
      store.putBlob(regfs::testing::gzipBytes("this is not a tar archive at all, just text"));
  LayerIndexes indexes(store);
  auto index = indexes.get(junk);
  ASSERT_TRUE(index->failure);
  EXPECT_EQ(index->failure->kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(index->entries.empty());
  auto loaded = LayerIndexes(store).load(junk);
  ASSERT_TRUE(loaded && loaded->failure);
  EXPECT_EQ(loaded->failure->message, index->failure->message);
}

TEST_F(LayerIndexesTest, ALayerPastALimitIsTriedAgainUnderOtherLimits) {
  IndexLimits tight;
  tight.tar.maxEntries = 2;
  auto failed = LayerIndexes(store, tight).get(layer);
  ASSERT_TRUE(failed->failure);
  EXPECT_EQ(failed->failure->kind, ErrorKind::kSizeInvalid);
  EXPECT_TRUE(LayerIndexes(store, tight).load(layer)) << "the same limits: not again";
  LayerIndexes relaxed(store);
  EXPECT_EQ(relaxed.load(layer), nullptr) << "other limits: again";
  EXPECT_FALSE(relaxed.get(layer)->failure);
}

TEST_F(LayerIndexesTest, AMissingBlobStoresNothing) {
  Digest absent = Digest::of("never stored");
  LayerIndexes indexes(store);
  try {
    indexes.get(absent);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBlobUnknown);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path().string() + layout::layerIndexFile(absent)));
}

TEST_F(LayerIndexesTest, ACancelledBuildStoresNothingAndTheNextOneBuilds) {
  LayerIndexes indexes(store);
  std::atomic<bool> cancel{true};
  EXPECT_THROW(indexes.get(layer, &cancel), IndexCancelled);
  EXPECT_THROW(indexes.build(layer, &cancel), IndexCancelled);
  EXPECT_FALSE(std::filesystem::exists(indexPath()));
  cancel = false;
  auto built = indexes.get(layer, &cancel);
  ASSERT_FALSE(built->failure) << built->failure->message;
  EXPECT_EQ(built->entries.size(), 4u);
  EXPECT_TRUE(std::filesystem::exists(indexPath()));
  cancel = true;  // a stored index is loaded without reading the blob
  EXPECT_EQ(*indexes.get(layer, &cancel), *built);
}

TEST_F(LayerIndexesTest, ConcurrentFirstAccessesAgree) {
  LayerIndexes indexes(store);
  std::vector<std::shared_ptr<const LayerIndex>> got(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] { got[i] = indexes.get(layer); });
  for (auto& t : threads) t.join();
  for (const auto& index : got) EXPECT_EQ(*index, *got[0]);
}

// Trees cost memory by their inodes: the cache keeps recent ones up to an inode budget (the
// newest always), and a tree it let go is built again on the next access.
TEST_F(LayerIndexesTest, FileTreesKeepRecentTreesWithinAnInodeBudget) {
  std::vector<TreeSource> sources;
  for (int i = 0; i < 3; ++i) {
    TarWriter tar;
    for (int f = 0; f < 100; ++f)
      tar.file("dir" + std::to_string(i) + "/f" + std::to_string(f), "x");
    sources.push_back(TreeSource{{store.putBlob(tar.end().bytes())}, true});
  }
  FileTrees trees(store, {}, 16, 250);  // two trees of 102 inodes fit, three do not
  auto first = trees.tree(sources[0]);  // held: a rebuilt tree cannot take its address
  EXPECT_EQ(trees.tree(sources[0])->tree.size(), 102u);
  EXPECT_EQ(trees.tree(sources[0]), first) << "kept";
  auto second = trees.tree(sources[1]);
  EXPECT_EQ(trees.tree(sources[0]), first) << "two fit";
  trees.tree(sources[2]);  // the least recent, the second, goes
  EXPECT_EQ(trees.tree(sources[0]), first);
  auto again = trees.tree(sources[1]);
  EXPECT_NE(again, second) << "built again";
  EXPECT_EQ(again->tree.size(), 102u);
}

}  // namespace
}  // namespace regfs::layers
