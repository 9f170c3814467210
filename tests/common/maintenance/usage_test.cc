#include "common/maintenance/usage.h"

#include <gtest/gtest.h>

#include "common/store/layout.h"
#include "support/process.h"
#include "support/store_builder.h"

namespace regfs {
namespace {

using namespace regfs::testing;

// Two repositories sharing one layer, an untagged image, an orphan blob and an upload in
// progress; every expectation is added up by hand from the bytes written.
TEST(UsageTest, SharedAndUniqueBytesPerRepositoryAndWhatGarbageCollectionWouldFree) {
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  Repository app = store.repository(RepoName::parse("team/app"));
  Repository web = store.repository(RepoName::parse("team/web"));
  // Layers of 10, 9, 9 and 9 bytes; configs of 8 bytes.
  BuiltImage a = pushImage(store, app, {"base layer", "app layer"}, "amd64", {}, "config-a");
  app.putTag(Tag::parse("v1"), a.manifest);
  BuiltImage b = pushImage(store, app, {"old layer"}, "amd64", {}, "config-b");  // untagged
  BuiltImage c = pushImage(store, web, {"base layer", "web layer"}, "amd64", {}, "config-c");
  web.putTag(Tag::parse("v1"), c.manifest);
  web.putTag(Tag::parse("latest"), c.manifest);
  store.putBlob("orphan!");  // 7 bytes, no manifest names it
  std::string upload = web.startUpload();
  UploadWriter writer = web.openUpload(upload);
  writer.write("half a layer");  // 12 bytes
  writer.release();

  uint64_t am = a.bytes.size(), bm = b.bytes.size(), cm = c.bytes.size();
  StoreUsage usage = measureUsage(store);

  ASSERT_EQ(usage.repositories.size(), 2u);
  const RepositoryUsage& appUsage = usage.repositories[0];
  EXPECT_EQ(appUsage.name, "team/app");
  EXPECT_EQ(appUsage.manifests, 2u);  // the untagged revision counts
  EXPECT_EQ(appUsage.tags, 1u);
  EXPECT_EQ(appUsage.blobs, 7u);  // 2 manifests, 2 configs, 3 layers
  EXPECT_EQ(appUsage.sharedBytes, 10u);
  EXPECT_EQ(appUsage.uniqueBytes, am + 8 + 9 + bm + 8 + 9);
  EXPECT_EQ(appUsage.bytes, appUsage.uniqueBytes + 10);

  const RepositoryUsage& webUsage = usage.repositories[1];
  EXPECT_EQ(webUsage.name, "team/web");
  EXPECT_EQ(webUsage.manifests, 1u);
  EXPECT_EQ(webUsage.tags, 2u);
  EXPECT_EQ(webUsage.blobs, 4u);  // manifest, config, 2 layers
  EXPECT_EQ(webUsage.sharedBytes, 10u);
  EXPECT_EQ(webUsage.uniqueBytes, cm + 8 + 9);
  EXPECT_EQ(webUsage.bytes, cm + 8 + 9 + 10);

  // The shared layer is one blob in the store.
  EXPECT_EQ(usage.blobs, 11u);
  EXPECT_EQ(usage.blobBytes, am + bm + cm + 3 * 8 + 10 + 9 + 9 + 9 + 7);
  EXPECT_EQ(usage.uploads, 1u);
  EXPECT_EQ(usage.uploadBytes, 12u);
  EXPECT_EQ(usage.gcFrees, 7u);                             // the orphan
  EXPECT_EQ(usage.gcDeleteUntaggedFrees, 7u + bm + 8 + 9);  // and the untagged image
}

TEST(UsageTest, AnEmptyStoreUsesNothing) {
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  StoreUsage usage = measureUsage(store);
  EXPECT_TRUE(usage.repositories.empty());
  EXPECT_EQ(usage.blobs, 0u);
  EXPECT_EQ(usage.blobBytes, 0u);
  EXPECT_EQ(usage.uploads, 0u);
  EXPECT_EQ(usage.gcFrees, 0u);
  EXPECT_EQ(usage.gcDeleteUntaggedFrees, 0u);
  EXPECT_EQ(usage.layerIndexes, 0u);
}

TEST(UsageTest, LayerIndexesAreCounted) {
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  for (const char* layer : {"one", "two"})
    store.driver().writeAtomic(layout::layerIndexFile(Digest::of(layer)), "12345");
  store.driver().writeAtomic(layout::layerIndexRoot() + "/sha256/xx/stray", "not an index");
  StoreUsage usage = measureUsage(store);
  EXPECT_EQ(usage.layerIndexes, 2u);
  EXPECT_EQ(usage.layerIndexBytes, 10u);
}

}  // namespace
}  // namespace regfs
