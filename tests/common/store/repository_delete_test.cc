#include "common/store/repository_delete.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/error.h"
#include "common/manifest.h"
#include "common/store/layout.h"
#include "common/store/lease.h"
#include "support/error_kind.h"
#include "support/process.h"
#include "support/store_builder.h"

namespace regfs {
namespace {

using testing::kindOf;
using testing::pushImage;
using testing::TempDir;

class RepositoryDeleteTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());

  std::filesystem::path file(const std::string& driverPath) const {
    return dir.path().string() + driverPath;
  }

  // Every tag of `repo` names a revision whose config and layers are linked and stored.
  static void expectWhole(Store& store, const Repository& repo) {
    for (const Tag& tag : repo.listTags()) {
      auto manifest = repo.resolveTag(tag);
      ASSERT_TRUE(manifest);
      ASSERT_TRUE(repo.hasManifest(*manifest)) << tag.str() << " names a removed revision";
      Manifest m = parseStoredManifest(store.readBlob(*manifest));
      for (const Descriptor& d : m.blobReferences()) {
        EXPECT_TRUE(repo.hasLayer(d.digest)) << tag.str() << ": " << d.digest.str() << " unlinked";
        EXPECT_TRUE(store.statBlob(d.digest)) << tag.str() << ": " << d.digest.str() << " missing";
      }
    }
  }
};

TEST_F(RepositoryDeleteTest, RemovesTagsRevisionsLinksReferrersAndUploadsButNotBlobs) {
  Repository repo = store.repository(RepoName::parse("team/app"));
  auto image = pushImage(store, repo, {"layer one", "layer two"});
  repo.putTag(Tag::parse("1.0"), image.manifest);
  auto signature = pushImage(store, repo, {"signature"}, "amd64", image);
  repo.addReferrer(image.manifest, signature.manifest);
  std::string upload = repo.startUpload();
  Repository other = store.repository(RepoName::parse("team/other"));
  auto kept = pushImage(store, other, {"layer one"});
  other.putTag(Tag::parse("latest"), kept.manifest);

  RepositoryContents gone = deleteRepository(store, repo.name());

  EXPECT_EQ(gone.tags, std::vector<Tag>{Tag::parse("1.0")});
  EXPECT_EQ(gone.revisions.size(), 2u);
  EXPECT_EQ(gone.layers.size(), 5u);  // two layers, a config; a signature layer, its config
  ASSERT_EQ(gone.referrers.size(), 1u);
  EXPECT_EQ(gone.referrers[0], std::make_pair(image.manifest, signature.manifest));
  ASSERT_EQ(gone.uploads.size(), 1u);
  EXPECT_EQ(gone.uploads[0].uuid, upload);
  EXPECT_FALSE(repo.exists());
  EXPECT_FALSE(std::filesystem::exists(file(layout::repositoryDir(repo.name()))));
  EXPECT_FALSE(std::filesystem::exists(file(layout::repositoryDeleteFence(repo.name()))));
  EXPECT_EQ(store.catalog(10), std::vector<std::string>{"team/other"});
  // Blobs wait for garbage collection; the other repository is whole.
  EXPECT_TRUE(store.statBlob(image.manifest));
  for (const Digest& d : image.layers) EXPECT_TRUE(store.statBlob(d));
  expectWhole(store, other);
  EXPECT_EQ(other.listTags().size(), 1u);
}

TEST_F(RepositoryDeleteTest, NestedRepositoriesAreNotTouched) {
  Repository parent = store.repository(RepoName::parse("a"));
  Repository child = store.repository(RepoName::parse("a/b"));
  parent.putTag(Tag::parse("p"), pushImage(store, parent, {"parent"}).manifest);
  child.putTag(Tag::parse("c"), pushImage(store, child, {"child"}).manifest);
  child.startUpload();

  deleteRepository(store, parent.name());

  EXPECT_FALSE(parent.exists());
  EXPECT_TRUE(child.exists());
  EXPECT_EQ(child.listTags(), std::vector<Tag>{Tag::parse("c")});
  EXPECT_EQ(child.listUploads().size(), 1u);
  expectWhole(store, child);
  EXPECT_EQ(store.catalog(10), std::vector<std::string>{"a/b"});
  EXPECT_TRUE(std::filesystem::is_directory(file(layout::repositoryDir(parent.name()))));

  // Deleting the nested one then leaves no directory of either behind.
  deleteRepository(store, child.name());
  EXPECT_TRUE(store.catalog(10).empty());
  EXPECT_FALSE(std::filesystem::exists(file(layout::repositoryDir(parent.name()))));
  EXPECT_TRUE(std::filesystem::is_directory(file(layout::repositoriesRoot())));
}

