// What each handler says it did (Response::event), which notifications are made of: pulls,
// pushes, mounts and deletes with the sizes and media types the handler knew, and nothing
// for a HEAD of a blob, a 304 or an error.

#include <gtest/gtest.h>

#include "api/ops/metrics.h"
#include "api/ops/operations.h"
#include "api/registry/dispatch.h"
#include "common/error.h"
#include "common/store/layout.h"
#include "support/api_request.h"
#include "support/image.h"
#include "support/process.h"
#include "support/redirecting_driver.h"

namespace regfs::api {
namespace {

using regfs::testing::digestOf;
using regfs::testing::ImageBytes;
using regfs::testing::kOciManifestType;
using regfs::testing::ociImage;
using regfs::testing::TempDir;

Request request(const std::string& method, const std::string& target) {
  return regfs::testing::hostRequest(method, target);
}

Response send(Registry& registry, Request req, const std::string& body = "") {
  return regfs::testing::dispatchWithBody(registry, std::move(req), body);
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<Registry>(Store::openLocal(dir_.path()), options());
  }
  virtual RegistryOptions options() {
    RegistryOptions o;
    o.deleteEnabled = true;
    return o;
  }
  // Pushes an image of one layer through the handlers; returns the manifest.
  std::string pushImage(const std::string& repo, const std::string& tag) {
    ImageBytes image = ociImage("{}", {"layer bytes of " + repo});
    layer_ = image.layers[0];
    layerDigest_ = digestOf(layer_);
    for (const std::string& blob : image.blobs()) {
      EXPECT_EQ(
          send(*registry_,
               request("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digestOf(blob)), blob)
              .status,
          201);
    }
    Request put = request("PUT", "/v2/" + repo + "/manifests/" + tag);
    put.headers.add("Content-Type", image.mediaType);
    Response r = send(*registry_, put, image.manifest);
    EXPECT_EQ(r.status, 201);
    pushed_ = r.event;
    return image.manifest;
  }

  TempDir dir_;
  std::unique_ptr<Registry> registry_;
  std::string layer_, layerDigest_;
  std::optional<RegistryEvent> pushed_;
};

TEST_F(EventsTest, PushesSayWhatWasStoredWithItsSizeAndMediaType) {
  std::string manifest = pushImage("team/app", "v1");
  ASSERT_TRUE(pushed_);
  EXPECT_EQ(pushed_->action, "push");
  EXPECT_EQ(pushed_->target, RegistryEvent::Target::kManifest);
  EXPECT_EQ(pushed_->repository, "team/app");
  EXPECT_EQ(pushed_->digest, Digest::of(manifest).str());
  EXPECT_EQ(pushed_->tag, "v1");
  EXPECT_EQ(pushed_->mediaType, kOciManifestType);
  EXPECT_EQ(pushed_->size, manifest.size());

  Response blob = send(
      *registry_,
      request("POST", "/v2/team/other/blobs/uploads/?digest=" + Digest::of(std::string("x")).str()),
      "x");
  ASSERT_TRUE(blob.event);
  EXPECT_EQ(blob.event->action, "push");
  EXPECT_EQ(blob.event->target, RegistryEvent::Target::kBlob);
  EXPECT_EQ(blob.event->size, 1u);

  Response mount = send(
      *registry_,
      request("POST", "/v2/team/other/blobs/uploads/?mount=" + layerDigest_ + "&from=team/app"));
  ASSERT_EQ(mount.status, 201);
  ASSERT_TRUE(mount.event);
  EXPECT_EQ(mount.event->action, "mount");
  EXPECT_EQ(mount.event->fromRepository, "team/app");
  EXPECT_EQ(mount.event->repository, "team/other");
  EXPECT_EQ(mount.event->size, layer_.size());
}

TEST_F(EventsTest, PullsCountTheWholeObjectWhateverRangeWasAsked) {
  std::string manifest = pushImage("team/app", "v1");
  Request get = request("GET", "/v2/team/app/manifests/v1");
  get.headers.add("Accept", kOciManifestType);
  Response pulled = send(*registry_, get);
  ASSERT_TRUE(pulled.event);
  EXPECT_EQ(pulled.event->action, "pull");
  EXPECT_EQ(pulled.event->tag, "v1");
  EXPECT_EQ(pulled.event->mediaType, kOciManifestType);
  EXPECT_EQ(pulled.event->size, manifest.size());
  Request head = get;
  head.method = "HEAD";
  EXPECT_TRUE(send(*registry_, head).event) << "a manifest HEAD is a pull, as in distribution";

  Request ranged = request("GET", "/v2/team/app/blobs/" + layerDigest_);
  ranged.headers.add("Range", "bytes=0-3");
  Response part = send(*registry_, ranged);
  EXPECT_EQ(part.status, 206);
  ASSERT_TRUE(part.event);
  EXPECT_EQ(part.event->action, "pull");
  EXPECT_EQ(part.event->mediaType, "application/octet-stream");
  EXPECT_EQ(part.event->size, layer_.size());

  EXPECT_FALSE(send(*registry_, request("HEAD", "/v2/team/app/blobs/" + layerDigest_)).event);
  Request cached = request("GET", "/v2/team/app/blobs/" + layerDigest_);
  cached.headers.add("If-None-Match", "\"" + layerDigest_ + "\"");
  Response notModified = send(*registry_, cached);
  EXPECT_EQ(notModified.status, 304);
  EXPECT_FALSE(notModified.event);
}

TEST_F(EventsTest, DeletesNameTheManifestOrOnlyTheTag) {
  std::string manifest = pushImage("team/app", "v1");
  Response tag = send(*registry_, request("DELETE", "/v2/team/app/manifests/v1"));
  EXPECT_EQ(tag.status, 202);
  ASSERT_TRUE(tag.event);
  EXPECT_EQ(tag.event->action, "delete");
  EXPECT_EQ(tag.event->tag, "v1");
  EXPECT_EQ(tag.event->digest, "");
  Response byDigest =
      send(*registry_, request("DELETE", "/v2/team/app/manifests/" + Digest::of(manifest).str()));
  ASSERT_TRUE(byDigest.event);
  EXPECT_EQ(byDigest.event->digest, Digest::of(manifest).str());
  EXPECT_EQ(byDigest.event->tag, "");
  Response blob = send(*registry_, request("DELETE", "/v2/team/app/blobs/" + layerDigest_));
  ASSERT_TRUE(blob.event);
  EXPECT_EQ(blob.event->target, RegistryEvent::Target::kBlob);
  EXPECT_EQ(blob.event->digest, layerDigest_);
}

TEST_F(EventsTest, ARepositoryDeleteNamesTheRepositoryAlone) {
  pushImage("team/app", "v1");
  Request del = request("DELETE", "/v2/team/app/_regfs/repository");
  Response r = send(*registry_, del);
  EXPECT_EQ(r.status, 202);
  ASSERT_TRUE(r.event);
  EXPECT_EQ(r.event->action, "delete");
  EXPECT_EQ(r.event->target, RegistryEvent::Target::kRepository);
  EXPECT_EQ(r.event->repository, "team/app");
  auto event = eventFor(Exchange{del, r, "10.0.0.7", 0, 0, {}}, "");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->repository, "team/app");
  EXPECT_EQ(event->digest, "");
  EXPECT_EQ(event->tag, "");
  EXPECT_EQ(event->url, "");
  EXPECT_EQ(classifyHandler(del.path), Handler::kRepository);
  EXPECT_EQ(handlerLabel(Handler::kRepository), "repository");
}

TEST_F(EventsTest, NotificationsAddWhoAskedAndTheTargetUrl) {
  pushImage("team/app", "v1");
  Request get = request("GET", "/v2/team/app/blobs/" + layerDigest_);
  get.headers.add("User-Agent", "docker/27");
  Response r = send(*registry_, get);
  auto event = eventFor(Exchange{get, r, "10.0.0.7", 0, 0, {}}, "");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->action, "pull");
  EXPECT_EQ(event->url, "http://registry.example/v2/team/app/blobs/" + layerDigest_);
  EXPECT_EQ(event->addr, "10.0.0.7");
  EXPECT_EQ(event->userAgent, "docker/27");
  EXPECT_EQ(event->method, "GET");
  auto external = eventFor(Exchange{get, r, "10.0.0.7", 0, 0, {}}, "https://reg.example/");
  ASSERT_TRUE(external);
  EXPECT_EQ(external->url, "https://reg.example/v2/team/app/blobs/" + layerDigest_);
  EXPECT_THROW(send(*registry_, request("DELETE", "/v2/team/app/manifests/v9")), Error)
      << "a failure answers an error response, which carries no event";
}

// storage.redirect: a blob GET answered with a presigned URL is a pull too (distribution's
// ServeBlob succeeded), with the blob's size; a HEAD is answered here and is none.
TEST(EventsRedirectTest, ABlobGetRedirectedToStorageIsAPullOfTheWholeBlob) {
  TempDir dir;
  auto driver = std::make_shared<regfs::testing::RedirectingDriver>(makeFsDriver(dir.path()));
  Registry registry(Store(driver), RegistryOptions{});
  std::string bytes(1234, 'b');
  Digest digest = registry.store().putBlob(bytes);
  registry.store().repository(RepoName::parse("team/app")).linkLayer(digest);

  Response redirect = send(registry, request("GET", "/v2/team/app/blobs/" + digest.str()));
  ASSERT_EQ(redirect.status, 307);
  EXPECT_EQ(redirect.header("Location").value_or(""),
            "https://storage.example/" + layout::blobData(digest));
  ASSERT_TRUE(redirect.event);
  EXPECT_EQ(redirect.event->action, "pull");
  EXPECT_EQ(redirect.event->size, 1234u);
  EXPECT_FALSE(send(registry, request("HEAD", "/v2/team/app/blobs/" + digest.str())).event);
}

}  // namespace
}  // namespace regfs::api
