// The view model on stores written with common/ in temp dirs: the tree, stat data,
// inode numbers, shared blobs, indexes, artifacts, the tag/repository name rule and
// live rebuilds.

#include "fs/view.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "common/manifest.h"
#include "common/store/layout.h"
#include "common/view/names.h"
#include "support/image.h"
#include "support/poll.h"
#include "support/process.h"
#include "support/store_builder.h"

namespace regfs::view {
namespace {

using testing::descriptor;
using testing::indexJson;
using testing::kOciConfigType;
using testing::kOciIndexType;
using testing::kOciLayerType;
using testing::kOciManifestType;
using testing::manifestJson;
using testing::TempDir;
using testing::waitUntil;
using testing::writeFile;

class ViewTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());

  Digest blob(Repository& repo, const std::string& bytes) {
    Digest d = store.putBlob(bytes);
    repo.linkLayer(d);
    return d;
  }

  // An image manifest with a config of `arch` and the given layers, pushed into `repo`.
  Digest image(Repository& repo, const std::vector<std::string>& layers,
               const std::string& arch = "amd64") {
    std::string config = "{\"architecture\":\"" + arch + "\",\"os\":\"linux\"}";
    return testing::pushImage(store, repo, layers, arch, std::nullopt, config).manifest;
  }

  Digest index(Repository& repo, const std::vector<std::pair<Digest, std::string>>& children) {
    std::vector<std::string> manifests;
    for (const auto& [digest, arch] : children) {  // arch empty: no platform
      std::string platform =
          arch.empty() ? "" : ",\"platform\":{\"os\":\"linux\",\"architecture\":\"" + arch + "\"}";
      manifests.push_back(descriptor(kOciManifestType, digest.str(), 1, platform));
    }
    return repo.putManifest(indexJson(manifests));
  }

  Repository repo(const std::string& name) { return store.repository(RepoName::parse(name)); }

  timespec blobMtime(const Digest& d) { return store.statBlob(d)->mtime; }
};

std::string dirName(const Digest& d) { return view_names::manifestDir(d); }

std::vector<std::string> names(const Node* dir) {
  std::vector<std::string> out;
  if (!dir) return out;
  for (const auto& [name, ino] : dir->children) out.push_back(name);
  return out;
}

bool sameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

TEST_F(ViewTest, ImageTree) {
  Repository app = repo("library/app");
  Digest m = image(app, {"layer-one", "layer-two"});
  app.putTag(Tag::parse("v1"), m);
  View view(store);
  auto snap = view.refresh();

  EXPECT_EQ(names(snap->resolve("")), std::vector<std::string>{"library"});
  EXPECT_EQ(names(snap->resolve("library/app")), (std::vector<std::string>{dirName(m), "v1"}));
  const Node* tag = snap->resolve("library/app/v1");
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->kind, NodeKind::kSymlink);
  EXPECT_EQ(tag->target, "@" + m.str());
  EXPECT_EQ(tag->size, tag->target.size());
  EXPECT_TRUE(sameTime(tag->mtime, app.statTag(Tag::parse("v1"))->mtime));

  std::string md = "library/app/" + dirName(m);
  EXPECT_EQ(names(snap->resolve(md)),
            (std::vector<std::string>{"config.json", "layer-contents", "layers", "manifest.json",
                                      "rootfs"}));
  const Node* manifest = snap->resolve(md + "/manifest.json");
  ASSERT_TRUE(manifest);
  EXPECT_EQ(manifest->kind, NodeKind::kFile);
  EXPECT_EQ(manifest->digest, m);
  EXPECT_EQ(manifest->size, store.readBlob(m).size());
  EXPECT_EQ(manifest->mediaType, kOciManifestType);
  EXPECT_EQ(manifest->ino, fileIno(m));
  EXPECT_TRUE(sameTime(manifest->mtime, blobMtime(m)));

  Digest l0 = Digest::of("layer-one"), l1 = Digest::of("layer-two");
  EXPECT_EQ(names(snap->resolve(md + "/layers")),
            (std::vector<std::string>{"00-" + l0.hex() + ".tar.gz", "01-" + l1.hex() + ".tar.gz"}));
  const Node* layer = snap->resolve(md + "/layers/01-" + l1.hex() + ".tar.gz");
  ASSERT_TRUE(layer);
  EXPECT_EQ(layer->digest, l1);
  EXPECT_EQ(layer->mediaType, kOciLayerType);
  EXPECT_EQ(layer->nlink, 1u);
  const Node* config = snap->resolve(md + "/config.json");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->mediaType, kOciConfigType);

  // Inside the image: directories that show what the layers hold (contents.h), read from them
  // only when someone looks in.
  const Node* rootfs = snap->resolve(md + "/rootfs");
  ASSERT_TRUE(rootfs);
  ASSERT_TRUE(rootfs->contents);
  EXPECT_EQ(*rootfs->contents, (ContentsRoot{{l0, l1}, true}));
  EXPECT_TRUE(rootfs->children.empty());
  EXPECT_EQ(names(snap->resolve(md + "/layer-contents")),
            (std::vector<std::string>{"00-" + l0.hex(), "01-" + l1.hex()}));
  const Node* second = snap->resolve(md + "/layer-contents/01-" + l1.hex());
  ASSERT_TRUE(second && second->contents);
  EXPECT_EQ(*second->contents, (ContentsRoot{{l1}, false}));

  // Directory link counts: 2 + subdirectories.
  EXPECT_EQ(snap->resolve("")->nlink, 3u);
  EXPECT_EQ(snap->resolve("library/app")->nlink, 3u);
  EXPECT_EQ(snap->resolve(md)->nlink, 5u);
  EXPECT_EQ(snap->resolve(md + "/layers")->nlink, 2u);
  EXPECT_EQ(snap->node(kRootIno), snap->resolve(""));
}

