#include "common/store/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/store/layout.h"
#include "support/error_kind.h"
#include "support/process.h"

namespace regfs {
namespace {

using testing::kindOf;

using testing::readFile;
using testing::TempDir;

class StoreTest : public ::testing::Test {
 protected:
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  Repository repo = store.repository(RepoName::parse("library/alpine"));

  std::filesystem::path file(const std::string& driverPath) {
    return dir.path().string() + driverPath;
  }
};

TEST_F(StoreTest, PutBlobIsContentAddressedAndIdempotent) {
  Digest d = store.putBlob("hello");
  EXPECT_EQ(d, Digest::of("hello"));
  EXPECT_EQ(readFile(file(layout::blobData(d))), "hello");
  auto info = store.statBlob(d);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 5u);
  struct stat before;
  ASSERT_EQ(::stat(file(layout::blobData(d)).c_str(), &before), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  store.putBlob("hello");
  struct stat after;
  ASSERT_EQ(::stat(file(layout::blobData(d)).c_str(), &after), 0);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec) << "an existing blob is not rewritten";
  EXPECT_EQ(store.readBlob(d), "hello");
  EXPECT_EQ(kindOf([&] { store.readBlob(Digest::of("nope")); }), ErrorKind::kBlobUnknown);
  EXPECT_FALSE(store.statBlob(Digest::of("nope")));
}

TEST_F(StoreTest, LinkFilesHoldTheBareDigest) {
  Digest layer = store.putBlob("layer");
  repo.linkLayer(layer);
  EXPECT_EQ(readFile(file(layout::layerLink(repo.name(), layer))), layer.str());
  EXPECT_TRUE(repo.hasLayer(layer));
  EXPECT_EQ(repo.listLayers(), std::vector<Digest>{layer});
  ASSERT_TRUE(repo.statLayer(layer));
  repo.unlinkLayer(layer);
  EXPECT_FALSE(repo.hasLayer(layer));
  EXPECT_FALSE(repo.statLayer(layer));
  EXPECT_TRUE(store.statBlob(layer)) << "unlinking a layer keeps the blob";
}

TEST_F(StoreTest, ManifestsAndTags) {
  EXPECT_FALSE(repo.exists());
  Digest m = repo.putManifest("{\"schemaVersion\":2}");
  EXPECT_TRUE(repo.exists());
  EXPECT_TRUE(repo.hasManifest(m));
  EXPECT_EQ(repo.getManifest(m), "{\"schemaVersion\":2}");
  EXPECT_EQ(readFile(file(layout::revisionLink(repo.name(), m))), m.str());

  Tag latest = Tag::parse("latest");
  repo.putTag(latest, m);
  EXPECT_EQ(repo.resolveTag(latest), m);
  EXPECT_EQ(readFile(file(layout::tagCurrentLink(repo.name(), latest))), m.str());
  EXPECT_EQ(readFile(file(layout::tagIndexLink(repo.name(), latest, m))), m.str());

  Digest m2 = repo.putManifest("{\"schemaVersion\":2,\"x\":1}");
  repo.putTag(Tag::parse("v2"), m2);
  repo.putTag(latest, m2);
  EXPECT_EQ(repo.resolveTag(latest), m2);
  EXPECT_TRUE(std::filesystem::exists(file(layout::tagIndexLink(repo.name(), latest, m))))
      << "tag history is kept";
  EXPECT_EQ(repo.listTags(), (std::vector<Tag>{latest, Tag::parse("v2")}));
  auto links = repo.listTagLinks();
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].first, latest);
  auto latestLink = repo.statTag(latest);
  ASSERT_TRUE(latestLink);
  EXPECT_EQ(links[0].second.mtime.tv_sec, latestLink->mtime.tv_sec);
  EXPECT_EQ(links[0].second.mtime.tv_nsec, latestLink->mtime.tv_nsec);
  EXPECT_EQ(links[0].second.size, m2.str().size());
  EXPECT_EQ(repo.tagsFor(m2).size(), 2u);
  auto manifests = repo.listManifests();
  EXPECT_EQ(manifests.size(), 2u);
  auto revisions = repo.listManifestLinks();
  ASSERT_EQ(revisions.size(), 2u);
  for (const auto& [digest, info] : revisions) {
    EXPECT_NE(std::find(manifests.begin(), manifests.end(), digest), manifests.end());
    struct stat st {};
    ASSERT_EQ(::stat(file(layout::revisionLink(repo.name(), digest)).c_str(), &st), 0);
    EXPECT_EQ(st.st_mtim.tv_sec, info.mtime.tv_sec);
    EXPECT_EQ(st.st_mtim.tv_nsec, info.mtime.tv_nsec);
    EXPECT_EQ(info.size, digest.str().size());
  }

  EXPECT_EQ(kindOf([&] { repo.putTag(Tag::parse("x"), Digest::of("missing")); }),
            ErrorKind::kManifestUnknown);
  EXPECT_EQ(kindOf([&] { repo.getManifest(Digest::of("missing")); }), ErrorKind::kManifestUnknown);

  repo.deleteManifest(m2);
  EXPECT_FALSE(repo.hasManifest(m2));
  EXPECT_FALSE(repo.resolveTag(latest)) << "deleting a manifest removes the tags pointing at it";
  EXPECT_TRUE(repo.listTags().empty());
  EXPECT_TRUE(store.statBlob(m2)) << "the blob stays for garbage collection";
  EXPECT_TRUE(repo.deleteTag(latest) == false);
  EXPECT_EQ(kindOf([&] { repo.deleteManifest(m2); }), ErrorKind::kManifestUnknown);
}

