// The S3 driver against radosgw: files, directories as prefixes, multipart appends that
// resume in another driver instance, moves, removes, errors, and the object keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "common/error.h"
#include "common/storage/s3_driver.h"
#include "common/store/layout.h"
#include "common/store/store.h"
#include "shared_ceph.h"

namespace regfs {
namespace {

using namespace regfs::testing;

constexpr size_t kMiB = 1 << 20;

std::string pattern(size_t size, char seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + static_cast<char>(i % 251));
  return s;
}

class S3DriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bucket = newBucket();
    driver = makeS3Driver(s3Config(bucket));
  }
  std::string bucket;
  std::shared_ptr<StorageDriver> driver;
};

TEST_F(S3DriverTest, FilesAndDirectories) {
  const std::string file = "/docker/registry/v2/repositories/a/b/_layers/link";
  EXPECT_FALSE(driver->stat(file));
  EXPECT_FALSE(driver->stat("/docker/registry/v2/repositories"));
  driver->writeAtomic(file, "sha256:1234");
  driver->writeAtomic("/docker/registry/v2/repositories/a/c", "x");

  auto info = driver->stat(file);
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->isDirectory);
  EXPECT_EQ(info->size, 11u);
  EXPECT_GT(info->mtime.tv_sec, 1700000000);
  auto dir = driver->stat("/docker/registry/v2/repositories/a");
  ASSERT_TRUE(dir);
  EXPECT_TRUE(dir->isDirectory);
  auto whole = driver->statFile(file);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->size, 11u);
  EXPECT_FALSE(whole->isDirectory);
  EXPECT_FALSE(driver->statFile("/docker/registry/v2/repositories/a")) << "a directory is no file";
  EXPECT_FALSE(driver->statFile("/docker/registry/v2/repositories/a/b/_layers/none"));
  EXPECT_EQ(driver->read(file), "sha256:1234");
  EXPECT_EQ(driver->readRange(file, 7, 3), "123");
  EXPECT_EQ(driver->readRange(file, 9, 100), "34");
  EXPECT_EQ(driver->readRange(file, 11, 5), "");
  EXPECT_EQ(driver->list("/docker/registry/v2/repositories/a"),
            (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(driver->list("/docker/registry/v2/repositories/a/b"),
            (std::vector<std::string>{"_layers"}));
  EXPECT_TRUE(driver->list("/docker/registry/v2/nothing").empty());
  EXPECT_FALSE(driver->localPath(file));

  driver->writeAtomic(file, "replaced");
  EXPECT_EQ(driver->read(file), "replaced");

  driver->remove("/docker/registry/v2/repositories/a/b");
  EXPECT_FALSE(driver->stat(file));
  EXPECT_FALSE(driver->stat("/docker/registry/v2/repositories/a/b"));
  EXPECT_EQ(driver->list("/docker/registry/v2/repositories/a"), (std::vector<std::string>{"c"}));
  try {
    driver->read(file);
    FAIL() << "read of a removed file succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  driver->remove("/docker/registry/v2/repositories/none");  // missing: not an error
}

TEST_F(S3DriverTest, KeysAreDistributions) {
  driver->writeAtomic("/docker/registry/v2/repositories/r/_manifests/tags/t/current/link", "l");
  auto prefixed = makeS3Driver(s3Config(bucket, "/some/prefix/"));
  prefixed->writeAtomic("/docker/registry/v2/blobs/sha256/ab/abcd/data", "d");
  EXPECT_EQ(prefixed->read("/docker/registry/v2/blobs/sha256/ab/abcd/data"), "d");
  EXPECT_FALSE(driver->stat("/docker/registry/v2/blobs/sha256/ab/abcd/data"));
  auto keys = sharedCeph().listObjects(bucket);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "docker/registry/v2/repositories/r/_manifests/tags/t/current/link",
                      "some/prefix/docker/registry/v2/blobs/sha256/ab/abcd/data"}));
}

