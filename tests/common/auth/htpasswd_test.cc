#include "common/auth/htpasswd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "common/base64.h"
#include "common/error.h"
#include "support/process.h"

namespace regfs {
namespace {

using namespace std::string_literals;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

// One line as `htpasswd -B` writes it ("user:$2y$NN$..."), without the newline.
std::string htpasswdLine(const std::string& user, const std::string& password, int cost = 5) {
  testing::CommandResult r =
      testing::run({"htpasswd", "-Bbn", "-C", std::to_string(cost), user, password});
  EXPECT_EQ(r.status, 0) << r.err;
  std::string line = r.out.substr(0, r.out.find('\n'));
  EXPECT_THAT(line, ::testing::StartsWith(user + ":$2y$"));
  return line;
}

std::string md5Line(const std::string& user, const std::string& password) {
  testing::CommandResult r = testing::run({"htpasswd", "-mbn", user, password});
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

class HtpasswdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::haveProgram("htpasswd"))
        << "htpasswd (apache2-utils) is required: scripts/setup.sh installs it";
  }
  TempDir dir_;
};

TEST_F(HtpasswdTest, VerifiesBcryptWrittenByHtpasswdAtEveryCost) {
  for (int cost = 5; cost <= 12; ++cost) {
    std::string line = htpasswdLine("alice", "s3cret:with colon", cost);
    ASSERT_EQ(line.substr(6, 7),
              "$2y$" + std::string(cost < 10 ? "0" : "") + std::to_string(cost) + "$");
    std::string hash = line.substr(6);
    EXPECT_TRUE(bcryptVerify("s3cret:with colon", hash)) << cost;
    EXPECT_FALSE(bcryptVerify("s3cret:with colo", hash)) << cost;
  }
}

TEST_F(HtpasswdTest, AcceptsTwoBAndTwoAPrefixes) {
  std::string hash = htpasswdLine("u", "pw").substr(2);
  std::string b = "$2b$" + hash.substr(4), a = "$2a$" + hash.substr(4);
  EXPECT_TRUE(bcryptVerify("pw", b));
  EXPECT_TRUE(bcryptVerify("pw", a));
  EXPECT_FALSE(bcryptVerify("pw", "$2x$" + hash.substr(4)));  // not accepted
  EXPECT_FALSE(bcryptVerify("pw", hash.substr(0, 59)));
  EXPECT_FALSE(bcryptVerify("pw", ""));
  EXPECT_FALSE(bcryptVerify(std::string("pw\0", 3), hash));
}

TEST_F(HtpasswdTest, FileVerifiesUsersAndRefusesWrongPasswords) {
  testing::writeFile(dir_ / "htpasswd", htpasswdLine("alice", "apple") + "\n" +
                                            htpasswdLine("bob", "banana", 7) + "\n");
  HtpasswdFile file(dir_ / "htpasswd");
  EXPECT_TRUE(file.verify("alice", "apple"));
  EXPECT_TRUE(file.verify("alice", "apple"));  // the remembered proof
  EXPECT_TRUE(file.verify("bob", "banana"));
  EXPECT_FALSE(file.verify("alice", "banana"));
  EXPECT_FALSE(file.verify("alice", "apple "));
  EXPECT_FALSE(file.verify("alice", ""));
  EXPECT_FALSE(file.verify("carol", "apple"));
  EXPECT_FALSE(file.verify("", ""));
  EXPECT_TRUE(file.warnings().empty());
}

TEST_F(HtpasswdTest, IgnoresOtherHashKindsWithoutLeakingThem) {
  std::string md5 = md5Line("mallory", "pw");
  std::string content = "# comment\n\n" + md5 + "\n" + "sha:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n" +
                        "des:rqXexS6ZhobKA\n" + htpasswdLine("alice", "apple") + "\n";
  testing::writeFile(dir_ / "htpasswd", content);
  HtpasswdFile file(dir_ / "htpasswd");
  EXPECT_FALSE(file.verify("mallory", "pw"));
  EXPECT_FALSE(file.verify("des", "pw"));
  EXPECT_TRUE(file.verify("alice", "apple"));
  std::vector<std::string> warnings = file.warnings();
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_THAT(warnings[0], AllOf(HasSubstr("line 3"), HasSubstr("MD5"), HasSubstr("mallory")));
  EXPECT_THAT(warnings[1], AllOf(HasSubstr("line 4"), HasSubstr("SHA")));
  EXPECT_THAT(warnings[2], HasSubstr("line 5"));
  std::string md5Secret = md5.substr(md5.find("$apr1$") + 6);
  for (const std::string& w : warnings) {
    EXPECT_THAT(w,
                AllOf(Not(HasSubstr(md5Secret)), Not(HasSubstr("qUqP5")), Not(HasSubstr("rqXex"))));
  }
}