TEST_F(ViewTest, OnlyImagesShowTheirFilesAndOnlyWhenAsked) {
  Repository app = repo("library/app");
  Digest img = image(app, {"layer-one"});
  // An artifact: a config of its own type, a layer that is no tar.
  Digest chartConfig = store.putBlob("{}"), chart = store.putBlob("a chart");
  app.linkLayer(chartConfig);
  app.linkLayer(chart);
  Digest artifact = app.putManifest(manifestJson(
      descriptor("application/vnd.cncf.helm.config.v1+json", chartConfig.str(), 2),
      {descriptor("application/vnd.cncf.helm.chart.content.v1.tar+gzip", chart.str(), 7)}));
  Digest list = index(app, {{img, "amd64"}});
  std::string root = "library/app/";
  auto snap = View(store).refresh();
  EXPECT_TRUE(snap->resolve(root + dirName(img) + "/rootfs"));
  EXPECT_FALSE(snap->resolve(root + dirName(artifact) + "/rootfs"));
  EXPECT_FALSE(snap->resolve(root + dirName(artifact) + "/layer-contents"));
  EXPECT_FALSE(snap->resolve(root + dirName(list) + "/rootfs"));

  ViewOptions blobsOnly;
  blobsOnly.contents = false;  // regfs-mount -o nocontents
  auto plain = View(store, blobsOnly).refresh();
  EXPECT_TRUE(plain->resolve(root + dirName(img) + "/layers"));
  EXPECT_FALSE(plain->resolve(root + dirName(img) + "/rootfs"));
  EXPECT_FALSE(plain->resolve(root + dirName(img) + "/layer-contents"));
}

TEST_F(ViewTest, SharedBlobIsOneInodeWithOneLinkPerPlace) {
  Repository a = repo("team/a"), b = repo("team/b");
  Digest ma = image(a, {"shared", "only-a"});
  Digest mb = image(b, {"shared", "shared", "only-b"});  // listed twice: two places
  Digest mb2 = b.putManifest(a.getManifest(ma));         // same manifest in two repositories
  ASSERT_EQ(mb2, ma);
  View view(store);
  auto snap = view.refresh();
  Digest shared = Digest::of("shared");
  const Node* n1 =
      snap->resolve("team/a/" + dirName(ma) + "/layers/00-" + shared.hex() + ".tar.gz");
  const Node* n2 =
      snap->resolve("team/b/" + dirName(mb) + "/layers/01-" + shared.hex() + ".tar.gz");
  ASSERT_TRUE(n1 && n2);
  EXPECT_EQ(n1, n2);
  EXPECT_EQ(n1->ino, fileIno(shared));
  // team/a@ma, team/b@ma (same manifest), team/b@mb twice.
  EXPECT_EQ(n1->nlink, 4u);
  EXPECT_EQ(snap->resolve("team/a/" + dirName(ma) + "/manifest.json")->nlink, 2u);
  // The configs of ma and mb are identical too ("amd64"): four places.
  EXPECT_EQ(snap->resolve("team/a/" + dirName(ma) + "/config.json")->nlink, 3u);
}