TEST_F(StoreTest, RevisionDirectoryWithoutLinkIsNotARevision) {
  // distribution deletes only the link file; its bare directory must read as "gone".
  Digest m = repo.putManifest("{}");
  std::filesystem::remove(file(layout::revisionLink(repo.name(), m)));
  EXPECT_FALSE(repo.hasManifest(m));
  EXPECT_TRUE(repo.listManifests().empty());
}

TEST_F(StoreTest, ALinkPathThatIsADirectoryIsNoLink) {
  Digest m = repo.putManifest("{}");
  Digest layer = store.putBlob("layer");
  std::filesystem::create_directories(file(layout::layerLink(repo.name(), layer)));
  std::filesystem::create_directories(file(layout::tagCurrentLink(repo.name(), Tag::parse("odd"))));
  std::filesystem::remove(file(layout::revisionLink(repo.name(), m)));
  std::filesystem::create_directories(file(layout::revisionLink(repo.name(), m)));
  EXPECT_FALSE(repo.hasLayer(layer));
  EXPECT_FALSE(repo.statLayer(layer));
  EXPECT_FALSE(repo.hasManifest(m));
  EXPECT_FALSE(repo.statTag(Tag::parse("odd")));
  EXPECT_TRUE(repo.listTags().empty());
  EXPECT_TRUE(repo.listLayers().empty());
}

TEST_F(StoreTest, TagDirectoryWithoutCurrentLinkIsNotATag) {
  // A crash inside putTag, after the index link and before the current link.
  Digest m = repo.putManifest("{}");
  Tag half = Tag::parse("half");
  store.driver().writeAtomic(layout::tagIndexLink(repo.name(), half, m), m.str());
  EXPECT_FALSE(repo.resolveTag(half));
  EXPECT_TRUE(repo.listTags().empty()) << "tags/list must not offer a tag that cannot be pulled";
  repo.putTag(half, m);
  EXPECT_EQ(repo.listTags(), std::vector<Tag>{half});
}

TEST_F(StoreTest, ATagWhoseLinkIsMalformedIsNoTag) {
  Digest m = repo.putManifest("{}");
  Tag v1 = Tag::parse("v1"), broken = Tag::parse("broken");
  repo.putTag(v1, m);
  repo.putTag(broken, m);
  testing::writeFile(file(layout::tagCurrentLink(repo.name(), broken)),
                     "sha256:../../../../etc/passwd");
  EXPECT_FALSE(repo.resolveTag(broken));
  EXPECT_EQ(repo.listTags(), std::vector<Tag>{v1})
      << "tags/list must not offer a tag that cannot be pulled";
  EXPECT_EQ(repo.tagsFor(m), std::vector<Tag>{v1});
}

