// garbage-collect keeps what the reference registry's own garbage-collect keeps, on the
// same store (pushed through docker-registry with skopeo): shared layers, a deleted
// manifest, an overwritten tag, an index with children. The documented differences are
// asserted too: regfs also removes the layer links of swept blobs, and with
// --delete-untagged it keeps the children of a tagged index (the reference removes them
// and their layers, which breaks the index).

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "common/digest.h"
#include "common/names.h"
#include "common/store/layout.h"
#include "support/image.h"

namespace regfs {
namespace {

using namespace regfs::testing;
namespace fs = std::filesystem;

std::set<std::string> filesUnder(const fs::path& root) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), root).string());
  }
  return out;
}

// The reference leaves the layer links of swept blobs behind; drop those to compare.
std::set<std::string> withoutDanglingLayerLinks(const std::set<std::string>& files) {
  std::set<std::string> out;
  for (const std::string& f : files) {
    auto pos = f.find("/_layers/sha256/");
    if (pos != std::string::npos) {
      std::string hex = f.substr(pos + 16, 64);
      std::string data = layout::blobData(Digest::parse("sha256:" + hex)).substr(1);
      if (!files.count(data)) continue;
    }
    out.insert(f);
  }
  return out;
}

std::set<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::set<std::string> out;
  for (const auto& x : a) {
    if (!b.count(x)) out.insert(x);
  }
  return out;
}

std::string blobFile(const Blob& b) { return layout::blobData(Digest::parse(b.digest)).substr(1); }
std::string layerLinkFile(const std::string& repo, const Blob& b) {
  return layout::layerLink(RepoName::parse(repo), Digest::parse(b.digest)).substr(1);
}
std::string revisionFile(const std::string& repo, const Blob& b) {
  return layout::revisionLink(RepoName::parse(repo), Digest::parse(b.digest)).substr(1);
}

class GcMatchesReferenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(haveProgram("skopeo"));
    ASSERT_TRUE(fs::exists("/usr/bin/docker-registry"));
    OciLayout oci(work / "oci");
    shared = oci.addLayer({{"etc/shared", "shared by everyone"}});
    onlyV1 = oci.addLayer({{"bin/one", "only in app:v1"}});
    overwritten = oci.addLayer({{"bin/old", "in the image latest used to name"}});
    deletedLayer = oci.addLayer({{"bin/deleted", "in a manifest deleted through the API"}});
    amdLayer = oci.addLayer({{"bin/amd", "amd64 only"}});
    armLayer = oci.addLayer({{"bin/arm", "arm64 only"}});
    v1 = oci.addImage({shared, onlyV1});
    oldLatest = oci.addImage({overwritten});
    newLatest = oci.addImage({shared});
    deleted = oci.addImage({deletedLayer}, {"linux", "s390x", ""});
    amd = oci.addImage({shared, amdLayer}, {"linux", "amd64", ""});
    arm = oci.addImage({armLayer}, {"linux", "arm64", "v8"});
    index = oci.addIndex({{amd, {"linux", "amd64", ""}}, {arm, {"linux", "arm64", "v8"}}});
    oci.tag("v1", v1);
    oci.tag("old", oldLatest);
    oci.tag("new", newLatest);
    oci.tag("deleted", deleted);
    oci.tag("multi", index);

    ReferenceRegistry reference(store);
    auto push = [&](const std::string& tag, const std::string& dest,
                    std::vector<std::string> extra = {}) {
      auto r = skopeoCopy(oci.ref(tag), "docker://" + reference.host() + "/" + dest, extra);
      ASSERT_EQ(r.status, 0) << r.err;
    };
    push("v1", "team/app:v1");
    push("old", "team/app:latest");
    push("new", "team/app:latest");  // latest now names newLatest; oldLatest is untagged
    push("deleted", "team/tools:scratch");
    push("v1", "team/tools:v1");  // the same image in a second repository
    push("multi", "team/multi:1.0", {"--all"});
    auto r = curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
                   reference.url() + "/v2/team/tools/manifests/" + deleted.digest});
    ASSERT_EQ(r.out, "202");
  }

  // Runs the reference's garbage-collect and ours on two copies; returns their file sets.
  std::pair<std::set<std::string>, std::set<std::string>> collectBoth(bool deleteUntagged) {
    fs::path theirs = work / "theirs", ours = work / "ours";
    fs::remove_all(theirs);
    fs::remove_all(ours);
    EXPECT_EQ(sh("cp -a '" + store.string() + "' '" + theirs.string() + "'").status, 0);
    EXPECT_EQ(sh("cp -a '" + store.string() + "' '" + ours.string() + "'").status, 0);
    writeFile(work / "config.yml", "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " +
                                       theirs.string() + "\n");
    std::vector<std::string> ref = {"/usr/bin/docker-registry", "garbage-collect",
                                    (work / "config.yml").string()};
    std::vector<std::string> mine = {(binDir() / "regfsctl").string(),
                                     "garbage-collect",
                                     ours.string(),
                                     "--grace",
                                     "0s",
                                     "--settle",
                                     "0s"};
    if (deleteUntagged) {
      ref.push_back("--delete-untagged");
      mine.push_back("--delete-untagged");
    }
    auto r = run(ref);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    r = run(mine);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    lastOutput = r.out;
    return {filesUnder(theirs), filesUnder(ours)};
  }

  TempDir work;
  fs::path store = work / "store";
  Blob shared, onlyV1, overwritten, deletedLayer, amdLayer, armLayer;
  Blob v1, oldLatest, newLatest, deleted, amd, arm, index;
  std::string lastOutput;
};

