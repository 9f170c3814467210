// An operator deletes a whole repository over HTTP: DELETE /v2/<name>/_regfs/repository.
// Gated by storage.delete.enabled like every delete, needs the delete scope, answers 202
// with what went and 404 NAME_UNKNOWN for a repository that is not there; the catalog no
// longer lists it, nested repositories and other repositories stay, a push after it makes
// a new repository. Real server processes, curl and raw HTTP.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/store/layout.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/server.h"
#include "support/tls.h"

namespace regfs::testing {
namespace {

const std::string kAcceptOci = "Accept: " + kOciManifestType;

ImageBytes smallImage(const std::string& seed) {
  return ociImage("{\"architecture\":\"amd64\",\"os\":\"linux\",\"seed\":\"" + seed + "\"}",
                  {"layer of " + seed});
}

void push(RegfsServer& s, const std::string& repo, const std::string& tag,
          const ImageBytes& image) {
  HttpConnection c(s.port());
  Reply r = pushImage(c, repo, tag, image).value_or(Reply{});
  ASSERT_EQ(r.status, 201) << repo << ":" << tag << " " << r.body;
}

Reply deleteRepository(RegfsServer& s, const std::string& repo,
                       std::vector<std::string> args = {}) {
  return http("DELETE", s.url() + "/v2/" + repo + "/_regfs/repository", std::move(args));
}

TEST(RepositoryDeleteApi, DeletesTheRepositoryAndKeepsNestedAndOtherOnes) {
  RegfsServer s;
  ImageBytes shared = smallImage("shared");
  push(s, "team/app", "1.0", shared);
  push(s, "team/app", "2.0", smallImage("two"));
  push(s, "team/app/nested", "x", smallImage("nested"));
  push(s, "other", "latest", shared);
  // An upload in progress goes too.
  Reply started = http("POST", s.url() + "/v2/team/app/blobs/uploads/");
  ASSERT_EQ(started.status, 202);

  Reply r = deleteRepository(s, "team/app");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, "{\"tags\":2,\"manifests\":2,\"layers\":4,\"referrers\":0,\"uploads\":1}\n");

  Reply catalog = http("GET", s.url() + "/v2/_catalog");
  EXPECT_EQ(catalog.body, "{\"repositories\":[\"other\",\"team/app/nested\"]}\n");
  Reply tags = http("GET", s.url() + "/v2/team/app/tags/list");
  EXPECT_EQ(tags.status, 404);
  EXPECT_EQ(tags.code(), "NAME_UNKNOWN");
  EXPECT_EQ(http("GET", s.url() + "/v2/team/app/manifests/1.0", {"-H", kAcceptOci}).status, 404);
  EXPECT_EQ(http("GET", s.url() + "/v2/team/app/blobs/" + digestOf(shared.layers[0])).status, 404)
      << "its layer links went";
  EXPECT_EQ(http("GET", s.url() + started.header("location")).status, 404);
  // What other repositories hold is served as before, shared blobs too.
  EXPECT_EQ(http("GET", s.url() + "/v2/other/manifests/latest", {"-H", kAcceptOci}).status, 200);
  EXPECT_EQ(http("GET", s.url() + "/v2/other/blobs/" + digestOf(shared.layers[0])).body,
            shared.layers[0]);
  EXPECT_EQ(http("GET", s.url() + "/v2/team/app/nested/manifests/x", {"-H", kAcceptOci}).status,
            200);

  // Gone: a second delete finds nothing; a push makes a new repository.
  r = deleteRepository(s, "team/app");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "NAME_UNKNOWN");
  push(s, "team/app", "3.0", smallImage("three"));
  tags = http("GET", s.url() + "/v2/team/app/tags/list");
  EXPECT_EQ(tags.body, "{\"name\":\"team/app\",\"tags\":[\"3.0\"]}\n");
}

TEST(RepositoryDeleteApi, RefusedUnlessDeletesAreEnabledAndOnlyDeleteIsAllowed) {
  TempDir root;
  {
    RegfsServerOptions off;
    off.deleteEnabled = false;
    RegfsServer s(root.path(), off);
    push(s, "r", "t", smallImage("r"));
    Reply r = deleteRepository(s, "r");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.code(), "UNSUPPORTED");
  }
  RegfsServer s(root.path());
  Reply r = http("GET", s.url() + "/v2/r/_regfs/repository");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "DELETE");
  EXPECT_EQ(deleteRepository(s, "Not..Valid").code(), "NAME_INVALID");
  EXPECT_EQ(http("GET", s.url() + "/v2/r/tags/list").status, 200) << "nothing was deleted";
}

TEST(RepositoryDeleteApi, NeedsTheDeleteScope) {
  TokenServer tokens("regfs-test-issuer", "regfs-test");
  RegfsServerOptions o;
  o.extraConfig = tokens.registryConfig();
  RegfsServer s({}, o);
  auto token = [&](const std::string& user, const std::string& scope) {
    return "Authorization: Bearer " + tokens.token(user, scope);
  };
  Reply anonymous = deleteRepository(s, "some/repo");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(anonymous.header("www-authenticate").find("scope=\"repository:some/repo:delete\""),
            std::string::npos)
      << anonymous.header("www-authenticate");
  Reply pushOnly = deleteRepository(
      s, "some/repo", {"-H", token("pusher:push-secret", "repository:some/repo:pull,push")});
  EXPECT_EQ(pushOnly.status, 401);
  EXPECT_NE(pushOnly.header("www-authenticate").find("insufficient_scope"), std::string::npos);
  Reply allowed = deleteRepository(
      s, "some/repo", {"-H", token("pusher:push-secret", "repository:some/repo:delete")});
  EXPECT_EQ(allowed.status, 404) << allowed.body;  // allowed; there is no such repository
  EXPECT_EQ(allowed.code(), "NAME_UNKNOWN");
}

}  // namespace
}  // namespace regfs::testing
