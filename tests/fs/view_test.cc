// The view model on stores written with common/ in temp dirs: the tree, stat data,
// inode numbers, shared blobs, indexes, artifacts, the tag/repository name rule and
// live rebuilds.

#include "fs/view.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <thread>

#include "common/layout.h"
#include "fs/manifest_parts.h"
#include "support/process.h"

namespace regfs::view {
namespace {

using testing::TempDir;

constexpr const char* kLayerType = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr const char* kConfigType = "application/vnd.oci.image.config.v1+json";
constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kIndexType = "application/vnd.oci.image.index.v1+json";

std::string descriptorJson(const std::string& mediaType, const Digest& d, size_t size) {
  return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + d.str() + "\",\"size\":" +
         std::to_string(size) + "}";
}

class ViewTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());

  Digest blob(Repository& repo, const std::string& bytes) {
    Digest d = store.putBlob(bytes);
    repo.linkLayer(d);
    return d;
  }

  // An image manifest with a config and the given layers, pushed into `repo`.
  Digest image(Repository& repo, const std::vector<std::string>& layers,
               const std::string& arch = "amd64") {
    std::string config = "{\"architecture\":\"" + arch + "\",\"os\":\"linux\"}";
    Digest c = blob(repo, config);
    std::string m = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kManifestType) +
                    "\",\"config\":" + descriptorJson(kConfigType, c, config.size()) + ",\"layers\":[";
    for (size_t i = 0; i < layers.size(); ++i) {
      Digest l = blob(repo, layers[i]);
      m += (i ? "," : "") + descriptorJson(kLayerType, l, layers[i].size());
    }
    m += "]}";
    return repo.putManifest(m);
  }

  Digest index(Repository& repo, const std::vector<std::pair<Digest, std::string>>& children) {
    std::string m = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kIndexType) + "\",\"manifests\":[";
    for (size_t i = 0; i < children.size(); ++i) {
      std::string d = descriptorJson(kManifestType, children[i].first, 1);
      d.pop_back();
      if (children[i].second.empty()) {  // no platform
        m += (i ? "," : "") + d + "}";
        continue;
      }
      m += (i ? "," : "") + d + ",\"platform\":{\"os\":\"linux\",\"architecture\":\"" +
           children[i].second + "\"}}";
    }
    m += "]}";
    return repo.putManifest(m);
  }

  Repository repo(const std::string& name) { return store.repository(RepoName::parse(name)); }

  timespec blobMtime(const Digest& d) { return store.statBlob(d)->mtime; }
};

std::string dirName(const Digest& d) { return manifestDirName(d); }

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
  EXPECT_EQ(names(snap->resolve(md)), (std::vector<std::string>{"config.json", "layers", "manifest.json"}));
  const Node* manifest = snap->resolve(md + "/manifest.json");
  ASSERT_TRUE(manifest);
  EXPECT_EQ(manifest->kind, NodeKind::kFile);
  EXPECT_EQ(manifest->digest, m);
  EXPECT_EQ(manifest->size, store.readBlob(m).size());
  EXPECT_EQ(manifest->mediaType, kManifestType);
  EXPECT_EQ(manifest->ino, fileIno(m));
  EXPECT_TRUE(sameTime(manifest->mtime, blobMtime(m)));

  Digest l0 = Digest::of("layer-one"), l1 = Digest::of("layer-two");
  EXPECT_EQ(names(snap->resolve(md + "/layers")),
            (std::vector<std::string>{"00-" + l0.hex() + ".tar.gz", "01-" + l1.hex() + ".tar.gz"}));
  const Node* layer = snap->resolve(md + "/layers/01-" + l1.hex() + ".tar.gz");
  ASSERT_TRUE(layer);
  EXPECT_EQ(layer->digest, l1);
  EXPECT_EQ(layer->mediaType, kLayerType);
  EXPECT_EQ(layer->nlink, 1u);
  const Node* config = snap->resolve(md + "/config.json");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->mediaType, kConfigType);

  // Directory link counts: 2 + subdirectories.
  EXPECT_EQ(snap->resolve("")->nlink, 3u);
  EXPECT_EQ(snap->resolve("library/app")->nlink, 3u);
  EXPECT_EQ(snap->resolve(md)->nlink, 3u);
  EXPECT_EQ(snap->resolve(md + "/layers")->nlink, 2u);
  EXPECT_EQ(snap->node(kRootIno), snap->resolve(""));
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
  const Node* n1 = snap->resolve("team/a/" + dirName(ma) + "/layers/00-" + shared.hex() + ".tar.gz");
  const Node* n2 = snap->resolve("team/b/" + dirName(mb) + "/layers/01-" + shared.hex() + ".tar.gz");
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
  std::string m = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kManifestType) +
                  "\",\"artifactType\":\"application/x-test\",\"layers\":[" +
                  descriptorJson("application/vnd.example.signature", sig, 15) + "," +
                  descriptorJson("application/spdx+json", sbom, 13) + "]}";
  Digest art = r.putManifest(m);
  Digest broken = r.putManifest("this is not json");
  // An old-style artifact manifest: "blobs" instead of layers, no config.
  Digest old = r.putManifest("{\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\",\"blobs\":[" +
                             descriptorJson("application/octet-stream", sig, 15) + "]}");
  View view(store);
  auto snap = view.refresh();
  EXPECT_EQ(names(snap->resolve("artifacts/" + dirName(art) + "/layers")),
            (std::vector<std::string>{"00-" + sig.hex() + ".bin", "01-" + sbom.hex() + ".json"}));
  snap = view.refresh();
  EXPECT_EQ(names(snap->resolve("artifacts/" + dirName(broken))), std::vector<std::string>{"manifest.json"});
  EXPECT_EQ(names(snap->resolve("artifacts/" + dirName(old) + "/layers")),
            std::vector<std::string>{"00-" + sig.hex() + ".bin"});
  EXPECT_EQ(snap->resolve("artifacts/" + dirName(art) + "/layers/00-" + sig.hex() + ".bin")->nlink, 2u);
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
            (std::vector<std::string>{dirName(m1), tagAliasName("c"), "c", "d"}));
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
    std::function<void(const Node&, const std::string&)> walk = [&](const Node& n, const std::string& p) {
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
  EXPECT_EQ(first.size(), 9u);  // root, library, alpine, tag, manifest dir, 2 files, layers, layer
  EXPECT_EQ(std::get<0>(first["/library"]), directoryIno("library"));
  EXPECT_EQ(std::get<0>(first["/library/alpine/3.19"]), symlinkIno("library/alpine/3.19", dirName(m)));
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
  EXPECT_NE(symlinkIno("a/t", "@sha256:1"), symlinkIno("a/t", "@sha256:2")) << "a moved tag is a new inode";
  EXPECT_NE(directoryIno("a/t"), symlinkIno("a/t", ""));
}