TEST_F(GcMatchesReferenceTest, KeepsWhatTheReferenceKeeps) {
  auto [theirs, ours] = collectBoth(false);
  EXPECT_EQ(withoutDanglingLayerLinks(theirs), ours) << lastOutput;
  // The deleted manifest and its only layer went in both; everything else stayed.
  for (const Blob& gone : {deleted, deletedLayer}) {
    EXPECT_FALSE(theirs.count(blobFile(gone)));
    EXPECT_FALSE(ours.count(blobFile(gone)));
  }
  for (const Blob& kept : {shared, onlyV1, overwritten, oldLatest, amdLayer, armLayer, index}) {
    EXPECT_TRUE(ours.count(blobFile(kept))) << kept.digest;
  }
  // regfs removed the layer link the reference leaves dangling.
  EXPECT_TRUE(theirs.count(layerLinkFile("team/tools", deletedLayer)));
  EXPECT_FALSE(ours.count(layerLinkFile("team/tools", deletedLayer)));
  EXPECT_NE(lastOutput.find("removed blob " + deletedLayer.digest), std::string::npos)
      << lastOutput;
  EXPECT_NE(lastOutput.find("removed layer link team/tools -> " + deletedLayer.digest),
            std::string::npos)
      << lastOutput;
}

TEST_F(GcMatchesReferenceTest, DeleteUntaggedKeepsIndexChildrenWhereTheReferenceBreaksThem) {
  auto [theirs, ours] = collectBoth(true);
  std::set<std::string> reference = withoutDanglingLayerLinks(theirs);
  EXPECT_EQ(minus(reference, ours), std::set<std::string>{}) << lastOutput;
  // The overwritten tag's image went in both.
  for (const Blob& gone : {oldLatest, overwritten}) {
    EXPECT_FALSE(theirs.count(blobFile(gone)));
    EXPECT_FALSE(ours.count(blobFile(gone)));
  }
  EXPECT_FALSE(ours.count(revisionFile("team/app", oldLatest)));
  EXPECT_FALSE(theirs.count(revisionFile("team/multi", amd))) << "the reference drops children";
  EXPECT_FALSE(theirs.count(blobFile(armLayer)));
  // What regfs keeps beyond the reference is exactly the index's children: their revision
  // links, their own layers and configs, and the layer links to those.
  std::set<std::string> extra = minus(ours, reference);
  std::set<std::string> children = {revisionFile("team/multi", amd),
                                    revisionFile("team/multi", arm),
                                    blobFile(amdLayer),
                                    blobFile(armLayer),
                                    layerLinkFile("team/multi", amdLayer),
                                    layerLinkFile("team/multi", armLayer)};
  for (const std::string& f : children) EXPECT_TRUE(extra.count(f)) << f;
  for (const std::string& f : extra) {
    bool config =
        f.find("blobs/sha256/") != std::string::npos || f.find("/_layers/") != std::string::npos;
    EXPECT_TRUE(children.count(f) || config) << "unexpected extra file " << f;
  }
  EXPECT_EQ(extra.size(), children.size() + 4) << "plus both children's configs and their links";

  // The index still pulls, with every platform, from the store regfs collected; from the
  // reference's it does not.
  for (const auto& [root, pulls] :
       {std::pair{work / "ours", true}, std::pair{work / "theirs", false}}) {
    ReferenceRegistry registry(root);
    auto r = skopeoCopy("docker://" + registry.host() + "/team/multi:1.0",
                        "dir:" + (work / ("pulled-" + std::to_string(pulls))).string(), {"--all"});
    EXPECT_EQ(r.status == 0, pulls) << root << ": " << r.err;
  }
}

// Every path (directories too) with its content and mtime.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string rel = fs::relative(e.path(), root).string();
    auto mtime = std::to_string(fs::last_write_time(e.path()).time_since_epoch().count());
    out[rel] = e.is_regular_file() ? readFile(e.path()) + "@" + mtime : "dir@" + mtime;
  }
  return out;
}

TEST_F(GcMatchesReferenceTest, DryRunPrintsWhatWouldGoAndChangesNothing) {
  auto before = snapshot(store);
  for (const char* mode : {"", "--delete-untagged"}) {
    std::vector<std::string> argv = {(binDir() / "regfsctl").string(),
                                     "garbage-collect",
                                     store.string(),
                                     "--dry-run",
                                     "--grace",
                                     "0s"};
    if (*mode) argv.push_back(mode);
    auto r = run(argv);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("would remove blob " + deletedLayer.digest), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("would remove layer link team/tools -> " + deletedLayer.digest),
              std::string::npos)
        << r.out;
    bool untagged = *mode != 0;
    EXPECT_EQ(r.out.find("would remove manifest team/app@" + oldLatest.digest) != std::string::npos,
              untagged)
        << r.out;
    EXPECT_EQ(r.out.find("would remove blob " + overwritten.digest) != std::string::npos, untagged)
        << r.out;
    EXPECT_EQ(r.out.find(amd.digest), std::string::npos) << "index children are never untagged";
    EXPECT_EQ(snapshot(store), before) << "a dry run changes nothing";
  }
}

}  // namespace
}  // namespace regfs
