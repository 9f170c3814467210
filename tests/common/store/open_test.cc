#include "common/store/open.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "support/error_kind.h"
#include "support/process.h"

namespace regfs {
namespace {

using testing::errorMessage;
using ::testing::HasSubstr;
using testing::kindOf;
using testing::TempDir;
using testing::writeFile;

TEST(LocalStoreRoot, TakesADirectoryOrAConfig) {
  TempDir dir;
  EXPECT_EQ(localStoreRoot(dir.path().string(), {}), dir.path());

  std::filesystem::path yml = dir / "config.yml";
  writeFile(yml, "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /srv/registry\n");
  EXPECT_EQ(localStoreRoot(yml.string(), {}), "/srv/registry");
  EXPECT_EQ(localStoreRoot(yml.string(), {{"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/o"}}),
            "/o");
  std::filesystem::path yaml = dir / "config.yaml";
  writeFile(yaml, "version: 0.1\n");
  EXPECT_EQ(localStoreRoot(yaml.string(), {}), "/var/lib/registry");

  std::filesystem::path s3 = dir / "s3.yml";
  writeFile(s3, "version: 0.1\nstorage:\n  s3:\n    bucket: b\n    region: us-east-1\n");
  EXPECT_THAT(errorMessage(ErrorKind::kConfigInvalid, [&] { localStoreRoot(s3.string(), {}); }),
              HasSubstr("the storage driver is not filesystem"));

  std::filesystem::path txt = dir / "notes.txt";
  writeFile(txt, "hello");
  EXPECT_THAT(errorMessage(ErrorKind::kInvalidArgument, [&] { localStoreRoot(txt.string(), {}); }),
              HasSubstr(txt.string()));
  EXPECT_EQ(kindOf([&] { localStoreRoot((dir / "missing").string(), {}); }), ErrorKind::kNotFound);
}

TEST(LocalStoreRoot, AStoreAboutToBeWrittenNeedNotExist) {
  TempDir dir;
  std::filesystem::path missing = dir / "new-store";
  EXPECT_EQ(localStoreRoot(missing.string(), {}, RootMust::kMayBeNew), missing);
  std::filesystem::path yml = dir / "config.yml";
  writeFile(yml,
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + missing.string() + "\n");
  EXPECT_EQ(localStoreRoot(yml.string(), {}, RootMust::kMayBeNew), missing);
  EXPECT_EQ(kindOf([&] { localStoreRoot((dir / "notes.txt").string(), {}); }),
            ErrorKind::kNotFound);
}

TEST(OpenStoreRoot, ReadsAConfigOnceWithTheEnvironmentGiven) {
  TempDir dir;
  std::filesystem::path yml = dir / "config.yml";
  writeFile(yml,
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /srv/registry\n"
            "  maintenance:\n    uploadpurging:\n      age: 2h\n");
  StoreRoot root = openStoreRoot(
      yml.string(), {{"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", dir.path().string()}});
  EXPECT_EQ(root.rootdirectory, dir.path());
  EXPECT_EQ(root.uploadPurgingAge, std::chrono::hours(2));
  ASSERT_TRUE(root.driver);

  StoreRoot plain = openStoreRoot(dir.path().string(), {});
  EXPECT_EQ(plain.rootdirectory, dir.path());
  EXPECT_EQ(plain.uploadPurgingAge, kDefaultUploadPurgingAge);
  EXPECT_EQ(kindOf([&] { openStoreRoot((dir / "missing").string(), {}); }), ErrorKind::kNotFound);
}

}  // namespace
}  // namespace regfs