TEST_F(ViewTest, IndexHasPlatformLinks) {
  Repository r = repo("multi");
  Digest amd = image(r, {"amd"}, "amd64");
  Digest arm = image(r, {"arm"}, "arm64");
  Digest idx = index(r, {{amd, "amd64"}, {arm, "arm64"}, {arm, ""}});
  r.putTag(Tag::parse("latest"), idx);
  View view(store);
  auto snap = view.refresh();
  std::string d = "multi/" + dirName(idx);
  EXPECT_EQ(names(snap->resolve(d)), (std::vector<std::string>{"manifest.json", "platforms"}));
  EXPECT_EQ(names(snap->resolve(d + "/platforms")),
            (std::vector<std::string>{"linux-amd64", "linux-arm64", "unknown"}));
  const Node* link = snap->resolve(d + "/platforms/linux-arm64");
  ASSERT_TRUE(link);
  EXPECT_EQ(link->kind, NodeKind::kSymlink);
  EXPECT_EQ(link->target, "../../" + dirName(arm));
  EXPECT_TRUE(sameTime(link->mtime, blobMtime(idx)));
  EXPECT_EQ(snap->resolve(d)->nlink, 3u);
}

TEST_F(ViewTest, ArtifactsShowEveryBlob) {
  Repository r = repo("artifacts");
  Digest sig = blob(r, "signature bytes");
  Digest sbom = blob(r, "{\"sbom\":true}");
  // No config at all, and layer media types the view does not know.
  std::string m = manifestJson("",
                               {descriptor("application/vnd.example.signature", sig.str(), 15),
                                descriptor("application/spdx+json", sbom.str(), 13)},
                               ",\"artifactType\":\"application/x-test\"");
  Digest art = r.putManifest(m);
  Digest broken = r.putManifest("this is not json");
  // An old-style artifact manifest: "blobs" instead of layers, no config.
  Digest old =
      r.putManifest("{\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\",\"blobs\":[" +
                    descriptor("application/octet-stream", sig.str(), 15) + "]}");
  View view(store);
  auto snap = view.refresh();
  EXPECT_EQ(names(snap->resolve("artifacts/" + dirName(art) + "/layers")),
            (std::vector<std::string>{"00-" + sig.hex() + ".bin", "01-" + sbom.hex() + ".json"}));
  snap = view.refresh();
  EXPECT_EQ(names(snap->resolve("artifacts/" + dirName(broken))),
            std::vector<std::string>{"manifest.json"});
  EXPECT_EQ(names(snap->resolve("artifacts/" + dirName(old) + "/layers")),
            std::vector<std::string>{"00-" + sig.hex() + ".bin"});
  EXPECT_EQ(snap->resolve("artifacts/" + dirName(art) + "/layers/00-" + sig.hex() + ".bin")->nlink,
            2u);
  EXPECT_EQ(snap->resolve("artifacts/" + dirName(broken) + "/manifest.json")->digest, broken);
}

