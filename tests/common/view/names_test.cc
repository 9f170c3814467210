#include "common/view/names.h"

#include <gtest/gtest.h>

namespace regfs {
namespace {

const Digest kDigest = Digest::of("layer");

TEST(ViewNamesTest, ManifestDirectoriesAndTagAliasesRoundTrip) {
  EXPECT_EQ(view_names::manifestDir(kDigest), "@" + kDigest.str());
  EXPECT_EQ(view_names::manifestDirDigest(view_names::manifestDir(kDigest)), kDigest);
  EXPECT_EQ(view_names::manifestDirDigest(kDigest.str()), std::nullopt) << "no @";
  EXPECT_EQ(view_names::manifestDirDigest("@sha256:short"), std::nullopt);
  EXPECT_EQ(view_names::tagAlias("latest"), "@tag:latest");
  EXPECT_EQ(view_names::tagOfEntry("@tag:latest"), "latest");
  EXPECT_EQ(view_names::tagOfEntry("latest"), "latest");
}

TEST(ViewNamesTest, LayerFilesSortInManifestOrderAndGiveBackTheirDigest) {
  EXPECT_EQ(view_names::layerFile(0, 1, kDigest, ".tar.gz"), "00-" + kDigest.hex() + ".tar.gz");
  EXPECT_EQ(view_names::layerFile(7, 100, kDigest, ""), "07-" + kDigest.hex())
      << "indexes up to 99";
  EXPECT_EQ(view_names::layerFile(7, 101, kDigest, ""), "007-" + kDigest.hex())
      << "index 100 needs 3";
  for (std::string ext : {"", ".tar", ".tar.gz", ".tar.zst"}) {
    EXPECT_EQ(view_names::layerFileDigest(view_names::layerFile(3, 12, kDigest, ext),
                                          kDigest.algorithm()),
              kDigest)
        << ext;
  }
  EXPECT_EQ(view_names::layerFileDigest("no-dash-digest", kDigest.algorithm()), std::nullopt);
  EXPECT_EQ(view_names::layerFileDigest("00" + kDigest.hex(), kDigest.algorithm()), std::nullopt);
}

}  // namespace
}  // namespace regfs
