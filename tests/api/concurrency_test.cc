// Concurrency: 18 clients push at once against one regfs-server — the same image to the same
// tag, different images to one tag, and different images that share layers across
// repositories (by upload and by cross-repository mount) — while 6 others pull and check
// every byte. Every request succeeds, the tag ends on one of the images pushed to it, and
// the final store is consistent with no temporary file or upload session left over.

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/store/store.h"
#include "support/http_client.h"
#include "support/server.h"
#include "support/store_check.h"

namespace regfs::testing {
namespace {

constexpr int kRounds = 4;

std::string sharedLayer(int i) {
  return randomBytes(static_cast<size_t>(300000 + 1000 * i), 500 + i);
}

ImageBytes makeImage(const std::string& who, int round, bool shared) {
  std::vector<std::string> layers = {sharedLayer(round % 3), sharedLayer(3 + round % 2)};
  if (!shared)
    layers.push_back(randomBytes(100000 + who.size() * 7 + static_cast<size_t>(round),
                                 std::hash<std::string>{}(who) + static_cast<uint64_t>(round)));
  return ociImage("{\"who\":\"" + who + "\",\"round\":" + std::to_string(round) + "}",
                  std::move(layers), shared ? "" : who);
}

class Errors {
 public:
  void add(const std::string& e) {
    std::lock_guard lock(mu_);
    if (errors_.size() < 20) errors_.push_back(e);
  }
  std::string first() {
    std::lock_guard lock(mu_);
    return errors_.empty() ? ""
                           : errors_[0] + " (and " + std::to_string(errors_.size() - 1) + " more)";
  }