TEST_F(ViewTest, TagAndNestedRepositoryShareAName) {
  // "a/b" has a tag "c" and there is a repository "a/b/c": the directory wins and the
  // tag stays reachable as "a/b/@tag:c".
  Repository ab = repo("a/b"), abc = repo("a/b/c");
  Digest m1 = image(ab, {"ab"});
  Digest m2 = image(abc, {"abc"});
  ab.putTag(Tag::parse("c"), m1);
  ab.putTag(Tag::parse("d"), m1);
  abc.putTag(Tag::parse("c"), m2);
  View view(store);
  auto snap = view.refresh();
  EXPECT_EQ(names(snap->resolve("a/b")),
            (std::vector<std::string>{dirName(m1), view_names::tagAlias("c"), "c", "d"}));
  EXPECT_EQ(snap->resolve("a/b/c")->kind, NodeKind::kDirectory);
  const Node* alias = snap->resolve("a/b/@tag:c");
  ASSERT_TRUE(alias);
  EXPECT_EQ(alias->kind, NodeKind::kSymlink);
  EXPECT_EQ(alias->target, dirName(m1));
  EXPECT_EQ(snap->resolve("a/b/d")->kind, NodeKind::kSymlink) << "unshadowed tags keep their name";
  EXPECT_EQ(snap->resolve("a/b/c/c")->target, dirName(m2));

  // A namespace directory (not a repository itself) shadows a tag the same way.
  Repository x = repo("x"), xyz = repo("x/y/z");
  Digest m3 = image(x, {"x"});
  x.putTag(Tag::parse("y"), m3);
  image(xyz, {"xyz"});
  snap = view.refresh();
  EXPECT_EQ(snap->resolve("x/y")->kind, NodeKind::kDirectory);
  EXPECT_EQ(snap->resolve("x/@tag:y")->target, dirName(m3));
}

TEST_F(ViewTest, InodeNumbersAndTimesAreStableAcrossViews) {
  Repository r = repo("library/alpine");
  Digest m = image(r, {"alpine"});
  r.putTag(Tag::parse("3.19"), m);
  auto collect = [&](const Snapshot& s) {
    std::map<std::string, std::tuple<uint64_t, uint32_t, int64_t, int64_t>> out;
    std::function<void(const Node&, const std::string&)> walk = [&](const Node& n,
                                                                    const std::string& p) {
      out[p] = {n.ino, n.nlink, n.mtime.tv_sec, n.mtime.tv_nsec};
      for (const auto& [name, ino] : n.children) walk(*s.node(ino), p + "/" + name);
    };
    walk(*s.node(kRootIno), "");
    return out;
  };
  auto first = collect(*View(store).refresh());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto second = collect(*View(Store::openLocal(dir.path())).refresh());
  EXPECT_EQ(first, second);
  // root, library, alpine, tag, manifest dir, 2 files, layers, layer, rootfs, layer-contents and
  // its one layer
  EXPECT_EQ(first.size(), 12u);
  EXPECT_EQ(std::get<0>(first["/library"]), directoryIno("library"));
  EXPECT_EQ(std::get<0>(first["/library/alpine/3.19"]),
            symlinkIno("library/alpine/3.19", dirName(m)));
  // Directories carry the newest mtime below them; the repository's is the tag's here.
  auto tagTime = r.statTag(Tag::parse("3.19"))->mtime;
  EXPECT_EQ(std::get<2>(first["/library/alpine"]), tagTime.tv_sec);
  EXPECT_EQ(std::get<3>(first["/library/alpine"]), tagTime.tv_nsec);
  EXPECT_EQ(std::get<2>(first[""]), tagTime.tv_sec);
}

TEST_F(ViewTest, InodeClassesDoNotCollide) {
  Digest d = Digest::of("x");
  EXPECT_NE(fileIno(d) & (uint64_t{1} << 62), 0u);
  EXPECT_EQ(fileIno(d) >> 63, 0u);
  EXPECT_EQ(directoryIno("a") & (uint64_t{3} << 62), 0u);
  EXPECT_EQ(symlinkIno("a", "t") & (uint64_t{3} << 62), 0u);
  EXPECT_GE(directoryIno("a"), 2u);
  EXPECT_EQ(directoryIno(""), kRootIno);
  EXPECT_NE(symlinkIno("a/t", "@sha256:1"), symlinkIno("a/t", "@sha256:2"))
      << "a moved tag is a new inode";
  EXPECT_NE(directoryIno("a/t"), symlinkIno("a/t", ""));
}

