#include "common/browse/facts.h"

#include <gtest/gtest.h>

#include "common/store/layout.h"
#include "support/error_kind.h"
#include "support/process.h"
#include "support/store_builder.h"

namespace regfs::browse {
namespace {

using namespace regfs::testing;

class FactsTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  Repository repo = store.repository(RepoName::parse("team/app"));
};

TEST_F(FactsTest, AnImageHasItsBlobsPlatformAndCreatedDate) {
  std::string config = R"({"architecture":"arm","os":"linux","variant":"v7","created":"2026"})";
  BuiltImage image = pushImage(store, repo, {"layer-a", "layer-a", "layer-b"}, "", {}, config);
  ManifestFacts f = readManifestFacts(store, image.manifest);
  EXPECT_EQ(f.mediaType, kOciManifestType);
  EXPECT_FALSE(f.isIndex);
  EXPECT_EQ(f.size, image.bytes.size());
  ASSERT_EQ(f.blobs.size(), 3u) << "config, then the two distinct layers";
  EXPECT_EQ(f.blobs[0].digest, image.config);
  EXPECT_EQ(f.blobs[0].size, config.size());
  EXPECT_EQ(f.platforms, (std::vector<std::string>{"linux/arm/v7"}));
  EXPECT_EQ(f.created, "2026");
  EXPECT_EQ(f.artifactTypeShown(), "") << "a plain image is no artifact";
  FactCache cache;
  EXPECT_EQ(pullSize(store, cache, image.manifest), image.bytes.size() + config.size() + 7 + 7);
}

TEST_F(FactsTest, AnIndexHasItsChildrenAndTheirBlobsOnce) {
  BuiltImage amd = pushImage(store, repo, {"shared", "amd"}, "amd64");
  BuiltImage arm = pushImage(store, repo, {"shared", "arm"}, "arm64");
  Digest index = pushIndex(repo, {amd, arm});
  ManifestFacts f = readManifestFacts(store, index);
  EXPECT_TRUE(f.isIndex);
  ASSERT_EQ(f.children.size(), 2u);
  EXPECT_EQ(f.children[0].manifest.digest, amd.manifest);
  FactCache cache;
  uint64_t expected = store.readBlob(index).size() + amd.bytes.size() + arm.bytes.size() +
                      store.readBlob(amd.config).size() + store.readBlob(arm.config).size() + 6 +
                      3 + 3;
  EXPECT_EQ(pullSize(store, cache, index), expected) << "the shared layer counts once";
  EXPECT_EQ(cache.entries(), 3u);
}

TEST_F(FactsTest, AReferrerHasItsSubjectAndAMissingManifestIsUnknown) {
  BuiltImage image = pushImage(store, repo, {"l"});
  BuiltImage sig = pushImage(store, repo, {"sig"}, "amd64", image);
  ManifestFacts f = readManifestFacts(store, sig.manifest);
  ASSERT_TRUE(f.subject);
  EXPECT_EQ(*f.subject, image.manifest);
  EXPECT_EQ(kindOf([&] { readManifestFacts(store, Digest::of("nothing")); }),
            ErrorKind::kManifestUnknown);
}

TEST_F(FactsTest, TheCacheKeepsTheMostRecentlyUsedWithinItsBounds) {
  std::vector<Digest> digests;
  for (int i = 0; i < 4; ++i)
    digests.push_back(pushImage(store, repo, {"layer" + std::to_string(i)}).manifest);
  FactCache byBytes(100, 1);
  EXPECT_NO_THROW(byBytes.get(store, digests[3]));
  EXPECT_EQ(byBytes.entries(), 0u) << "facts larger than the whole bound are not kept";

  FactCache byCount(2, 1 << 20);
  for (const Digest& d : digests) byCount.get(store, d);
  EXPECT_EQ(byCount.entries(), 2u);
  auto kept = byCount.get(store, digests[3]);
  std::filesystem::remove_all(dir.path().string() + layout::blobsRoot());
  EXPECT_EQ(byCount.get(store, digests[3]), kept) << "a hit reads nothing";
  EXPECT_EQ(kindOf([&] { byCount.get(store, digests[0]); }), ErrorKind::kManifestUnknown)
      << "the oldest went";
}

}  // namespace
}  // namespace regfs::browse