TEST_F(HtpasswdTest, ReportsGarbageLinesByNumberAndKeepsTheRest) {
  std::string content = htpasswdLine("alice", "apple") + "\n" + "no colon here\n" +
                        ":$2y$05$nouser\n" + std::string("\x01\xff\xfe garbage\0", 12) + "\n" +
                        "bob\n" + htpasswdLine("carol", "cherry");  // no final newline
  testing::writeFile(dir_ / "htpasswd", content);
  HtpasswdFile file(dir_ / "htpasswd");
  EXPECT_TRUE(file.verify("alice", "apple"));
  EXPECT_TRUE(file.verify("carol", "cherry"));
  EXPECT_FALSE(file.verify("bob", ""));
  std::vector<std::string> warnings = file.warnings();
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_THAT(warnings[0], HasSubstr("line 2: no ':'"));
  EXPECT_THAT(warnings[1], HasSubstr("line 3: empty user name"));
  EXPECT_THAT(warnings[2], HasSubstr("line 4"));
  EXPECT_THAT(warnings[3], HasSubstr("line 5"));
}

TEST_F(HtpasswdTest, ReadsCrlfFiles) {
  testing::writeFile(dir_ / "htpasswd", htpasswdLine("alice", "apple") + "\r\n" +
                                            htpasswdLine("bob", "banana") + "\r\n\r\n");
  HtpasswdFile file(dir_ / "htpasswd");
  EXPECT_TRUE(file.verify("alice", "apple"));
  EXPECT_TRUE(file.verify("bob", "banana"));
  EXPECT_TRUE(file.warnings().empty());
}

TEST_F(HtpasswdTest, LaterDuplicateWinsWithAWarning) {
  testing::writeFile(dir_ / "htpasswd",
                     htpasswdLine("alice", "old") + "\n" + htpasswdLine("alice", "new") + "\n");
  HtpasswdFile file(dir_ / "htpasswd");
  EXPECT_TRUE(file.verify("alice", "new"));
  EXPECT_FALSE(file.verify("alice", "old"));
  EXPECT_THAT(file.warnings(), ElementsAre(HasSubstr("line 2")));
}

TEST_F(HtpasswdTest, RereadsTheFileWhenItChanges) {
  std::filesystem::path path = dir_ / "htpasswd";
  testing::writeFile(path, htpasswdLine("alice", "apple") + "\n");
  HtpasswdFile file(path);
  EXPECT_TRUE(file.verify("alice", "apple"));
  EXPECT_FALSE(file.verify("bob", "banana"));

  // Rewritten in place, same size class: the password changes and the cached proof goes.
  testing::writeFile(
      path, htpasswdLine("alice", "apricot") + "\n" + htpasswdLine("bob", "banana") + "\n");
  EXPECT_FALSE(file.verify("alice", "apple"));
  EXPECT_TRUE(file.verify("alice", "apricot"));
  EXPECT_TRUE(file.verify("bob", "banana"));

  // Replaced by rename, as editors and `htpasswd` do: a new inode.
  testing::writeFile(dir_ / "new", htpasswdLine("carol", "cherry") + "\n");
  std::filesystem::rename(dir_ / "new", path);
  EXPECT_FALSE(file.verify("alice", "apricot"));
  EXPECT_TRUE(file.verify("carol", "cherry"));

  // The `htpasswd` tool itself, deleting a user.
  testing::CommandResult r = testing::run({"htpasswd", "-D", path.string(), "carol"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(file.verify("carol", "cherry"));

  // Gone: the last good users stay in force rather than locking everyone out.
  testing::writeFile(path, htpasswdLine("dave", "date") + "\n");
  EXPECT_TRUE(file.verify("dave", "date"));
  std::filesystem::remove(path);
  EXPECT_TRUE(file.verify("dave", "date"));
}

TEST_F(HtpasswdTest, MissingFileIsAConfigError) {
  try {
    HtpasswdFile file(dir_ / "absent");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfigInvalid);
    EXPECT_THAT(e.what(), HasSubstr("absent"));
  }
}

TEST_F(HtpasswdTest, ConcurrentVerifiesWhileTheFileChanges) {
  std::filesystem::path path = dir_ / "htpasswd";
  std::string a = htpasswdLine("alice", "apple"), b = htpasswdLine("bob", "banana");
  testing::writeFile(path, a + "\n" + b + "\n");
  HtpasswdFile file(path);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (!file.verify("bob", "banana")) ++wrong;
        if (file.verify("bob", "nope")) ++wrong;
      }
    });
  }
  // Replaced atomically, as `htpasswd` into a temporary file and a rename would. (An
  // in-place rewrite can be read half-written for an instant; that fails closed.)
  for (int i = 0; i < 10; ++i) {
    testing::writeFile(dir_ / "next", (i % 2 ? a + "\n" : "") + b + "\n");
    std::filesystem::rename(dir_ / "next", path);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
}