TEST_F(RepositoryDeleteTest, DeletingTheNestedOneLeavesItsParent) {
  Repository parent = store.repository(RepoName::parse("a"));
  Repository child = store.repository(RepoName::parse("a/b"));
  parent.putTag(Tag::parse("p"), pushImage(store, parent, {"parent"}).manifest);
  child.putTag(Tag::parse("c"), pushImage(store, child, {"child"}).manifest);
  deleteRepository(store, child.name());
  EXPECT_EQ(store.catalog(10), std::vector<std::string>{"a"});
  expectWhole(store, parent);
  EXPECT_EQ(parent.listTags(), std::vector<Tag>{Tag::parse("p")});
}

TEST_F(RepositoryDeleteTest, AnUnknownRepositoryIsNameUnknown) {
  EXPECT_EQ(kindOf([&] { deleteRepository(store, RepoName::parse("nope")); }),
            ErrorKind::kNameUnknown);
  // Layer links alone make no repository (distribution's rule: it has _manifests).
  Repository links = store.repository(RepoName::parse("links/only"));
  links.linkLayer(store.putBlob("x"));
  EXPECT_EQ(kindOf([&] { deleteRepository(store, links.name()); }), ErrorKind::kNameUnknown);
}

TEST_F(RepositoryDeleteTest, ADryRunListsAndChangesNothing) {
  Repository repo = store.repository(RepoName::parse("dry"));
  repo.putTag(Tag::parse("t"), pushImage(store, repo, {"l"}).manifest);
  RepositoryDeleteOptions options;
  options.dryRun = true;
  RepositoryContents would = deleteRepository(store, repo.name(), options);
  EXPECT_EQ(would.tags.size(), 1u);
  EXPECT_EQ(would.revisions.size(), 1u);
  EXPECT_EQ(would.layers.size(), 2u);
  EXPECT_TRUE(repo.exists());
  EXPECT_EQ(repo.listTags().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(file(layout::repositoryDeleteFence(repo.name()))));
}

TEST_F(RepositoryDeleteTest, OneDeleteAtATimeAndADeadDeletersFenceExpires) {
  Repository repo = store.repository(RepoName::parse("fenced"));
  repo.putTag(Tag::parse("t"), pushImage(store, repo, {"l"}).manifest);
  Lease fence(store.driverPtr(), layout::repositoryDeleteFence(repo.name()), "other-host/42");
  auto now = std::chrono::system_clock::now();
  ASSERT_TRUE(fence.claim(now, std::chrono::minutes(5)));
  std::string message = testing::errorMessage(ErrorKind::kTooManyRequests,
                                              [&] { deleteRepository(store, repo.name()); });
  EXPECT_NE(message.find("other-host/42"), std::string::npos) << message;
  EXPECT_EQ(repo.listTags().size(), 1u);

  // A deleter that died: its fence expired, and the next delete takes it over.
  fence.write(LeaseRecord{"other-host/42", "dead", now - std::chrono::seconds(1)});
  deleteRepository(store, repo.name());
  EXPECT_FALSE(repo.exists());
}

TEST_F(RepositoryDeleteTest, APushConfirmationWritesBackWhatADeleteRemoved) {
  Repository repo = store.repository(RepoName::parse("confirm"));
  auto image = pushImage(store, repo, {"l1", "l2"});
  Tag tag = Tag::parse("v1");
  repo.putTag(tag, image.manifest);
  // What a delete that ran between the push's writes and its confirmation left.
  store.driver().remove(layout::repositoryLayersDir(repo.name()));
  store.driver().remove(layout::manifestsDir(repo.name()));
  PushedManifest pushed{image.manifest, image.bytes, tag, image.layers, {}, {}};
  pushed.blobs.push_back(image.config);
  confirmManifestPush(store, repo, pushed);
  EXPECT_EQ(repo.resolveTag(tag), image.manifest);
  expectWhole(store, repo);
}