TEST_F(S3DriverTest, ListingPagesPastOneThousandEntries) {
  // ListObjectsV2 answers at most 1000 names a page.
  const std::string dir = "/docker/registry/v2/repositories/many/_manifests/tags";
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 1003; i += 6) driver->writeAtomic(dir + "/tag" + std::to_string(i), "x");
    });
  }
  for (auto& th : threads) th.join();
  auto names = driver->list(dir);
  ASSERT_EQ(names.size(), 1003u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.front(), "tag0");
}

TEST_F(S3DriverTest, AppendsResumeInAnotherInstance) {
  const std::string path = "/docker/registry/v2/repositories/r/_uploads/u/data";
  std::string first = pattern(7 * kMiB, 'a'), second = pattern(3 * kMiB + 17, 'k');
  {
    auto writer = driver->openAppend(path);
    EXPECT_EQ(writer->size(), 0u);
    for (size_t off = 0; off < first.size(); off += kMiB) writer->write(first.data() + off, kMiB);
    writer->flush();
    EXPECT_EQ(writer->size(), first.size());
  }
  auto info = driver->stat(path);
  ASSERT_TRUE(info) << "a file being appended to exists";
  EXPECT_EQ(info->size, first.size());
  EXPECT_FALSE(driver->statFile(path)) << "but it is not a file written whole";

  // Another process (another replica) goes on where the first left off.
  auto other = makeS3Driver(s3Config(bucket));
  {
    auto writer = other->openAppend(path);
    EXPECT_EQ(writer->size(), first.size());
    writer->write(second.data(), second.size());
    writer->flush();
  }
  EXPECT_EQ(driver->stat(path)->size, first.size() + second.size());
  driver->openAppend(path)->commit();
  EXPECT_EQ(driver->stat(path)->size, first.size() + second.size());
  ASSERT_TRUE(driver->statFile(path)) << "once committed it is";
  EXPECT_EQ(driver->statFile(path)->size, first.size() + second.size());
  EXPECT_EQ(driver->read(path), first + second);
  EXPECT_EQ(driver->readRange(path, first.size() - 2, 4),
            first.substr(first.size() - 2) + second.substr(0, 2));
}

TEST_F(S3DriverTest, SmallChunksAppendAndCommit) {
  const std::string path = "/docker/registry/v2/repositories/r/_uploads/small/data";
  std::string all;
  for (int i = 0; i < 3; ++i) {
    auto writer = driver->openAppend(path);
    EXPECT_EQ(writer->size(), all.size());
    std::string chunk = pattern(1000 + static_cast<size_t>(i), static_cast<char>('a' + i));
    writer->write(chunk.data(), chunk.size());
    writer->flush();
    all += chunk;
    EXPECT_EQ(driver->stat(path)->size, all.size());
  }
  driver->openAppend(path)->commit();
  EXPECT_EQ(driver->read(path), all);
  // Appending to a complete file goes on after its bytes.
  {
    auto writer = driver->openAppend(path);
    EXPECT_EQ(writer->size(), all.size());
    writer->write("tail", 4);
    writer->commit();
  }
  EXPECT_EQ(driver->read(path), all + "tail");
}

TEST_F(S3DriverTest, EmptyFileCommits) {
  const std::string path = "/docker/registry/v2/repositories/r/_uploads/empty/data";
  driver->openAppend(path);
  EXPECT_EQ(driver->stat(path)->size, 0u);
  driver->openAppend(path)->commit();
  EXPECT_EQ(driver->read(path), "");
}