TEST_F(ViewTest, StatData) {
  Repository r = repo("r");
  std::string big(10000, 'x');
  Digest m = image(r, {big});
  View view(store);
  auto snap = view.refresh();
  const Node* f =
      snap->resolve("r/" + dirName(m) + "/layers/00-" + Digest::of(big).hex() + ".tar.gz");
  ASSERT_TRUE(f);
  struct stat st = statOf(*f, 1000, 1001);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(st.st_size, 10000);
  EXPECT_EQ(st.st_blocks, 24);  // three 4 KiB blocks
  EXPECT_GT(st.st_blksize, 0);
  EXPECT_EQ(st.st_ino, f->ino);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_nlink, 1u);
  struct stat ds = statOf(*snap->resolve("r"), 0, 0);
  EXPECT_TRUE(S_ISDIR(ds.st_mode));
  EXPECT_EQ(ds.st_nlink, 3u);
}

TEST_F(ViewTest, RebuildsShowPushesMovesAndDeletes) {
  Repository r = repo("live");
  Digest m1 = image(r, {"one"});
  r.putTag(Tag::parse("latest"), m1);
  View view(store, ViewOptions{std::chrono::milliseconds(0)});
  auto before = view.snapshot();
  EXPECT_EQ(before->resolve("live/latest")->target, dirName(m1));

  Digest m2 = image(r, {"two"});
  r.putTag(Tag::parse("latest"), m2);
  r.putTag(Tag::parse("new"), m2);
  auto after = view.snapshot();
  EXPECT_EQ(after->resolve("live/latest")->target, dirName(m2));
  EXPECT_TRUE(after->resolve("live/new"));
  EXPECT_EQ(before->resolve("live/latest")->target, dirName(m1)) << "old snapshots stay intact";

  r.deleteManifest(m2);
  auto deleted = view.snapshot();
  EXPECT_FALSE(deleted->resolve("live/" + dirName(m2)));
  EXPECT_FALSE(deleted->resolve("live/new"));
  EXPECT_FALSE(deleted->resolve("live/latest"));
  EXPECT_TRUE(deleted->resolve("live/" + dirName(m1)));

  // With a long max age, the snapshot is reused until refreshed.
  View slow(store, ViewOptions{std::chrono::hours(1)});
  auto s1 = slow.snapshot();
  r.putTag(Tag::parse("later"), m1);
  EXPECT_EQ(slow.snapshot(), s1);
  EXPECT_TRUE(slow.refresh()->resolve("live/later"));
}

TEST_F(ViewTest, BackgroundRebuildsNeverMakeAnAccessWait) {
  Repository r = repo("bg");
  Digest m = image(r, {"bg"});
  View view(store, ViewOptions{std::chrono::milliseconds(0), /*background=*/true});
  view.startBackground();
  auto first = view.snapshot();
  ASSERT_TRUE(first->resolve("bg/" + dirName(m)));
  r.putTag(Tag::parse("now"), m);
  waitUntil([&] { return view.snapshot()->resolve("bg/now") != nullptr; }, std::chrono::seconds(2),
            std::chrono::milliseconds(5));
  EXPECT_TRUE(view.snapshot()->resolve("bg/now"));
}

