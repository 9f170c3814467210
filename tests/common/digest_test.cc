#include "common/digest.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace regfs {
namespace {

constexpr std::string_view kEmpty =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Digest, ParsesSha256) {
  Digest d = Digest::parse(kEmpty);
  EXPECT_EQ(d.algorithm(), DigestAlgorithm::kSha256);
  EXPECT_EQ(d.algorithmName(), "sha256");
  EXPECT_EQ(d.hex().size(), 64u);
  EXPECT_EQ(d.str(), kEmpty);
}

TEST(Digest, ParsesSha512) {
  Digest d = Digest::of("abc", DigestAlgorithm::kSha512);
  EXPECT_EQ(d.str(),
            "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a"
            "836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(Digest::parse(d.str()), d);
}

TEST(Digest, RejectsMalformed) {
  for (std::string_view bad :
       {"", "sha256", "sha256:", ":abc",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
        "sha256:../../../../etc/passwd0000000000000000000000000000000000000000000",
        "md5:d41d8cd98f00b204e9800998ecf8427e", "SHA256:abc", "sha256+:abc"}) {
    EXPECT_FALSE(Digest::tryParse(bad)) << bad;
    try {
      Digest::parse(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kDigestInvalid);
    }
  }
}

TEST(Hasher, StreamsAndMatchesOneShot) {
  Hasher h;
  h.update("hello ");
  Hasher saved = h;
  h.update("world");
  EXPECT_EQ(h.digest(), Digest::of("hello world"));
  EXPECT_EQ(h.digest(), Digest::of("hello world"));  // digest() does not consume the state
  saved.update("there");
  EXPECT_EQ(saved.digest(), Digest::of("hello there"));
  EXPECT_EQ(Hasher().digest().str(), kEmpty);
}

TEST(Digest, OrdersAndHashes) {
  Digest a = Digest::of("a"), b = Digest::of("b");
  EXPECT_NE(a, b);
  EXPECT_TRUE((a < b) != (b < a));
  EXPECT_NE(std::hash<Digest>{}(a), std::hash<Digest>{}(b));
}

}  // namespace
}  // namespace regfs
