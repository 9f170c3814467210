// regfs.immutable through the manifest handlers: a push that would move an immutable tag and
// a delete of one (by tag or by the digest it points at) are DENIED naming the rule; pushing
// the same manifest again is accepted; other tags and repositories are not affected.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "api/registry/dispatch.h"
#include "common/error.h"
#include "support/api_request.h"
#include "support/error_kind.h"
#include "support/image.h"
#include "support/process.h"

namespace regfs::api {
namespace {

using regfs::testing::digestOf;
using regfs::testing::dispatchWithBody;
using regfs::testing::errorMessage;
using regfs::testing::hostRequest;
using regfs::testing::ImageBytes;
using regfs::testing::ociImage;
using regfs::testing::TempDir;
using ::testing::HasSubstr;

class ImmutableApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegistryOptions o;
    o.deleteEnabled = true;
    ImmutableRule rule;
    rule.repositories.push_back(NameGlob::parse("prod/**"));
    rule.tags.push_back(TagPattern::parse("v[0-9.]+"));
    o.immutable.push_back(rule);
    registry_ = std::make_unique<Registry>(Store::openLocal(dir_.path()), o);
  }
  // Pushes an image whose layer holds `content` under `repo`:`tag`; returns its digest.
  std::string push(const std::string& repo, const std::string& tag, const std::string& content) {
    ImageBytes image = ociImage("{}", {content});
    for (const std::string& blob : image.blobs()) {
      dispatchWithBody(
          *registry_,
          hostRequest("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digestOf(blob)), blob);
    }
    Request put = hostRequest("PUT", "/v2/" + repo + "/manifests/" + tag);
    put.headers.add("Content-Type", image.mediaType);
    Response r = dispatchWithBody(*registry_, put, image.manifest);
    EXPECT_EQ(r.status, 201);
    return digestOf(image.manifest);
  }
  std::string resolve(const std::string& repo, const std::string& tag) {
    auto d = registry_->store().repository(RepoName::parse(repo)).resolveTag(Tag::parse(tag));
    return d ? d->str() : "";
  }

  TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(ImmutableApiTest, MovingAnImmutableTagIsDeniedNamingTheRule) {
  std::string first = push("prod/app", "v1.0", "one");
  EXPECT_EQ(push("prod/app", "v1.0", "one"), first);  // the same manifest again: accepted
  std::string message = errorMessage(ErrorKind::kDenied, [&] { push("prod/app", "v1.0", "two"); });
  EXPECT_THAT(message, HasSubstr("prod/app:v1.0"));
  EXPECT_THAT(message, HasSubstr("regfs.immutable[0] (repositories prod/**, tags v[0-9.]+)"));
  EXPECT_EQ(resolve("prod/app", "v1.0"), first);
  // Tags and repositories no rule selects move as before.
  push("prod/app", "latest", "one");
  EXPECT_NO_THROW(push("prod/app", "latest", "two"));
  push("dev/app", "v1.0", "one");
  EXPECT_NO_THROW(push("dev/app", "v1.0", "two"));
}

TEST_F(ImmutableApiTest, DeletingAnImmutableTagOrItsManifestIsDenied) {
  std::string digest = push("prod/app", "v2", "one");
  EXPECT_THAT(errorMessage(ErrorKind::kDenied,
                           [&] {
                             dispatchWithBody(*registry_,
                                              hostRequest("DELETE", "/v2/prod/app/manifests/v2"));
                           }),
              HasSubstr("cannot be deleted"));
  EXPECT_THAT(errorMessage(ErrorKind::kDenied,
                           [&] {
                             dispatchWithBody(
                                 *registry_,
                                 hostRequest("DELETE", "/v2/prod/app/manifests/" + digest));
                           }),
              HasSubstr("regfs.immutable[0]"));
  EXPECT_EQ(resolve("prod/app", "v2"), digest);
  // A mutable tag still deletes.
  push("prod/app", "edge", "two");
  EXPECT_EQ(
      dispatchWithBody(*registry_, hostRequest("DELETE", "/v2/prod/app/manifests/edge")).status,
      202);
}

TEST_F(ImmutableApiTest, TheUiTagListNamesTheRuleThatHoldsATag) {
  push("prod/app", "v1.0", "one");
  push("prod/app", "latest", "two");
  Response r =
      dispatchWithBody(*registry_, hostRequest("GET", "/v2/prod/app/_regfs/tags?sort=name"));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_FALSE(d.HasParseError()) << r.body;
  const auto& tags = d["tags"];
  ASSERT_EQ(tags.Size(), 2u) << r.body;
  EXPECT_STREQ(tags[0]["tag"].GetString(), "latest");
  EXPECT_FALSE(tags[0].HasMember("immutable")) << r.body;
  EXPECT_STREQ(tags[1]["tag"].GetString(), "v1.0");
  ASSERT_TRUE(tags[1].HasMember("immutable")) << r.body;
  EXPECT_STREQ(tags[1]["immutable"].GetString(),
               "regfs.immutable[0] (repositories prod/**, tags v[0-9.]+)");
}

}  // namespace
}  // namespace regfs::api