TEST_F(ViewTest, StatData) {
  Repository r = repo("r");
  std::string big(10000, 'x');
  Digest m = image(r, {big});
  View view(store);
  auto snap = view.refresh();
  const Node* f = snap->resolve("r/" + dirName(m) + "/layers/00-" + Digest::of(big).hex() + ".tar.gz");
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
  auto first = view.snapshot();
  ASSERT_TRUE(first->resolve("bg/" + dirName(m)));
  r.putTag(Tag::parse("now"), m);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!view.snapshot()->resolve("bg/now") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(view.snapshot()->resolve("bg/now"));
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
}

TEST_F(ViewTest, EmptyStore) {
  View view(store);
  auto snap = view.snapshot();
  ASSERT_TRUE(snap->node(kRootIno));
  EXPECT_TRUE(snap->node(kRootIno)->children.empty());
  EXPECT_EQ(snap->node(kRootIno)->nlink, 2u);
}

TEST(ManifestPartsTest, StrictWhereItCanLenientWhereItMust) {
  std::string docker = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
                       "\"config\":" + descriptorJson("application/vnd.docker.container.image.v1+json", Digest::of("c"), 1) +
                       ",\"layers\":[" + descriptorJson("application/vnd.docker.image.rootfs.diff.tar.gzip", Digest::of("l"), 1) + "]}";
  ManifestParts parts = describeManifest(docker);
  EXPECT_EQ(parts.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
  ASSERT_TRUE(parts.config);
  EXPECT_EQ(parts.config->digest, Digest::of("c"));
  ASSERT_EQ(parts.blobs.size(), 1u);
  EXPECT_EQ(parts.blobs[0].digest, Digest::of("l"));
  ManifestParts lenient = describeManifest("{\"layers\":[{\"digest\":\"" + Digest::of("x").str() + "\"}]}");
  ASSERT_EQ(lenient.blobs.size(), 1u);
  EXPECT_FALSE(lenient.config);
  ManifestParts none = describeManifest("[1,2]");
  EXPECT_TRUE(none.blobs.empty());
  EXPECT_TRUE(none.mediaType.empty());
}

TEST(ManifestPartsTest, DeepNestingDoesNotExhaustTheStack) {
  // Not a manifest, so the lenient reading parses it too: without recursion per level.
  std::string deep = "{\"layers\":" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  ManifestParts parts = describeManifest(deep);
  EXPECT_TRUE(parts.blobs.empty());
  EXPECT_TRUE(describeManifest(std::string(1'000'000, '[')).mediaType.empty());
}

}  // namespace
}  // namespace regfs::view
