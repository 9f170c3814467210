// The access each route needs, and what the access log may show of a request target.

#include "api/registry/auth.h"

#include <gtest/gtest.h>

#include "support/api_request.h"

namespace regfs::api {
namespace {

Request parsed(const std::string& method, const std::string& target) {
  return regfs::testing::parsedRequest(method, target);
}

std::string scopes(const Request& r) { return scopeParam(requiredAccess(r)); }

TEST(RequiredAccess, FollowsTheRoute) {
  EXPECT_EQ(scopes(parsed("GET", "/v2/")), "");
  EXPECT_EQ(scopes(parsed("GET", "/v2/_catalog?n=10")), "registry:catalog:*");
  EXPECT_EQ(scopes(parsed("GET", "/v2/library/alpine/manifests/latest")),
            "repository:library/alpine:pull");
  EXPECT_EQ(scopes(parsed("HEAD", "/v2/a/blobs/sha256:00")), "repository:a:pull");
  EXPECT_EQ(scopes(parsed("PUT", "/v2/a/manifests/v1")), "repository:a:pull,push");
  EXPECT_EQ(scopes(parsed("PATCH", "/v2/a/blobs/uploads/u")), "repository:a:pull,push");
  EXPECT_EQ(scopes(parsed("DELETE", "/v2/a/manifests/sha256:00")), "repository:a:delete");
  EXPECT_EQ(scopes(parsed("DELETE", "/v2/a/b/_regfs/repository")), "repository:a/b:delete");
  EXPECT_EQ(scopes(parsed("POST", "/v2/a/blobs/uploads/?mount=sha256:00&from=b/c")),
            "repository:a:pull,push repository:b/c:pull");
  // A mount from an invalid name asks for nothing more; the handler refuses it.
  EXPECT_EQ(scopes(parsed("POST", "/v2/a/blobs/uploads/?mount=sha256:00&from=B..")),
            "repository:a:pull,push");
  EXPECT_EQ(scopes(parsed("GET", "/v2/Not_Valid/tags/list")), "");
  EXPECT_EQ(scopes(parsed("GET", "/nothing")), "");
}

TEST(RequiredAccess, TheWebUiViewsNeedWhatTheApiNeedsForTheSameData) {
  EXPECT_EQ(scopes(parsed("GET", "/v2/_regfs/catalog?q=a")), "registry:catalog:*");
  EXPECT_EQ(scopes(parsed("GET", "/v2/_regfs/storage")), "registry:catalog:*");
  EXPECT_EQ(scopes(parsed("GET", "/v2/_regfs/whoami")), "");
  EXPECT_EQ(scopes(parsed("GET", "/v2/a/b/_regfs/tags?sort=name")), "repository:a/b:pull");
  EXPECT_EQ(scopes(parsed("GET", "/v2/a/_regfs/manifests?untagged=true")), "repository:a:pull");
  EXPECT_EQ(scopes(parsed("GET", "/v2/a/_regfs/image/v1")), "repository:a:pull");
}

TEST(LoggableTarget, RedactsSecretQueryValues) {
  EXPECT_EQ(loggableTarget("/v2/a/tags/list?n=1&last=b"), "/v2/a/tags/list?n=1&last=b");
  EXPECT_EQ(loggableTarget("/v2/?access_token=abc&n=1"), "/v2/?access_token=REDACTED&n=1");
  EXPECT_EQ(loggableTarget("/x?Password=p&token=t&_state=s"),
            "/x?Password=REDACTED&token=REDACTED&_state=REDACTED");
  EXPECT_EQ(loggableTarget("/v2/"), "/v2/");
  EXPECT_EQ(loggableTarget("/v2/?"), "/v2/?");
}

}  // namespace
}  // namespace regfs::api