TEST_F(StoreTest, SymlinksBelowTheRootAreNeverFollowed) {
  TempDir outside;
  // A blob whose data is a symlink to a file outside the store, even one holding its bytes.
  testing::writeFile(outside / "hostname", "outside");
  Digest linked = Digest::of("outside");
  std::filesystem::create_directories(file(layout::blobDir(linked)));
  std::filesystem::create_symlink(outside / "hostname", file(layout::blobData(linked)));
  EXPECT_FALSE(store.statBlob(linked));
  EXPECT_EQ(kindOf([&] { store.readBlob(linked); }), ErrorKind::kBlobUnknown);
  EXPECT_EQ(kindOf([&] { store.driver().readRange(layout::blobData(linked), 0, 3); }),
            ErrorKind::kNotFound);
  bool visited = false;
  store.forEachBlob([&](const Digest& d) { visited |= d == linked; });
  EXPECT_FALSE(visited);

  // A repository directory that is a symlink to a folder outside the store.
  RepoName evilName = RepoName::parse("team/evil");
  Repository evil = store.repository(evilName);
  Digest m = Digest::of("{}");
  Digest layer = store.putBlob("layer");
  auto outsidePath = [&](const std::string& inRepo) {
    return outside.path().string() + "/evil" +
           inRepo.substr(layout::repositoryDir(evilName).size());
  };
  std::string outsideRevision = outsidePath(layout::revisionLink(evilName, m));
  testing::writeFile(outsideRevision, m.str());
  testing::writeFile(outsidePath(layout::tagCurrentLink(evilName, Tag::parse("v1"))), m.str());
  testing::writeFile(outsidePath(layout::layerLink(evilName, Digest::of("{}"))), m.str());
  std::filesystem::create_directories(file(layout::repositoryDir(std::string_view("team"))));
  std::filesystem::create_directory_symlink(outside / "evil",
                                            file(layout::repositoryDir(evilName)));
  EXPECT_FALSE(evil.exists());
  EXPECT_FALSE(evil.hasManifest(m));
  EXPECT_FALSE(evil.resolveTag(Tag::parse("v1")));
  EXPECT_TRUE(evil.listTags().empty());
  EXPECT_TRUE(evil.listManifests().empty());
  EXPECT_TRUE(evil.listLayers().empty());
  EXPECT_TRUE(store.catalog(100).empty());
  EXPECT_TRUE(store.driver().list(layout::repositoryDir(evilName)).empty());

  // Writes through it are refused and leave nothing outside.
  EXPECT_THROW(evil.linkLayer(layer), Error);
  EXPECT_FALSE(std::filesystem::exists(outsidePath(layout::layerLink(evilName, layer))));
  // Removing through it removes nothing outside; removing it removes the symlink alone.
  store.driver().remove(layout::revisionLink(evilName, m));
  store.driver().remove(parentPath(layout::revisionLink(evilName, m)));
  EXPECT_EQ(readFile(outsideRevision), m.str());
  store.driver().remove(layout::repositoryDir(evilName));
  EXPECT_FALSE(std::filesystem::is_symlink(file(layout::repositoryDir(evilName))));
  EXPECT_EQ(readFile(outsideRevision), m.str());

  // The root itself may be a symlink: only what lies below it is never followed.
  std::filesystem::create_directory_symlink(dir.path(), outside / "root");
  Store viaLink = Store::openLocal(outside / "root");
  EXPECT_EQ(viaLink.readBlob(layer), "layer");
  EXPECT_EQ(viaLink.putBlob("more"), Digest::of("more"));
  EXPECT_EQ(store.readBlob(Digest::of("more")), "more");
}