TEST_F(ViewTest, RebuildReusesWhatDidNotChange) {
  Repository a = repo("inc/a"), b = repo("inc/b");
  Digest ma = image(a, {"a-layer", "shared"});
  a.putTag(Tag::parse("latest"), ma);
  Digest mb = image(b, {"b-layer", "shared"});
  b.putTag(Tag::parse("latest"), mb);
  const Digest shared = Digest::of("shared");
  const std::string aDir = "inc/a/" + dirName(ma), bDir = "inc/b/" + dirName(mb);
  View view(store);
  auto s1 = view.refresh();
  auto s2 = view.refresh();
  EXPECT_EQ(s2, s1) << "nothing changed: the same snapshot";
  for (const std::string& path : {aDir, aDir + "/layers", bDir, bDir + "/config.json"}) {
    ASSERT_TRUE(s1->resolve(path)) << path;
    EXPECT_TRUE(s2->shares(*s1, s1->resolve(path)->ino)) << path << " was built again";
  }
  EXPECT_TRUE(s2->shares(*s1, fileIno(shared)));

  // A push into b: b shows it, a's nodes are the same objects, the shared layer counts 3.
  Digest mb2 = image(b, {"b-two", "shared"});
  b.putTag(Tag::parse("v2"), mb2);
  auto s3 = view.refresh();
  EXPECT_TRUE(s3->shares(*s2, s2->resolve(aDir)->ino));
  EXPECT_TRUE(s3->shares(*s2, s2->resolve(aDir + "/layers")->ino));
  EXPECT_TRUE(s3->shares(*s2, fileIno(ma)));
  ASSERT_TRUE(s3->resolve("inc/b/v2"));
  EXPECT_EQ(s3->resolve("inc/b/v2")->target, dirName(mb2));
  EXPECT_TRUE(s3->resolve("inc/b/" + dirName(mb2) + "/layers"));
  EXPECT_EQ(s3->node(fileIno(shared))->nlink, 3u);
  EXPECT_EQ(s2->node(fileIno(shared))->nlink, 2u) << "old snapshots stay intact";

  // A delete in b: its directory, its tag and one place of the shared layer go.
  b.deleteManifest(mb);
  auto s4 = view.refresh();
  EXPECT_FALSE(s4->resolve(bDir));
  EXPECT_FALSE(s4->node(s3->resolve(bDir)->ino));
  EXPECT_FALSE(s4->node(fileIno(Digest::of("b-layer")))) << "a blob shown nowhere has no node";
  EXPECT_FALSE(s4->resolve("inc/b/latest"));
  EXPECT_EQ(s4->node(fileIno(shared))->nlink, 2u);
  EXPECT_TRUE(s4->shares(*s3, s3->resolve(aDir)->ino));

  // distribution deletes only the revision's link file; a whole repository can go too.
  std::filesystem::remove(dir.path() / layout::revisionLink(b.name(), mb2).substr(1));
  std::filesystem::remove_all(dir.path() / layout::repositoryDir(a.name()).substr(1));
  auto s5 = view.refresh();
  EXPECT_FALSE(s5->resolve("inc/b/" + dirName(mb2)));
  EXPECT_FALSE(s5->resolve("inc/a"));
  EXPECT_FALSE(s5->node(fileIno(shared)));
  EXPECT_EQ(names(s5->resolve("inc")), std::vector<std::string>{"b"});
}

TEST_F(ViewTest, StableNodesAndWhatChangedBetweenSnapshots) {
  Repository a = repo("chg/a"), b = repo("chg/b");
  Digest ma = image(a, {"a-layer", "shared"});
  a.putTag(Tag::parse("latest"), ma);
  Digest child = image(b, {"b-layer"});
  Digest idx = index(b, {{child, "arm64"}});
  const std::string aDir = "chg/a/" + dirName(ma), bDir = "chg/b/" + dirName(idx);
  View view(store);
  auto s1 = view.refresh();
  // Below a manifest directory (itself included) everything is stable; above, nothing.
  for (const std::string& path : {aDir, aDir + "/layers", aDir + "/manifest.json",
                                  aDir + "/layers/01-" + Digest::of("shared").hex() + ".tar.gz",
                                  bDir + "/platforms", bDir + "/platforms/linux-arm64"}) {
    ASSERT_TRUE(s1->resolve(path)) << path;
    EXPECT_TRUE(s1->resolve(path)->stable) << path;
  }
  for (std::string_view path : {"", "chg", "chg/a", "chg/a/latest"}) {
    EXPECT_FALSE(s1->resolve(path)->stable) << path;
  }
  EXPECT_TRUE(view.refresh()->changedSince(*s1).empty()) << "nothing changed";

  // A second place for the shared layer: its st_nlink changed, and the directories that
  // list something new or got a newer mtime from it; a's directories did not change.
  Digest mb = image(b, {"shared"}, "s390x");
  auto s2 = view.refresh();
  auto changed = s2->changedSince(*s1);
  std::set<uint64_t> got(changed.begin(), changed.end());
  EXPECT_TRUE(got.contains(fileIno(Digest::of("shared"))));
  EXPECT_TRUE(got.contains(directoryIno("chg/b")));
  // "chg" and the root too when the new blobs' mtimes are newer (timestamps are coarse).
  got.erase(directoryIno("chg"));
  got.erase(kRootIno);
  EXPECT_EQ(got.size(), 2u);
  ASSERT_TRUE(s2->resolve("chg/b/" + dirName(mb)));
  EXPECT_FALSE(got.contains(s2->resolve("chg/b/" + dirName(mb))->ino)) << "new, not changed";

  // A tag that moves is a new symlink; the directory listing it changed.
  a.putTag(Tag::parse("latest"), a.putManifest(store.readBlob(ma) + " "));
  auto s3 = view.refresh();
  changed = s3->changedSince(*s2);
  EXPECT_NE(std::find(changed.begin(), changed.end(), directoryIno("chg/a")), changed.end());
  EXPECT_EQ(std::find(changed.begin(), changed.end(), s2->resolve("chg/a/latest")->ino),
            changed.end());
}