// Unknown users must not answer faster than known ones: both cost one bcrypt.
TEST_F(HtpasswdTest, UnknownUsersCostABcryptToo) {
  testing::writeFile(dir_ / "htpasswd", htpasswdLine("alice", "apple", 10) + "\n");
  HtpasswdFile file(dir_ / "htpasswd");
  auto time = [&](const char* user) {
    std::vector<double> runs;
    for (int i = 0; i < 3; ++i) {
      auto start = std::chrono::steady_clock::now();
      EXPECT_FALSE(file.verify(user, "wrong"));
      runs.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(runs.begin(), runs.end());
    return runs[1];
  };
  double known = time("alice"), unknown = time("nobody");
  EXPECT_GT(unknown, known / 3) << "known " << known << "s, unknown " << unknown << "s";
  EXPECT_LT(unknown, known * 3) << "known " << known << "s, unknown " << unknown << "s";
}

TEST(BasicAuthorization, ParsesUserAndPassword) {
  auto c = parseBasicAuthorization("Basic " + base64Encode("alice:pa:ss word"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "alice");
  EXPECT_EQ(c->password, "pa:ss word");
  c = parseBasicAuthorization("basic " + base64Encode("bob:"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "bob");
  EXPECT_EQ(c->password, "");
  EXPECT_TRUE(parseBasicAuthorization("BASIC " + base64Encode("a:b")));
  EXPECT_TRUE(parseBasicAuthorization("Basic   " + base64Encode("ab:c")));
  // Every padding length.
  for (std::string pair : {"u:p", "us:p", "use:p", "user:p"}) {
    auto parsed = parseBasicAuthorization("Basic " + base64Encode(pair));
    ASSERT_TRUE(parsed) << pair;
    EXPECT_EQ(parsed->user + ":" + parsed->password, pair);
  }
}

TEST(BasicAuthorization, RefusesGarbage) {
  for (std::string bad :
       {std::string(""), std::string("Basic"), std::string("Basic "),
        std::string("Bearer abc.def.ghi"), "Basic " + base64Encode("nocolon"),
        "Basic " + base64Encode(":password"), "Basic " + base64Encode("al\0ice:pw"s),
        "Basic " + base64Encode("alice:p\0w"s),
        std::string("Basic YWxpY2U6cHc"),    // padding missing
        std::string("Basic YWxpY2U6cHc=="),  // too much padding
        std::string("Basic YWxp Y2U6cHc="),  // space inside
        std::string("Basic =YWxpY2U6cHc"), std::string("Basic YW=pY2U6cHc="),
        std::string("Basic !!!!"), std::string("Basic ===="), std::string("Basicx YWxpY2U6cHc="),
        "Digest " + base64Encode("a:b"), "Basic " + std::string(20000, 'A')}) {
    EXPECT_FALSE(parseBasicAuthorization(bad)) << bad;
  }
}

TEST(EnsureHtpasswdFile, CreatesOnceWithARandomPassword) {
  TempDir dir;
  std::filesystem::path path = dir / "auth" / "nested" / "htpasswd";
  std::optional<std::string> password = ensureHtpasswdFile(path);
  ASSERT_TRUE(password);
  EXPECT_GE(password->size(), 32u);

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "auth").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::string content = testing::readFile(path);
  EXPECT_THAT(content, ::testing::StartsWith("docker:$2y$10$"));
  EXPECT_THAT(content, Not(HasSubstr(*password)));

  HtpasswdFile file(path);
  EXPECT_TRUE(file.verify("docker", *password));
  EXPECT_FALSE(file.verify("docker", "docker"));
  EXPECT_TRUE(file.warnings().empty());

  // Existing files are never touched, and no temporary file is left behind.
  EXPECT_FALSE(ensureHtpasswdFile(path));
  EXPECT_EQ(testing::readFile(path), content);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(path.parent_path()), {}), 1);

  std::optional<std::string> other = ensureHtpasswdFile(dir / "second");
  ASSERT_TRUE(other);
  EXPECT_NE(*other, *password);
}

TEST(EnsureHtpasswdFile, ApacheToolAcceptsTheFile) {
  ASSERT_TRUE(testing::haveProgram("htpasswd"))
      << "htpasswd is required: scripts/setup.sh installs it";
  TempDir dir;
  std::optional<std::string> password = ensureHtpasswdFile(dir / "htpasswd");
  ASSERT_TRUE(password);
  testing::CommandResult r =
      testing::run({"htpasswd", "-vb", (dir / "htpasswd").string(), "docker", *password});
  EXPECT_EQ(r.status, 0) << r.err;
}

}  // namespace
}  // namespace regfs
