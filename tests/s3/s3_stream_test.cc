// Streaming through S3 on radosgw: one streamed read hands over every byte of a multipart
// object in order and from any offset, and stops when asked; a writer with several parts in
// flight stores them in order; a move above storage.s3.multipartcopythresholdsize copies in
// parts; regfs-server serves ranges across its pieces, and a download the storage fails in
// the middle ends with the connection cut, never with a short body that looks complete.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/error.h"
#include "common/storage/s3_driver.h"
#include "shared_ceph.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/poll.h"
#include "support/process.h"
#include "support/server.h"

namespace regfs {
namespace {

using namespace regfs::testing;

constexpr size_t kMiB = 1 << 20;

std::string streamAll(const StorageDriver& driver, const std::string& path, uint64_t offset,
                      uint64_t length, size_t* calls = nullptr) {
  std::string out;
  driver.readStream(path, offset, length, [&](std::string_view piece) {
    out.append(piece);
    if (calls) ++*calls;
    return true;
  });
  return out;
}

TEST(S3Stream, OneReadHandsOverEveryByteInOrder) {
  S3StorageConfig config = s3Config(newBucket());
  config.chunkSize = 5 * kMiB;
  auto driver = makeS3Driver(config);
  // 23 MiB in uneven writes: five parts, several of them in flight at once.
  std::string data = randomBytes(23 * kMiB + 7, 21);
  auto writer = driver->openAppend("/big/data");
  for (size_t at = 0; at < data.size();) {
    size_t n = std::min<size_t>(data.size() - at, 3 * kMiB + 1);
    writer->write(data.data() + at, n);
    at += n;
  }
  writer->commit();
  ASSERT_EQ(driver->stat("/big/data")->size, data.size());

  size_t calls = 0;
  EXPECT_TRUE(streamAll(*driver, "/big/data", 0, data.size(), &calls) == data);
  EXPECT_GT(calls, 1u) << "handed over as it arrives, not in one piece";
  uint64_t offset = 5 * kMiB - 3, length = 7 * kMiB + 11;
  EXPECT_TRUE(streamAll(*driver, "/big/data", offset, length) == data.substr(offset, length));

  std::string first;
  driver->readStream("/big/data", 0, data.size(), [&](std::string_view piece) {
    first.append(piece);
    return false;
  });
  EXPECT_FALSE(first.empty());
  EXPECT_LT(first.size(), data.size()) << "the sink stopped the read";
  EXPECT_TRUE(first == data.substr(0, first.size()));

  try {
    streamAll(*driver, "/big/none", 0, 10);
    ADD_FAILURE() << "a missing file streamed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  try {
    streamAll(*driver, "/big/data", data.size() - 5, 10);
    ADD_FAILURE() << "a read past the end streamed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo) << e.what();
  }
}

TEST(S3Stream, MoveAboveTheThresholdCopiesInParts) {
  S3StorageConfig config = s3Config(newBucket());
  config.multipartCopyThresholdSize = 0;
  config.multipartCopyChunkSize = 5 * kMiB;
  config.multipartCopyMaxConcurrency = 2;
  auto driver = makeS3Driver(config);
  std::string data = randomBytes(12 * kMiB + 5, 22);  // three parts, the last one short
  driver->writeAtomic("/from/data", data);
  driver->move("/from/data", "/to/data");
  EXPECT_FALSE(driver->stat("/from/data"));
  EXPECT_TRUE(driver->read("/to/data") == data);
  // A file still being appended to is completed, then copied in parts.
  auto writer = driver->openAppend("/from/upload");
  writer->write(data.data(), data.size());
  writer->flush();
  driver->move("/from/upload", "/to/upload");
  EXPECT_TRUE(driver->read("/to/upload") == data);
}

TEST(S3Stream, RegistryServesRangesAcrossPiecesAndCutsAFailedDownload) {
  RegfsServerOptions options;
  options.storage = sharedCeph().storageYaml(newBucket());
  RegfsServer server({}, options);
  std::string blob = randomBytes(64 * kMiB + 3, 23);
  HttpConnection c(server.port(), std::chrono::seconds(120));
  auto pushed = pushBlobChunked(c, "stream/app", blob, 1);
  ASSERT_TRUE(pushed);
  ASSERT_EQ(pushed->status, 201) << pushed->body;
  std::string url = server.url() + "/v2/stream/app/blobs/" + digestOf(blob);

  TempDir work;
  CommandResult range =
      curl({"-sS", "-f", "-o", (work / "range").string(), "-r", "1048570-9437190", url});
  ASSERT_EQ(range.status, 0) << range.err;
  EXPECT_TRUE(readFile(work / "range") == blob.substr(1048570, 9437190 - 1048570 + 1));

  // A slow client; radosgw goes away after a few MiB and stays away past the retries. (It
  // goes on sending for the 10 s before it is killed, and socket buffers hold some MiB on
  // both sides: the download must outlast all that by far.)
  Process download({"curl", "-sS", "--limit-rate", "1M", "-o", (work / "cut").string(), url});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  sharedCeph().stopGateway();
  waitUntil([&] { return !download.running(); }, std::chrono::seconds(90),
            std::chrono::milliseconds(100));
  int status = download.stop();
  sharedCeph().startGateway();
  EXPECT_NE(status, 0) << "curl saw the body end short of Content-Length";
  std::string got = readFile(work / "cut");
  EXPECT_LT(got.size(), blob.size());
  EXPECT_TRUE(got == blob.substr(0, got.size())) << "what arrived is the blob's start";
  EXPECT_NE(server.log().find("aborting a blob download"), std::string::npos) << server.log();

  // The server goes on serving once the storage is back.
  CommandResult again = curl({"-sS", "-f", "-o", (work / "again").string(), url});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_TRUE(readFile(work / "again") == blob);
}

}  // namespace
}  // namespace regfs