TEST_F(ViewTest, TagMovesShowEvenWithinOneTimestamp) {
  Repository r = repo("moves");
  Digest m1 = image(r, {"one"}), m2 = image(r, {"two"});
  Tag tag = Tag::parse("t");
  r.putTag(tag, m1);
  // A link whose mtime is not yet in the past could be rewritten without its mtime
  // changing (timestamps are coarse); such a link is read again on every rebuild.
  auto link = dir.path() / layout::tagCurrentLink(r.name(), tag).substr(1);
  timespec future[2];
  ::clock_gettime(CLOCK_REALTIME, &future[0]);
  future[0].tv_sec += 3600;
  future[1] = future[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, link.c_str(), future, 0), 0);
  View view(store);
  EXPECT_EQ(view.refresh()->resolve("moves/t")->target, dirName(m1));
  writeFile(link, m2.str());
  ASSERT_EQ(::utimensat(AT_FDCWD, link.c_str(), future, 0), 0);
  EXPECT_EQ(view.refresh()->resolve("moves/t")->target, dirName(m2));

  // A settled link that is replaced gets a new mtime: an old one from a backup shows too.
  timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, link.c_str(), past, 0), 0);
  auto settled = view.refresh();
  EXPECT_EQ(settled->resolve("moves/t")->target, dirName(m2));
  EXPECT_EQ(settled->resolve("moves/t")->mtime.tv_sec, 1000000000);
  writeFile(link, m1.str());
  timespec older[2] = {{900000000, 0}, {900000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, link.c_str(), older, 0), 0);
  EXPECT_EQ(view.refresh()->resolve("moves/t")->target, dirName(m1));
}

TEST_F(ViewTest, BackgroundPollingHearsOfChangesWithoutAnAccess) {
  Repository r = repo("poll");
  Digest m = image(r, {"p"});
  r.putTag(Tag::parse("one"), m);
  std::mutex mutex;
  std::condition_variable heard;
  bool seen = false;
  ViewOptions options;
  options.maxAge = std::chrono::milliseconds(10);
  options.background = true;
  options.pollAfterAccess = std::chrono::minutes(1);
  View view(store, options);
  view.startBackground();
  view.onRebuild([&](const Snapshot& before, const Snapshot& after) {
    EXPECT_NE(&before, &after);
    if (!after.resolve("poll/two")) return;
    std::lock_guard lock(mutex);
    seen = true;
    heard.notify_all();
  });
  ASSERT_TRUE(view.snapshot()->resolve("poll/one"));  // the only access
  r.putTag(Tag::parse("two"), m);
  std::unique_lock lock(mutex);
  EXPECT_TRUE(heard.wait_for(lock, std::chrono::seconds(20), [&] { return seen; }))
      << "a rebuild after the last access saw the new tag";
  lock.unlock();
  view.onRebuild(nullptr);
}