TEST_F(StoreTest, UploadsLiveInTheStore) {
  std::string uuid = repo.startUpload();
  EXPECT_TRUE(layout::isValidUploadId(uuid));
  auto info = repo.statUpload(uuid);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 0u);
  std::string startedAt = readFile(file(layout::uploadStartedAt(repo.name(), uuid)));
  ASSERT_EQ(startedAt.size(), 20u) << startedAt;  // 2006-01-02T15:04:05Z
  for (size_t i = 0; i < startedAt.size(); ++i) {
    char want = std::string_view("dddd-dd-ddTdd:dd:ddZ")[i];
    EXPECT_TRUE(want == 'd' ? std::isdigit(static_cast<unsigned char>(startedAt[i])) != 0
                            : startedAt[i] == want)
        << startedAt;
  }
  {
    UploadWriter w = repo.openUpload(uuid, 0);
    w.write("hello ");
  }
  // A second store object on the same root (another process, say) continues the upload.
  Repository other = Store::openLocal(dir.path()).repository(repo.name());
  EXPECT_EQ(kindOf([&] { other.openUpload(uuid, 3); }), ErrorKind::kRangeInvalid);
  other.openUpload(uuid, 6).write("world");
  EXPECT_EQ(repo.statUpload(uuid)->size, 11u);
  EXPECT_EQ(repo.listUploads().size(), 1u);

  BlobInfo blob = repo.commitUpload(uuid, Digest::of("hello world"));
  EXPECT_EQ(blob.size, 11u);
  EXPECT_EQ(store.readBlob(blob.digest), "hello world");
  EXPECT_TRUE(repo.hasLayer(blob.digest));
  EXPECT_FALSE(repo.statUpload(uuid));
  EXPECT_FALSE(std::filesystem::exists(file(layout::uploadDir(repo.name(), uuid))));
}

// Aligned pieces go to the disk by direct I/O, the rest through the page cache; a session
// that mixes both, resumed at aligned and unaligned offsets, holds exactly what was sent.
TEST_F(StoreTest, UploadsMixingAlignedAndUnalignedWritesKeepEveryByte) {
  std::string sent;
  auto piece = [&](UploadWriter& w, size_t size, bool aligned) {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((sent.size() + i) * 131 % 251);
    if (aligned) {
      std::unique_ptr<char, decltype(&std::free)> memory(
          static_cast<char*>(
              std::aligned_alloc(FileWriter::kDirectAlign,
                                 (size / FileWriter::kDirectAlign + 1) * FileWriter::kDirectAlign)),
          &std::free);
      std::memcpy(memory.get(), bytes.data(), size);
      w.write(memory.get(), size);
    } else {
      w.write(bytes);  // a std::string's memory, rarely aligned
    }
    sent += bytes;
  };
  constexpr size_t kAlign = FileWriter::kDirectAlign;
  std::string uuid = repo.startUpload();
  {
    UploadWriter w = repo.openUpload(uuid, 0);
    piece(w, 64 * kAlign, true);
    piece(w, 3 * kAlign, false);
    piece(w, 100, true);     // unaligned length
    piece(w, kAlign, true);  // now at an unaligned offset
  }
  {
    UploadWriter w = repo.openUpload(uuid, sent.size());
    piece(w, kAlign - sent.size() % kAlign, false);  // back to an aligned offset
    piece(w, 16 * kAlign, true);
    piece(w, 7, false);
  }
  EXPECT_EQ(repo.statUpload(uuid)->size, sent.size());
  BlobInfo blob = repo.commitUpload(uuid, Digest::of(sent));
  EXPECT_EQ(blob.size, sent.size());
  EXPECT_TRUE(store.readBlob(blob.digest) == sent);
}

TEST_F(StoreTest, OneWriterHoldsAnUploadAtATime) {
  std::string uuid = repo.startUpload();
  Repository other = Store::openLocal(dir.path()).repository(repo.name());
  {
    UploadWriter w = repo.openUpload(uuid, 0);
    w.write("first");
    // Another writer, here or in another process, is refused before it writes.
    EXPECT_EQ(kindOf([&] { other.openUpload(uuid); }), ErrorKind::kRangeInvalid);
    EXPECT_EQ(kindOf([&] { other.commitUpload(uuid, Digest::of("first")); }),
              ErrorKind::kRangeInvalid);
    w.release();
    other.openUpload(uuid, 5).write(" second");
  }
  EXPECT_EQ(repo.statUpload(uuid)->size, 12u);
  BlobInfo blob = other.commitUpload(uuid, Digest::of("first second"));
  EXPECT_EQ(store.readBlob(blob.digest), "first second");
  EXPECT_FALSE(std::filesystem::exists(file(layout::uploadDir(repo.name(), uuid))));
  // No hold outlives a session that is gone, nor makes one up.
  EXPECT_EQ(kindOf([&] { repo.openUpload(uuid); }), ErrorKind::kBlobUploadUnknown);
  EXPECT_FALSE(std::filesystem::exists(file(layout::uploadDir(repo.name(), uuid))));
}