TEST_F(S3DriverTest, MoveCopiesAndDeletes) {
  driver->writeAtomic("/a/from", "content");
  driver->move("/a/from", "/b/to");
  EXPECT_FALSE(driver->stat("/a/from"));
  EXPECT_EQ(driver->read("/b/to"), "content");
  // A file still being appended to is completed, then moved.
  auto writer = driver->openAppend("/a/upload");
  writer->write("streamed", 8);
  writer->flush();
  driver->move("/a/upload", "/b/blob");
  EXPECT_EQ(driver->read("/b/blob"), "streamed");
  EXPECT_FALSE(driver->stat("/a/upload"));
  EXPECT_THROW(driver->move("/a/none", "/b/none"), Error);
  // A directory moves with everything under it.
  driver->writeAtomic("/dir/one/data", "1");
  driver->writeAtomic("/dir/one/sub/two", "2");
  driver->move("/dir/one", "/parked/one");
  EXPECT_FALSE(driver->stat("/dir/one"));
  EXPECT_EQ(driver->read("/parked/one/data"), "1");
  EXPECT_EQ(driver->read("/parked/one/sub/two"), "2");
}

TEST_F(S3DriverTest, RemoveAbortsUploadsInProgress) {
  auto writer = driver->openAppend("/u/1/data");
  writer->write("partial", 7);
  writer->flush();
  driver->writeAtomic("/u/1/startedat", "now");
  driver->remove("/u/1");
  EXPECT_FALSE(driver->stat("/u/1/data"));
  EXPECT_FALSE(driver->stat("/u/1"));
  EXPECT_EQ(driver->openAppend("/u/1/data")->size(), 0u) << "a fresh upload, not the aborted one";
}

TEST_F(S3DriverTest, ACompletionWhoseAnswerWasLostSucceedsOnRetry) {
  // The relay lets radosgw complete the upload and loses the answer; the driver retries
  // and gets NoSuchUpload (as from AWS S3), and finds the object those parts make.
  S3Relay relay(sharedCeph(), "^POST [^ ]*[?&]uploadId=");
  S3StorageConfig config = s3Config(bucket);
  config.regionEndpoint = relay.endpoint();
  auto relayed = makeS3Driver(config);
  const std::string path = "/docker/registry/v2/repositories/r/_uploads/lost/data";
  std::string bytes = pattern(6 * kMiB + 5, 'l');
  auto writer = relayed->openAppend(path);
  writer->write(bytes.data(), bytes.size());
  EXPECT_NO_THROW(writer->commit());
  EXPECT_EQ(driver->read(path), bytes);
  auto requests = relay.requests();
  auto completions = std::count_if(requests.begin(), requests.end(), [](const std::string& r) {
    return r.starts_with("POST ") && r.find("uploadId=") != std::string::npos;
  });
  EXPECT_EQ(std::count_if(requests.begin(), requests.end(),
                          [](const std::string& r) { return r.starts_with("DROPPED POST "); }),
            1)
      << "the first answer was lost";
  EXPECT_EQ(std::count_if(requests.begin(), requests.end(),
                          [](const std::string& r) { return r.starts_with("ANSWERED POST "); }),
            1)
      << "the retry was told NoSuchUpload";
  EXPECT_EQ(completions, 2) << "one completion and its retry";
}

TEST_F(S3DriverTest, ASlowPartDoesNotHoldBackTheParts) {
  // Part 1 is held for two seconds; parts 2 and 3 are stored meanwhile, and the writer
  // sends the next parts in their place instead of waiting for the oldest.
  S3Relay relay(sharedCeph(), "", "^PUT [^ ]*[?&]partNumber=1&", 2.0);
  S3StorageConfig config = s3Config(bucket);
  config.regionEndpoint = relay.endpoint();
  config.chunkSize = 5 * kMiB;
  auto relayed = makeS3Driver(config);
  const std::string path = "/docker/registry/v2/repositories/r/_uploads/slow/data";
  std::string bytes = pattern(7 * 5 * kMiB + 3, 's');
  auto writer = relayed->openAppend(path);
  writer->write(bytes.data(), bytes.size());
  writer->commit();
  EXPECT_EQ(driver->read(path), bytes);
  auto requests = relay.requests();
  auto sent = [&](int part) {
    std::string mark = "partNumber=" + std::to_string(part) + "&";
    return std::find_if(requests.begin(), requests.end(),
                        [&](const std::string& r) {
                          return r.starts_with("PUT ") && r.find(mark) != std::string::npos;
                        }) -
           requests.begin();
  };
  EXPECT_LT(sent(4), sent(1)) << "part 4 waited for part 1";
  EXPECT_LT(sent(5), sent(1)) << "part 5 waited for part 1";
}

