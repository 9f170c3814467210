#include "common/auth/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/auth/htpasswd.h"
#include "common/base64.h"
#include "support/process.h"

namespace regfs {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

std::string basic(const std::string& user, const std::string& password) {
  return "Basic " + base64Encode(user + ":" + password);
}

class HtpasswdAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::writeFile(dir_ / "htpasswd", "alice:" + bcryptHash("apple", 5) + "\n");
    config_.kind = AuthKind::kHtpasswd;
    config_.htpasswd = {"Registry Realm", (dir_ / "htpasswd").string()};
    options_.throttle = {.freeFailures = 3, .decay = 10s, .maxAddresses = 100};
    options_.clock = [this] { return now_; };
    auth_ = makeAuthenticator(config_, options_);
  }

  AuthDecision authorize(const std::string& authorization, const std::string& address = "192.0.2.1",
                         std::vector<Access> access = {}) {
    return auth_->authorize({std::move(access), authorization, address, "", ""});
  }

  TempDir dir_;
  AuthConfig config_;
  AuthOptions options_;
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(HtpasswdAuthTest, ChallengesWithoutCredentials) {
  AuthDecision d = authorize("");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.kind, ErrorKind::kUnauthorized);
  EXPECT_EQ(d.wwwAuthenticate, R"(Basic realm="Registry Realm")");
  EXPECT_EQ(d.message, "authentication required");
  EXPECT_EQ(authorize("Bearer abc.def.ghi").status, 401);
  EXPECT_EQ(authorize("Basic !!!").status, 401);
}

TEST_F(HtpasswdAuthTest, AllowsValidUsersEverything) {
  AuthDecision d = authorize(basic("alice", "apple"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.user, "alice");
  RepoName repo = RepoName::parse("any/repo");
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    EXPECT_TRUE(
        authorize(basic("alice", "apple"), "192.0.2.1", repositoryAccess(method, repo)).allowed);
  }
  EXPECT_TRUE(authorize(basic("alice", "apple"), "192.0.2.1", {catalogAccess()}).allowed);
}

TEST_F(HtpasswdAuthTest, RefusesWrongPasswordsWithoutEchoingThem) {
  AuthDecision d = authorize(basic("alice", "hunter2-wrong"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.wwwAuthenticate, R"(Basic realm="Registry Realm")");
  for (const std::string& text : {d.message, d.logDetail, d.wwwAuthenticate}) {
    EXPECT_THAT(text, Not(HasSubstr("hunter2")));
    EXPECT_THAT(text, Not(HasSubstr(base64Encode("alice:hunter2-wrong").substr(0, 12))));
  }
  EXPECT_FALSE(authorize(basic("mallory", "apple")).allowed);
}

TEST_F(HtpasswdAuthTest, ThrottlesOneAddressOnly) {
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(authorize(basic("alice", "guess" + std::to_string(i))).status, 401);
  AuthDecision d = authorize(basic("alice", "apple"));  // even the right password waits
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.status, 429);
  EXPECT_EQ(d.kind, ErrorKind::kTooManyRequests);
  EXPECT_EQ(d.retryAfterSeconds, 10);
  EXPECT_TRUE(d.wwwAuthenticate.empty());

  EXPECT_TRUE(
      authorize(basic("alice", "apple"), "198.51.100.7").allowed);  // the real user elsewhere
  EXPECT_EQ(authorize("", "192.0.2.1").status, 401);  // a credential-less probe is just challenged

  now_ += 10s;
  EXPECT_TRUE(authorize(basic("alice", "apple")).allowed);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(authorize(basic("alice", "typo")).status, 401);  // cleared by success
}

TEST_F(HtpasswdAuthTest, PicksUpFileChanges) {
  EXPECT_FALSE(authorize(basic("bob", "banana")).allowed);
  testing::writeFile(dir_ / "next", "bob:" + bcryptHash("banana", 5) + "\n");
  std::filesystem::rename(dir_ / "next", dir_ / "htpasswd");
  EXPECT_TRUE(authorize(basic("bob", "banana")).allowed);
  EXPECT_FALSE(authorize(basic("alice", "apple"), "198.51.100.7").allowed);
}

TEST(Authenticator, NoneAllowsEverything) {
  std::unique_ptr<Authenticator> auth = makeAuthenticator(AuthConfig{});
  EXPECT_TRUE(auth->authorize({{catalogAccess()}, "", "", "", ""}).allowed);
  EXPECT_TRUE(
      auth->authorize({repositoryAccess("DELETE", RepoName::parse("a")), "Basic xx", "", "", ""})
          .allowed);
}

TEST(Authenticator, SillyWantsAnyAuthorizationHeader) {
  AuthConfig config;
  config.kind = AuthKind::kSilly;
  config.silly = {"https://auth.example.com/token", "registry.example.com"};
  std::unique_ptr<Authenticator> auth = makeAuthenticator(config);
  AuthDecision d =
      auth->authorize({repositoryAccess("GET", RepoName::parse("a/b")), "", "", "", ""});
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(
      d.wwwAuthenticate,
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull")");
  EXPECT_TRUE(
      auth->authorize({repositoryAccess("GET", RepoName::parse("a/b")), "Bearer x", "", "", ""})
          .allowed);
}

TEST(Authenticator, MissingHtpasswdFileIsAConfigError) {
  TempDir dir;
  AuthConfig config;
  config.kind = AuthKind::kHtpasswd;
  config.htpasswd = {"r", (dir / "absent").string()};
  try {
    makeAuthenticator(config);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfigInvalid);
  }
  // The distribution 3 way: create it first.
  std::optional<std::string> password = ensureHtpasswdFile(config.htpasswd.path);
  ASSERT_TRUE(password);
  std::unique_ptr<Authenticator> auth = makeAuthenticator(config);
  EXPECT_TRUE(auth->authorize({{}, basic("docker", *password), "127.0.0.1", "", ""}).allowed);
}

}  // namespace
}  // namespace regfs