TEST_F(StoreTest, CommitRefusesWrongDigestAndLeavesNoBlob) {
  std::string uuid = repo.startUpload();
  repo.openUpload(uuid).write("data");
  EXPECT_EQ(kindOf([&] { repo.commitUpload(uuid, Digest::of("other")); }),
            ErrorKind::kDigestInvalid);
  EXPECT_FALSE(store.statBlob(Digest::of("other")));
  EXPECT_FALSE(store.statBlob(Digest::of("data")));
  EXPECT_FALSE(repo.statUpload(uuid));
  EXPECT_EQ(kindOf([&] { repo.commitUpload(uuid, Digest::of("data")); }),
            ErrorKind::kBlobUploadUnknown);
}

TEST_F(StoreTest, CommitOfAnExistingBlobKeepsIt) {
  Digest d = store.putBlob("same");
  std::string uuid = repo.startUpload();
  repo.openUpload(uuid).write("same");
  repo.commitUpload(uuid, d, Digest::of("same"));
  EXPECT_EQ(store.readBlob(d), "same");
  EXPECT_TRUE(repo.hasLayer(d));
}

TEST_F(StoreTest, UnknownAndHostileUploadIds) {
  EXPECT_FALSE(repo.statUpload("nope"));
  EXPECT_FALSE(repo.statUpload("../../../etc"));
  EXPECT_FALSE(repo.statUpload(""));
  EXPECT_EQ(kindOf([&] { repo.openUpload("../x"); }), ErrorKind::kBlobUploadUnknown);
  repo.cancelUpload("../../..");  // must not remove anything
  EXPECT_TRUE(std::filesystem::exists(dir.path()));
}

TEST_F(StoreTest, CatalogIsComponentOrderedAndResumable) {
  for (const char* name : {"b", "a-b", "a/b", "a", "a/b/c", "z/y", "ab"}) {
    store.repository(RepoName::parse(name)).putManifest("{}");
  }
  // A directory without _manifests is not a repository, but its children can be.
  EXPECT_EQ(store.catalog(100),
            (std::vector<std::string>{"a", "a/b", "a/b/c", "a-b", "ab", "b", "z/y"}));
  EXPECT_EQ(store.catalog(2), (std::vector<std::string>{"a", "a/b"}));
  EXPECT_EQ(store.catalog(2, "a/b"), (std::vector<std::string>{"a/b/c", "a-b"}));
  EXPECT_EQ(store.catalog(100, "ab"), (std::vector<std::string>{"b", "z/y"}));
  EXPECT_EQ(store.catalog(100, "z/y"), std::vector<std::string>{});
  EXPECT_EQ(store.catalog(0), std::vector<std::string>{});
}

TEST_F(StoreTest, ForEachBlobVisitsEveryBlob) {
  std::set<Digest> put = {store.putBlob("1"), store.putBlob("2"), store.putBlob("3")};
  std::set<Digest> seen;
  store.forEachBlob([&](const Digest& d) { seen.insert(d); });
  EXPECT_EQ(seen, put);
}

TEST_F(StoreTest, Referrers) {
  Digest subject = repo.putManifest("{\"subject\":0}");
  Digest sig = repo.putManifest("{\"sig\":1}");
  repo.addReferrer(subject, sig);
  EXPECT_EQ(repo.listReferrers(subject), std::vector<Digest>{sig});
  repo.deleteManifest(sig);
  EXPECT_TRUE(repo.listReferrers(subject).empty());
  EXPECT_EQ(store.catalog(10), std::vector<std::string>{"library/alpine"})
      << "_referrers is not a repository";
}

TEST_F(StoreTest, AtomicWritesLeaveNoTemporaryFiles) {
  Digest m = repo.putManifest("{}");
  repo.putTag(Tag::parse("t"), m);
  for (auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".regfs-tmp"), std::string::npos)
        << entry.path();
  }
}

}  // namespace
}  // namespace regfs