// The first access after an idle spell (no access asked for a rebuild, none polling) waits
// for a snapshot whose walk started within the promise: a change made a promise ago shows.
TEST_F(ViewTest, AnAccessAfterAnIdleSpellSeesWhatChangedAPromiseAgo) {
  Repository r = repo("idle");
  Digest m = image(r, {"i"});
  ViewOptions options;
  options.maxAge = std::chrono::milliseconds(10);
  options.background = true;
  options.visibleWithin = std::chrono::milliseconds(50);
  View view(store, options);
  view.startBackground();
  ASSERT_FALSE(view.snapshot()->resolve("idle/later"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  r.putTag(Tag::parse("later"), m);
  std::this_thread::sleep_for(options.visibleWithin);
  EXPECT_TRUE(view.snapshot()->resolve("idle/later")) << "at the first look";
}

// An access that must not be answered from what a cache held before its snapshot waits for
// the listener's call for that snapshot, and no longer than it said.
TEST_F(ViewTest, AwaitListenerWaitsForTheCallOfItsSnapshotWithinItsBound) {
  Repository r = repo("told");
  Digest m = image(r, {"t"});
  ViewOptions options;
  options.maxAge = std::chrono::milliseconds(0);
  options.background = true;
  options.visibleWithin = std::chrono::milliseconds(0);
  View view(store, options);
  auto first = view.snapshot();
  EXPECT_TRUE(view.awaitListener(*first, std::chrono::milliseconds(0))) << "nothing to tell";
  std::mutex mutex;
  std::condition_variable opened;
  bool open = false;
  view.onRebuild([&](const Snapshot&, const Snapshot&) {
    std::unique_lock lock(mutex);
    opened.wait(lock, [&] { return open; });
  });
  view.startBackground();
  r.putTag(Tag::parse("new"), m);
  auto fresh = view.snapshot();  // published while the listener is held up
  ASSERT_TRUE(fresh->resolve("told/new"));
  EXPECT_FALSE(view.awaitListener(*fresh, std::chrono::milliseconds(50)));
  {
    std::lock_guard lock(mutex);
    open = true;
    opened.notify_all();
  }
  EXPECT_TRUE(view.awaitListener(*fresh, std::chrono::seconds(20)));
  view.onRebuild(nullptr);
}

// regfs-mount builds the first snapshot, then forks into the background: a thread running
// then would hold its locks in the child for good (the mount hung at its first access).
TEST_F(ViewTest, ABackgroundViewStartsNoThreadBeforeItIsTold) {
  auto threads = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                         std::filesystem::directory_iterator());
  };
  Repository r = repo("fork");
  r.putTag(Tag::parse("one"), image(r, {"f"}));
  ViewOptions options;
  options.maxAge = std::chrono::milliseconds(0);
  options.background = true;
  options.pollAfterAccess = std::chrono::minutes(1);
  auto before = threads();
  View view(store, options);
  ASSERT_TRUE(view.snapshot()->resolve("fork/one"));
  ASSERT_TRUE(view.snapshot()->resolve("fork/one")) << "rebuilt by the caller meanwhile";
  EXPECT_EQ(threads(), before);
  view.startBackground();
  EXPECT_EQ(threads(), before + 1);
}

TEST_F(ViewTest, MissingBlobsAreLeftOut) {
  Repository r = repo("gaps");
  Digest m = image(r, {"present", "missing"});
  store.deleteBlob(Digest::of("missing"));
  Digest gone = r.putManifest("{\"schemaVersion\":2}");
  store.deleteBlob(gone);
  View view(store);
  auto snap = view.refresh();
  EXPECT_EQ(names(snap->resolve("gaps/" + dirName(m) + "/layers")),
            std::vector<std::string>{"00-" + Digest::of("present").hex() + ".tar.gz"});
  EXPECT_FALSE(snap->resolve("gaps/" + dirName(gone)));
  EXPECT_EQ(view.refresh(), snap) << "still missing: nothing changed";
  // A missing blob that arrives shows on the next rebuild.
  store.putBlob("missing");
  auto later = view.refresh();
  EXPECT_EQ(names(later->resolve("gaps/" + dirName(m) + "/layers")),
            (std::vector<std::string>{"00-" + Digest::of("present").hex() + ".tar.gz",
                                      "01-" + Digest::of("missing").hex() + ".tar.gz"}));
  EXPECT_FALSE(later->changedSince(*snap).empty()) << "the layers directory lists more";
}

TEST_F(ViewTest, EmptyStore) {
  View view(store);
  auto snap = view.snapshot();
  ASSERT_TRUE(snap->node(kRootIno));
  EXPECT_TRUE(snap->node(kRootIno)->children.empty());
  EXPECT_EQ(snap->node(kRootIno)->nlink, 2u);
}

}  // namespace
}  // namespace regfs::view