 private:
  std::mutex mu_;
  std::vector<std::string> errors_;
};

// Pushes `image`, each blob another way as `how` counts up: monolithic, chunked, the last
// chunk with the PUT, or a cross-repository mount from the repository shared layers are first
// pushed to, falling back to an upload when it does not have the blob yet (as clients do).
bool push(HttpConnection& c, const std::string& repo, const std::string& tag,
          const ImageBytes& image, int how, Errors& errors) {
  auto pushOne = [&how](HttpConnection& c, const std::string& repo, const std::string& blob) {
    int way = how++ % 4;
    if (way < 3) return pushBlob(c, repo, blob, static_cast<BlobUpload>(way), way == 2 ? 2 : 3);
    auto r = c.request(
        "POST", "/v2/" + repo + "/blobs/uploads/?mount=" + digestOf(blob) + "&from=base/layers");
    if (r && r->status == 202) {
      r = c.request("PUT", r->header("location") + "?digest=" + digestOf(blob), blob);
    }
    return r;
  };
  auto r = pushImage(c, repo, tag, image, pushOne);
  if (!r || r->status != 201 || r->header("docker-content-digest") != image.digest()) {
    errors.add("push to " + repo + ":" + tag + ": " +
               (r ? std::to_string(r->status) + " " + r->body : "no answer"));
    return false;
  }
  return true;
}

// Pulls repo:tag and checks the manifest and every blob it names against `candidates`.
bool pull(HttpConnection& c, const std::string& repo, const std::string& tag,
          const std::set<std::string>& candidates, const std::map<std::string, std::string>& blobs,
          Errors& errors) {
  auto r =
      c.request("GET", "/v2/" + repo + "/manifests/" + tag, {}, {"Accept: " + kOciManifestType});
  if (!r) return errors.add("pull " + repo + ":" + tag + ": no answer"), false;
  if (r->status == 404) return true;  // not pushed yet
  if (r->status != 200 || !candidates.count(r->body) ||
      r->header("docker-content-digest") != digestOf(r->body)) {
    return errors.add("pull " + repo + ":" + tag + ": " + std::to_string(r->status) + " " +
                      r->body.substr(0, 200)),
           false;
  }
  for (const auto& [digest, bytes] : blobs) {
    if (r->body.find(digest) == std::string::npos) continue;
    auto b = c.request("GET", "/v2/" + repo + "/blobs/" + digest);
    if (!b || b->status != 200 || b->body != bytes) {
      return errors.add("pull blob " + digest + " of " + repo + ": " +
                        (b ? std::to_string(b->status) : "no answer")),
             false;
    }
  }
  return true;
}

TEST(Concurrency, ManyClientsPushSameAndDifferentImagesWhileOthersPull) {
  RegfsServer server;
  Errors errors;
  std::atomic<int> pushes{0}, pulls{0};

  // Images every pusher may produce, by tag, for the pullers to check against.
  std::map<std::string, std::set<std::string>> expected;  // "repo:tag" -> manifests
  std::map<std::string, std::string> blobs;               // digest -> bytes
  const ImageBytes same = makeImage("same", 0, true);
  auto note = [&](const std::string& key, const ImageBytes& image) {
    expected[key].insert(image.manifest);
    for (const auto& l : image.layers) blobs[digestOf(l)] = l;
    blobs[digestOf(image.config)] = image.config;
  };
  note("same/image:latest", same);
  for (int p = 0; p < 6; ++p) {
    for (int round = 0; round < kRounds; ++round) {
      note("race/tag:latest", makeImage("race" + std::to_string(p), round, false));
      note("share/i" + std::to_string(p) + ":r" + std::to_string(round),
           makeImage("share" + std::to_string(p), round, false));
    }
  }
  {
    // The shared layers, in a repository others mount from.
    HttpConnection c(server.port());
    for (int i = 0; i < 3; ++i)
      ASSERT_EQ(pushBlobMonolithic(c, "base/layers", sharedLayer(i))->status, 201);
  }

  std::atomic<int> pushersLeft{18};
  std::vector<std::thread> threads;
  for (int p = 0; p < 18; ++p) {
    threads.emplace_back([&, p] {
      HttpConnection c(server.port(), std::chrono::seconds(60));
      int group = p % 3, id = p / 3;
      for (int round = 0; round < kRounds; ++round) {
        bool ok = false;
        if (group == 0) ok = push(c, "same/image", "latest", same, p + round, errors);
        if (group == 1)
          ok = push(c, "race/tag", "latest", makeImage("race" + std::to_string(id), round, false),
                    p + round, errors);
        if (group == 2) {
          ok = push(c, "share/i" + std::to_string(id), "r" + std::to_string(round),
                    makeImage("share" + std::to_string(id), round, false), p + round, errors);
        }
        if (ok) pushes++;
      }
      pushersLeft--;
    });
  }
  for (int q = 0; q < 6; ++q) {
    threads.emplace_back([&, q] {
      HttpConnection c(server.port(), std::chrono::seconds(60));
      int i = 0;
      while (pushersLeft.load() > 0) {
        std::string key =
            q % 3 == 0   ? "same/image:latest"
            : q % 3 == 1 ? "race/tag:latest"
                         : "share/i" + std::to_string(i % 6) + ":r" + std::to_string(i % kRounds);
        size_t colon = key.find(':');
        if (pull(c, key.substr(0, colon), key.substr(colon + 1), expected.at(key), blobs, errors))
          pulls++;
        i++;
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(errors.first(), "");
  EXPECT_EQ(pushes.load(), 18 * kRounds);
  EXPECT_GT(pulls.load(), 0);
  std::cout << "[ parallel ] " << pushes.load() << " image pushes and " << pulls.load()
            << " pulls at once\n";

  HttpConnection c(server.port());
  for (const auto& [key, candidates] : expected) {
    size_t colon = key.find(':');
    auto r = c.request("GET", "/v2/" + key.substr(0, colon) + "/manifests/" + key.substr(colon + 1),
                       {}, {"Accept: " + kOciManifestType});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << key;
    EXPECT_TRUE(candidates.count(r->body)) << key;
  }
  StoreReport report = checkStore(server.root());
  EXPECT_TRUE(report.clean()) << report.describe();
  EXPECT_EQ(report.tempFiles, 0u);
  EXPECT_EQ(report.uploads, 0u) << "every upload session ends in a commit";
  Store store = Store::openLocal(server.root());
  EXPECT_EQ(store.repository(RepoName::parse("race/tag")).listManifests().size(), 6u * kRounds);
}

}  // namespace
}  // namespace regfs::testing