TEST_F(RepositoryDeleteTest, APushWhoseChildIsGoneTakesItsTagBackAndFails) {
  Repository repo = store.repository(RepoName::parse("index"));
  auto child = pushImage(store, repo, {"c"});
  Digest index = testing::pushIndex(repo, {child});
  Tag tag = Tag::parse("multi");
  repo.putTag(tag, index);
  store.driver().remove(parentPath(layout::revisionLink(repo.name(), child.manifest)));
  std::string bytes = store.readBlob(index);
  PushedManifest pushed{index, bytes, tag, {}, {child.manifest}, {}};
  EXPECT_EQ(kindOf([&] { confirmManifestPush(store, repo, pushed); }),
            ErrorKind::kManifestBlobUnknown);
  EXPECT_FALSE(repo.resolveTag(tag));
}

TEST_F(RepositoryDeleteTest, APushConfirmationWaitsWhileAFenceStands) {
  Repository repo = store.repository(RepoName::parse("waits"));
  auto image = pushImage(store, repo, {"l"});
  Tag tag = Tag::parse("t");
  repo.putTag(tag, image.manifest);
  Lease fence(store.driverPtr(), layout::repositoryDeleteFence(repo.name()), "deleter");
  auto claim = fence.claim(std::chrono::system_clock::now(), std::chrono::minutes(5));
  ASSERT_TRUE(claim);
  std::atomic<bool> confirmed{false};
  std::thread pusher([&] {
    PushedManifest pushed{image.manifest, image.bytes, tag, image.layers, {}, {}};
    pushed.blobs.push_back(image.config);
    confirmManifestPush(store, repo, pushed);
    confirmed = true;
  });
  // The delete's removals, then its end: the push then writes itself again, whole.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(confirmed) << "a push confirmed itself while a delete's fence stood";
  store.driver().remove(layout::repositoryLayersDir(repo.name()));
  store.driver().remove(layout::manifestsDir(repo.name()));
  fence.release(*claim);
  pusher.join();
  EXPECT_TRUE(confirmed);
  EXPECT_EQ(repo.resolveTag(tag), image.manifest);
  expectWhole(store, repo);
}

// Pushers that write and confirm as the manifest PUT does, while the repository is deleted
// again and again: every tag that is left names a whole image.
TEST_F(RepositoryDeleteTest, PushesRacingDeletesLeaveOnlyWholeImages) {
  RepoName name = RepoName::parse("race/target");
  std::atomic<bool> stop{false};
  std::atomic<int> pushed{0};
  std::vector<std::thread> pushers;
  for (int p = 0; p < 2; ++p) {
    pushers.emplace_back([&, p] {
      Repository repo = store.repository(name);
      for (int i = 0; !stop; ++i) {
        std::string id = std::to_string(p) + "-" + std::to_string(i);
        try {
          auto image = pushImage(store, repo, {"layer " + id, "shared layer"});
          Tag tag = Tag::parse("t" + id);
          repo.putTag(tag, image.manifest);
          PushedManifest m{image.manifest, image.bytes, tag, image.layers, {}, {}};
          m.blobs.push_back(image.config);
          confirmManifestPush(store, repo, m);
          ++pushed;
        } catch (const Error& e) {
          // A write into a directory the delete removed meanwhile fails whole; so may the
          // manifest PUT's own check. Neither leaves a tag behind that names half an image.
          if (e.kind() != ErrorKind::kIo && e.kind() != ErrorKind::kManifestUnknown &&
              e.kind() != ErrorKind::kManifestBlobUnknown && e.kind() != ErrorKind::kNotFound)
            throw;
        }
      }
    });
  }
  int deletes = 0;
  while (deletes < 3) {
    if (pushed < 2 * (deletes + 1)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    try {
      deleteRepository(store, name);
      ++deletes;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNameUnknown) throw;
    }
  }
  stop = true;
  for (std::thread& t : pushers) t.join();
  expectWhole(store, store.repository(name));
}

}  // namespace
}  // namespace regfs