TEST_F(S3DriverTest, ACompletionOfAnUploadThatIsGoneFailsUnlessItsObjectStands) {
  // Aborted by someone else, nothing at the key: an error.
  const std::string gone = "/docker/registry/v2/repositories/r/_uploads/gone/data";
  auto writer = driver->openAppend(gone);
  writer->write("partial", 7);
  writer->flush();
  driver->remove(gone);
  EXPECT_THROW(writer->commit(), Error);
  EXPECT_FALSE(driver->stat(gone));

  // Aborted, and another object (not these parts) at the key: an error too.
  const std::string other = "/docker/registry/v2/repositories/r/_uploads/other/data";
  auto second = driver->openAppend(other);
  second->write("partial", 7);
  second->flush();
  driver->remove(other);
  driver->writeAtomic(other, "another");  // as long as the parts: the ETag tells them apart
  EXPECT_THROW(second->commit(), Error);
  EXPECT_EQ(driver->read(other), "another");
}

TEST_F(S3DriverTest, StoreUploadCommitsThroughTheDriver) {
  Store store(driver);
  Repository repo = store.repository(RepoName::parse("library/app"));
  std::string blob = pattern(6 * kMiB + 5, 'q');
  std::string uuid = repo.startUpload();
  ASSERT_TRUE(repo.statUpload(uuid));
  EXPECT_EQ(repo.statUpload(uuid)->size, 0u);
  {
    UploadWriter w = repo.openUpload(uuid, 0);
    w.write(std::string_view(blob).substr(0, 2 * kMiB));
    w.flush();
  }
  EXPECT_EQ(repo.statUpload(uuid)->size, 2 * kMiB);
  ASSERT_EQ(repo.listUploads().size(), 1u);
  {
    // Another replica's store continues it.
    Repository again = Store(makeS3Driver(s3Config(bucket))).repository(repo.name());
    UploadWriter w = again.openUpload(uuid, 2 * kMiB);
    w.write(std::string_view(blob).substr(2 * kMiB));
    w.flush();
  }
  Digest digest = Digest::of(blob);
  BlobInfo info = repo.commitUpload(uuid, digest);  // hashes what S3 holds
  EXPECT_EQ(info.size, blob.size());
  EXPECT_EQ(store.readBlob(digest), blob);
  EXPECT_TRUE(repo.hasLayer(digest));
  EXPECT_FALSE(repo.statUpload(uuid));
  EXPECT_TRUE(repo.listUploads().empty());

  std::string wrong = repo.startUpload();
  {
    UploadWriter w = repo.openUpload(wrong, 0);
    w.write("not it");
    w.flush();
  }
  try {
    repo.commitUpload(wrong, digest);
    FAIL() << "a mismatching digest committed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDigestInvalid);
  }
  EXPECT_FALSE(repo.statUpload(wrong));
}

// makeS3Driver(config) fails with kConfigInvalid and a message naming `hint`.
void expectConfigError(const S3StorageConfig& config, const std::string& hint) {
  try {
    makeS3Driver(config);
    FAIL() << "a driver started where it should not (" << hint << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfigInvalid);
    EXPECT_NE(std::string(e.what()).find(hint), std::string::npos) << e.what();
  }
}

TEST_F(S3DriverTest, WrongCredentialsAreAConfigurationError) {
  S3StorageConfig bad = s3Config(bucket);
  bad.secretKey = "not-the-secret";
  expectConfigError(bad, "secretkey");
  expectConfigError(s3Config("no-such-bucket"), "NoSuchBucket");
  S3StorageConfig v2 = s3Config(bucket);
  v2.v4Auth = false;
  expectConfigError(v2, "v4auth");
}

}  // namespace
}  // namespace regfs
