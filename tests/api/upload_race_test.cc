// Two requests racing on one upload session (a client retrying a PUT while its first try
// is still in flight, or someone who knows a layer's bytes before it is pushed): two PUTs,
// two PATCHes, a PUT during a PATCH, on one server and on two server processes sharing a
// store. One of them writes the session; the other is refused and stores nothing; every
// blob answered 201 holds its digest's bytes; no answer names a server path.

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "support/http_client.h"
#include "support/server.h"
#include "support/store_check.h"
#include "support/upload_race.h"

namespace regfs::testing {
namespace {

constexpr int kRounds = 6;
constexpr size_t kBlobSize = 1 << 20;

TEST(UploadRace, OneRequestWritesASessionAtATimeAcrossThreadsAndProcesses) {
  RegfsServer one;
  RegfsServer two(one.root());  // another process on the same store
  int races = 0, accepted = 0;
  uint64_t seed = 1;
  for (int round = 0; round < kRounds; ++round) {
    for (UploadRace race :
         {UploadRace::kTwoPuts, UploadRace::kTwoPatches, UploadRace::kPutDuringPatch}) {
      int other = round % 2 == 0 ? one.port() : two.port();
      UploadRaceResult r = raceOnUpload(race, one.port(), other, "race/blobs", kBlobSize, seed++,
                                        one.root().string());
      for (const std::string& p : r.problems) ADD_FAILURE() << "round " << round << ": " << p;
      races++;
      accepted += r.accepted;
    }
  }
  EXPECT_EQ(accepted, races);
  StoreReport report = checkStore(one.root());
  EXPECT_TRUE(report.clean()) << report.describe();
  EXPECT_EQ(report.uploads, 0u) << "every race ends with its session committed";
}

// A client that goes away mid-chunk lets go of the session: the next request resumes it
// where the bytes that arrived end.
TEST(UploadRace, AClientThatHangsUpMidChunkLetsTheNextRequestWrite) {
  RegfsServer server;
  HttpConnection c(server.port());
  std::string blob = randomBytes(kBlobSize, 7);
  auto started = c.request("POST", "/v2/race/hangup/blobs/uploads/");
  ASSERT_TRUE(started && started->status == 202);
  std::string location = started->header("location");
  {
    HttpConnection quitter(server.port());
    ASSERT_TRUE(quitter.connect());
    ASSERT_TRUE(
        quitter.send("PATCH " + location + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                     std::to_string(blob.size()) + "\r\n\r\n" + blob.substr(0, blob.size() / 2)));
  }
  // The server sees the hang-up on its own time: until then the session is still held.
  std::optional<Reply> r;
  for (int attempt = 0; attempt < 600; ++attempt) {
    auto status = c.request("GET", location);
    ASSERT_TRUE(status && status->status == 204);
    std::string range = status->header("range");
    uint64_t held = range == "0-0" ? 0 : std::stoull(range.substr(2)) + 1;
    r = c.request(
        "PUT", location + "?digest=" + digestOf(blob), std::string_view(blob).substr(held),
        {"Content-Range: " + std::to_string(held) + "-" + std::to_string(blob.size() - 1)});
    ASSERT_TRUE(r);
    if (r->status != 416) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(r->status, 201) << r->body;
  auto back = c.request("GET", "/v2/race/hangup/blobs/" + digestOf(blob));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->body == blob);
}

// A storage failure is answered without the server's paths, whatever its kind (a path
// not found included: that is no resource the client asked for).
TEST(UploadRace, StorageErrorsNameNoServerPath) {
  RegfsServer server;
  HttpConnection c(server.port());
  std::string blob = randomBytes(100000, 42);
  std::string digest = digestOf(blob);
  auto started = c.request("POST", "/v2/leak/check/blobs/uploads/");
  ASSERT_TRUE(started && started->status == 202);
  // A file where the blob's directory must go: moving the upload there fails (ENOTDIR).
  std::filesystem::path blocked =
      server.root() / "docker/registry/v2/blobs/sha256" / digest.substr(7, 2);
  std::filesystem::create_directories(blocked.parent_path());
  writeFile(blocked, "in the way");
  auto r = c.request("PUT", started->header("location") + "?digest=" + digest, blob);
  ASSERT_TRUE(r);
  // The storage cannot make the blob's path: its failure, not a missing resource.
  EXPECT_EQ(r->status, 500) << r->body;
  EXPECT_EQ(r->code(), "UNKNOWN");
  EXPECT_EQ(r->body.find(server.root().string()), std::string::npos) << r->status << " " << r->body;
  EXPECT_EQ(r->body.find("/docker/registry/v2"), std::string::npos) << r->status << " " << r->body;
}

}  // namespace
}  // namespace regfs::testing
