// fsck on a store the reference registry wrote: it finds a flipped byte in a layer, a
// dangling layer link and an empty link file; --repair removes exactly those (and the links
// to the corrupt blob), leaves every other byte alone, and after the image is pushed again
// the store is clean and the image pulls.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "common/digest.h"
#include "common/store/layout.h"
#include "common/store/store.h"
#include "support/image.h"
#include "support/store_check.h"

namespace regfs {
namespace {

using namespace regfs::testing;
namespace fs = std::filesystem;

std::map<std::string, std::string> filesWithContent(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = readFile(e.path());
  }
  return out;
}

TEST(FsckRepairTest, FindsAndRepairsOnlyWhatIsBroken) {
  ASSERT_TRUE(haveProgram("skopeo"));
  TempDir work;
  fs::path root = work / "store";
  OciLayout oci(work / "oci");
  Blob base = oci.addLayer({{"etc/base", "base layer"}});
  Blob app = oci.addLayer({{"bin/app", "the app, whose byte will flip"}});
  Blob image = oci.addImage({base, app});
  Blob other = oci.addImage({base}, {"linux", "arm64", ""});
  oci.tag("v1", image);
  oci.tag("other", other);
  {
    ReferenceRegistry reference(root);
    ASSERT_EQ(skopeoCopy(oci.ref("v1"), "docker://" + reference.host() + "/team/app:v1").status, 0);
    ASSERT_EQ(
        skopeoCopy(oci.ref("other"), "docker://" + reference.host() + "/team/other:v1").status, 0);
  }
  auto r = runFsck(root);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("clean"), std::string::npos) << r.out;

  RepoName repo = RepoName::parse("team/app");
  Digest appDigest = Digest::parse(app.digest);
  std::string appData = root.string() + layout::blobData(appDigest);
  std::string flipped = readFile(appData);
  flipped[flipped.size() / 2] ^= 0x01;
  writeFile(appData, flipped);
  Digest nothing = Digest::of("a blob that was never stored");
  std::string dangling = root.string() + layout::layerLink(repo, nothing);
  writeFile(dangling, nothing.str());
  Digest pending = Store::openLocal(root).putBlob("a layer uploaded, its link torn");
  std::string empty = root.string() + layout::layerLink(RepoName::parse("team/other"), pending);
  writeFile(empty, "");

  r = runFsck(root);
  EXPECT_EQ(r.status, 4) << r.out << r.err;
  EXPECT_NE(r.out.find("corrupt-blob " + appData + ": content hashes to "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("dangling-link " + dangling), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("malformed-link " + empty + ": empty link file"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("missing-reference"), std::string::npos) << "the image lost a layer";
  r = runFsck(root, {"--json"});
  EXPECT_EQ(r.status, 4);
  EXPECT_NE(r.out.find("\"clean\": false"), std::string::npos) << r.out;

  auto before = filesWithContent(root);
  r = runFsck(root, {"--repair"});
  EXPECT_EQ(r.status, 4) << "the image still lacks its layer: " << r.out;
  auto after = filesWithContent(root);
  std::set<std::string> removed;
  for (const auto& [path, content] : before) {
    auto it = after.find(path);
    if (it == after.end()) {
      removed.insert(path);
    } else {
      EXPECT_EQ(it->second, content) << path << " changed";
    }
  }
  EXPECT_EQ(after.size() + removed.size(), before.size()) << "repair added files";
  auto rel = [&](const std::string& full) { return fs::relative(full, root).string(); };
  EXPECT_EQ(removed,
            (std::set<std::string>{rel(appData), rel(dangling), rel(empty),
                                   rel(root.string() + layout::layerLink(repo, appDigest))}));
  EXPECT_TRUE(fs::exists(root.string() + layout::blobData(pending))) << "a valid blob stays";

  r = runFsck(root);
  EXPECT_EQ(r.status, 4);
  EXPECT_NE(r.out.find("missing-reference"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("corrupt-blob"), std::string::npos) << r.out;

  // Pushing the image again heals it.
  ReferenceRegistry reference(root);
  ASSERT_EQ(skopeoCopy(oci.ref("v1"), "docker://" + reference.host() + "/team/app:v1").status, 0);
  r = runFsck(root);
  EXPECT_EQ(r.status, 0) << r.out;
  r = skopeoCopy("docker://" + reference.host() + "/team/app:v1",
                 "dir:" + (work / "pulled").string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(readFile(work / "pulled" / app.digest.substr(7)), app.bytes);
}

}  // namespace
}  // namespace regfs
