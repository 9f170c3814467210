#include "api/registry/router.h"

#include <gtest/gtest.h>

#include "api/registry/errors.h"

namespace regfs::api {
namespace {

TEST(Router, MatchesEveryResourceFromThePathEnd) {
  EXPECT_EQ(parseRoute("/v2/"), (Route{Resource::kBase, "", ""}));
  EXPECT_EQ(parseRoute("/v2"), (Route{Resource::kBase, "", ""}));
  EXPECT_EQ(parseRoute("/v2/_catalog"), (Route{Resource::kCatalog, "", ""}));
  EXPECT_EQ(parseRoute("/v2/library/alpine/tags/list"),
            (Route{Resource::kTags, "library/alpine", ""}));
  EXPECT_EQ(parseRoute("/v2/a/manifests/latest"), (Route{Resource::kManifest, "a", "latest"}));
  EXPECT_EQ(parseRoute("/v2/a/b/c/manifests/sha256:00"),
            (Route{Resource::kManifest, "a/b/c", "sha256:00"}));
  EXPECT_EQ(parseRoute("/v2/a/blobs/uploads/"), (Route{Resource::kUploadStart, "a", ""}));
  EXPECT_EQ(parseRoute("/v2/a/blobs/uploads"), (Route{Resource::kUploadStart, "a", ""}));
  EXPECT_EQ(parseRoute("/v2/a/blobs/uploads/u-1"), (Route{Resource::kUpload, "a", "u-1"}));
  EXPECT_EQ(parseRoute("/v2/a/blobs/sha256:00"), (Route{Resource::kBlob, "a", "sha256:00"}));
  EXPECT_EQ(parseRoute("/v2/a/referrers/sha256:00"),
            (Route{Resource::kReferrers, "a", "sha256:00"}));
}

TEST(Router, NamesMayContainResourceWords) {
  EXPECT_EQ(parseRoute("/v2/x/manifests/y/manifests/latest"),
            (Route{Resource::kManifest, "x/manifests/y", "latest"}));
  EXPECT_EQ(parseRoute("/v2/blobs/blobs/uploads/"), (Route{Resource::kUploadStart, "blobs", ""}));
  EXPECT_EQ(parseRoute("/v2/tags/tags/list"), (Route{Resource::kTags, "tags", ""}));
}

TEST(Router, DecodesPercentEscapesAndRejectsTraversal) {
  EXPECT_EQ(parseRoute("/v2/a%2Fb/tags/list"), (Route{Resource::kTags, "a/b", ""}));
  EXPECT_FALSE(parseRoute("/v2/../etc/tags/list"));
  EXPECT_FALSE(parseRoute("/v2/a/%2e%2e/tags/list"));
  EXPECT_FALSE(parseRoute("/v2/a//b/tags/list"));
  EXPECT_FALSE(parseRoute("/v2/a/./tags/list"));
  EXPECT_FALSE(parseRoute("/v2/a/tags/list/"));
  EXPECT_FALSE(parseRoute("/v2/a/manifests/"));
  EXPECT_FALSE(parseRoute("/v2/a%zz/tags/list"));
  EXPECT_FALSE(parseRoute("/v1/a/tags/list"));
  EXPECT_FALSE(parseRoute("/v2/a"));
  EXPECT_FALSE(parseRoute("/"));
}

TEST(Errors, EveryCodeHasItsStatus) {
  EXPECT_EQ(statusFor(ErrorKind::kBlobUnknown), 404);
  EXPECT_EQ(statusFor(ErrorKind::kBlobUploadUnknown), 404);
  EXPECT_EQ(statusFor(ErrorKind::kDigestInvalid), 400);
  EXPECT_EQ(statusFor(ErrorKind::kManifestInvalid), 400);
  EXPECT_EQ(statusFor(ErrorKind::kManifestUnknown), 404);
  EXPECT_EQ(statusFor(ErrorKind::kManifestBlobUnknown), 400);
  EXPECT_EQ(statusFor(ErrorKind::kNameInvalid), 400);
  EXPECT_EQ(statusFor(ErrorKind::kNameUnknown), 404);
  EXPECT_EQ(statusFor(ErrorKind::kRangeInvalid), 416);
  EXPECT_EQ(statusFor(ErrorKind::kSizeInvalid), 400);
  EXPECT_EQ(statusFor(ErrorKind::kUnsupported), 405);
  EXPECT_EQ(statusFor(ErrorKind::kDenied), 403);
  EXPECT_EQ(statusFor(ErrorKind::kUnauthorized), 401);
  EXPECT_EQ(statusFor(ErrorKind::kTooManyRequests), 429);
  EXPECT_EQ(statusFor(ErrorKind::kInvalidArgument), 400);
  EXPECT_EQ(statusFor(ErrorKind::kIo), 500);
}

TEST(Router, FilesInsideImagesCleanTheirPathOnly) {
  auto files = [](std::string name, std::string ref, std::string path) {
    return Route{Resource::kFiles, std::move(name), std::move(ref), std::move(path)};
  };
  EXPECT_EQ(parseRoute("/v2/a/b/_regfs/files/latest/etc/os-release"),
            files("a/b", "latest", "etc/os-release"));
  EXPECT_EQ(parseRoute("/v2/a/_regfs/files/latest"), files("a", "latest", ""));
  EXPECT_EQ(parseRoute("/v2/a/_regfs/files/latest/"), files("a", "latest", ""));
  EXPECT_EQ(parseRoute("/v2/a/_regfs/files/latest//x/./y/../z/"), files("a", "latest", "x/z"));
  EXPECT_EQ(parseRoute("/v2/a/_regfs/files/latest/../../../x"), files("a", "latest", "x"));
  EXPECT_EQ(parseRoute("/v2/a/_regfs/files/latest/%2e%2e/x%2Fy"), files("a", "latest", "x/y"));
  // The first "_regfs" decides; later ones, "blobs" or "manifests" are names in the image.
  EXPECT_EQ(parseRoute("/v2/a/_regfs/files/v1/_regfs/files/blobs/sha256:00"),
            files("a", "v1", "_regfs/files/blobs/sha256:00"));
  EXPECT_EQ(parseRoute("/v2/_regfs/files/latest/x"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/_regfs/files/"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/_regfs/files/../x"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/../_regfs/files/v1/x"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/_regfs/other/v1/x"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/_regfs/files/v1/x%00"), std::nullopt);
}

TEST(Router, TheWebUiViewsAreExtensionRoutes) {
  EXPECT_EQ(parseRoute("/v2/_regfs/catalog"), (Route{Resource::kUiCatalog, {}, {}, {}}));
  EXPECT_EQ(parseRoute("/v2/_regfs/storage"), (Route{Resource::kUiStorage, {}, {}, {}}));
  EXPECT_EQ(parseRoute("/v2/_regfs/whoami"), (Route{Resource::kUiWhoami, {}, {}, {}}));
  EXPECT_EQ(parseRoute("/v2/a/b/_regfs/tags"), (Route{Resource::kUiTags, "a/b", {}, {}}));
  EXPECT_EQ(parseRoute("/v2/a/_regfs/manifests"), (Route{Resource::kUiManifests, "a", {}, {}}));
  EXPECT_EQ(parseRoute("/v2/a/_regfs/image/sha256:00"),
            (Route{Resource::kUiImage, "a", "sha256:00", {}}));
  // A repository named "_regfs/catalog" cannot exist: the extension's segment is no name.
  EXPECT_EQ(parseRoute("/v2/_regfs/catalog/tags/list"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/_regfs/tags/x"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/_regfs/image"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/_regfs/image/v1/x"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/_regfs/image/.."), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/_regfs/tags"), std::nullopt);
}

TEST(Router, TheRepositoryExtensionNamesTheWholeRepository) {
  EXPECT_EQ(parseRoute("/v2/a/b/_regfs/repository"), (Route{Resource::kRepository, "a/b", {}, {}}));
  EXPECT_EQ(parseRoute("/v2/a/_regfs/repository/x"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/_regfs/repository/"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/_regfs/repository"), std::nullopt);
  EXPECT_EQ(parseRoute("/v2/a/../_regfs/repository"), std::nullopt);
}

TEST(Errors, RegfsCodesKeepTheirDetail) {
  Response r = errorResponse(RegfsError::kLayerUnreadable, "layer sha256:ab cannot be read: x");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("\"code\":\"LAYER_UNREADABLE\""), std::string::npos);
  EXPECT_NE(r.body.find("layer sha256:ab cannot be read: x"), std::string::npos);
  EXPECT_EQ(errorResponse(RegfsError::kFileUnknown, "").status, 404);
  EXPECT_EQ(errorResponse(RegfsError::kRootfsUnknown, "").status, 404);
}

TEST(Errors, BodyIsTheSpecsJsonAndHidesServerDetails) {
  Response r = errorResponse(Error(ErrorKind::kBlobUnknown, "blob \"x\" unknown"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown to registry\","
            "\"detail\":\"blob \\\"x\\\" unknown\"}]}\n");
  EXPECT_EQ(r.header("Content-Type"), "application/json; charset=utf-8");
  Response io = errorResponse(Error(ErrorKind::kIo, "open /secret/path: EIO"));
  EXPECT_EQ(io.status, 500);
  EXPECT_EQ(io.body.find("/secret"), std::string::npos);
  EXPECT_EQ(errorResponse(ErrorKind::kSizeInvalid, "too big", 413).status, 413);
}

TEST(Errors, ARetryLaterTellsTheClientWhenInRetryAfter) {
  Response r = errorResponse(RetryLater("upstream answered 429", std::chrono::seconds(17)));
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("\"code\":\"TOOMANYREQUESTS\""), std::string::npos);
  EXPECT_EQ(r.header("Retry-After"), "17");
  EXPECT_FALSE(errorResponse(Error(ErrorKind::kTooManyRequests, "x")).header("Retry-After"));
}

}  // namespace
}  // namespace regfs::api
