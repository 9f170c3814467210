#include "common/auth/token_auth.h"

#include "common/auth/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <pthread.h>

#include <functional>
#include <memory>
#include <sstream>
#include <tuple>

#include "common/base64.h"
#include "common/error.h"
#include "support/error_kind.h"
#include "support/process.h"
#include "support/tls.h"

namespace regfs {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::openssl;
using testing::TempDir;

constexpr char kIssuer[] = "auth.example.com";
constexpr char kService[] = "registry.example.com";

// Keys and certificates made once by the openssl CLI:
//   rsa     RSA 2048, self-signed certificate, in the bundle
//   ec      EC P-256, self-signed certificate, in the bundle
//   ca      RSA CA certificate, in the bundle; leaf (EC P-256) signed by it, not in the bundle
//   rogue   RSA 2048, self-signed, not in the bundle
class TokenAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::haveProgram("openssl")) return;
    dir_ = new TempDir();
    auto p = [](const char* name) { return (dir_->path() / name).string(); };
    openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("rsa.key"), "-subj",
             "/CN=token-rsa", "-days", "2", "-out", p("rsa.crt")});
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", p("ec.key"), "-subj", "/CN=token-ec", "-days", "2", "-out", p("ec.crt")});
    openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-subj",
             "/CN=token-ca", "-days", "3", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign", "-out", p("ca.crt")});
    openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", p("leaf.key"), "-subj", "/CN=token-leaf", "-out", p("leaf.csr")});
    openssl({"x509", "-req", "-in", p("leaf.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
             "-CAcreateserial", "-days", "1", "-out", p("leaf.crt")});
    openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("rogue.key"), "-subj",
             "/CN=rogue", "-days", "2", "-out", p("rogue.crt")});
    testing::writeFile(
        dir_->path() / "bundle.pem",
        "# token signing certificates\n" + read("rsa.crt") + read("ec.crt") + read("ca.crt"));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(testing::haveProgram("openssl"))
        << "openssl is required: scripts/setup.sh installs it";
    now_ = std::chrono::system_clock::now();
    nowSeconds_ = std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count();
  }

  static std::string read(const std::string& name) {
    return testing::readFile(dir_->path() / name);
  }
  static std::string path(const std::string& name) { return (dir_->path() / name).string(); }

  TokenAuthConfig config() const {
    TokenAuthConfig c;
    c.realm = "https://auth.example.com/token";
    c.service = kService;
    c.issuer = kIssuer;
    c.rootCertBundle = path("bundle.pem");
    return c;
  }

  // A signature of `input` made with the private key in `keyFile`, in JWS form.
  static std::string sign(const std::string& keyFile, const std::string& alg,
                          const std::string& input) {
    std::string pem = read(keyFile);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    EXPECT_TRUE(key);
    const EVP_MD* md = alg.ends_with("256")   ? EVP_sha256()
                       : alg.ends_with("384") ? EVP_sha384()
                                              : EVP_sha512();
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_PKEY_CTX* pctx = nullptr;
    EXPECT_EQ(EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key.get()), 1);
    if (alg.starts_with("PS")) {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    size_t size = 0;
    EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(size, '\0');
    EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &size,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
              1);
    sig.resize(size);
    if (!alg.starts_with("ES") || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) return sig;
    // DER -> r||s, each padded to the curve size.
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> ecdsa(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())), ECDSA_SIG_free);
    int half = (EVP_PKEY_get_bits(key.get()) + 7) / 8;
    std::string raw(static_cast<size_t>(2 * half), '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa.get()), reinterpret_cast<unsigned char*>(raw.data()), half);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa.get()), reinterpret_cast<unsigned char*>(raw.data()) + half,
                 half);
    return raw;
  }

  static std::string compact(const std::string& header, const std::string& claims,
                             const std::string& signature) {
    return base64UrlEncode(header) + "." + base64UrlEncode(claims) + "." +
           base64UrlEncode(signature);
  }

  // A token signed with `keyFile`; `keyHeader` is the part of the header naming the key.
  static std::string token(const std::string& keyFile, const std::string& alg,
                           const std::string& keyHeader, const std::string& claims) {
    std::string header = R"({"typ":"JWT","alg":")" + alg + "\"," + keyHeader + "}";
    std::string input = base64UrlEncode(header) + "." + base64UrlEncode(claims);
    return input + "." + base64UrlEncode(sign(keyFile, alg, input));
  }

  std::string claims(
      const std::string& overrides = "",
      const std::string& access =
          R"([{"type":"repository","name":"library/alpine","actions":["pull"]}])") const {
    std::string c = "{";
    auto field = [&](const std::string& name, const std::string& value) {
      if (overrides.find("\"" + name + "\"") != std::string::npos) return;
      c += "\"" + name + "\":" + value + ",";
    };
    field("iss", std::string("\"") + kIssuer + "\"");
    field("sub", "\"alice\"");
    field("aud", std::string("\"") + kService + "\"");
    field("exp", std::to_string(nowSeconds_ + 300));
    field("nbf", std::to_string(nowSeconds_ - 10));
    field("iat", std::to_string(nowSeconds_ - 10));
    field("jti", "\"8e3f\"");
    c += overrides + (overrides.empty() ? "" : ",") + "\"access\":" + access + "}";
    return c;
  }

  static std::string kid(const std::string& certFile) {
    return "\"kid\":\"" + libtrustKeyId(read(certFile)) + "\"";
  }
  static std::string x5c(std::initializer_list<const char*> certFiles) {
    std::string out = "\"x5c\":[";
    for (const char* file : certFiles) {
      std::string pem = read(file);
      std::string b64;
      std::istringstream lines(pem);
      for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("-----")) b64 += line;
      }
      out += (out.back() == '[' ? "\"" : ",\"") + b64 + "\"";
    }
    return out + "]";
  }

  // The message of the Error(kUnauthorized) that verifying `t` throws.
  std::string rejection(const TokenVerifier& verifier, const std::string& t,
                        std::chrono::system_clock::time_point at = {}) const {
    try {
      verifier.verify(t, at == std::chrono::system_clock::time_point{} ? now_ : at);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnauthorized);
      std::string message = e.what();
      std::string lastPart = t.rfind('.') == std::string::npos ? t : t.substr(t.rfind('.') + 1);
      if (lastPart.size() >= 16) {
        EXPECT_THAT(message, Not(HasSubstr(lastPart.substr(0, 16)))) << "message quotes the token";
      }
      return message;
    }
    ADD_FAILURE() << "token accepted";
    return "";
  }

  static TempDir* dir_;
  std::chrono::system_clock::time_point now_;
  int64_t nowSeconds_ = 0;
};

TempDir* TokenAuthTest::dir_ = nullptr;

TEST_F(TokenAuthTest, AcceptsRs256WithLibtrustKid) {
  TokenVerifier verifier(config());
  TokenClaims c = verifier.verify(token("rsa.key", "RS256", kid("rsa.crt"), claims()), now_);
  EXPECT_EQ(c.subject, "alice");
  EXPECT_EQ(c.issuer, kIssuer);
  EXPECT_THAT(c.audience, ElementsAre(kService));
  EXPECT_EQ(c.expiresAt, nowSeconds_ + 300);
  EXPECT_TRUE(c.allows({"repository", "library/alpine", "pull"}));
  EXPECT_FALSE(
      c.allows({"repository", "library/alpine", "push"}));  // pull-only token asking for push
  EXPECT_FALSE(c.allows({"repository", "library/busybox", "pull"}));
  EXPECT_FALSE(c.allows(catalogAccess()));
}

// The libtrust key id, computed independently with the openssl and base32 tools.
TEST_F(TokenAuthTest, LibtrustKeyIdMatchesTheFormat) {
  testing::CommandResult r = testing::sh("openssl x509 -in " + path("ec.crt") +
                                         " -pubkey -noout | openssl pkey -pubin -outform DER | "
                                         "openssl dgst -sha256 -binary | head -c 30 | base32");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string b32 = r.out.substr(0, 48), expected;
  for (size_t i = 0; i < b32.size(); i += 4) expected += (i ? ":" : "") + b32.substr(i, 4);
  EXPECT_EQ(libtrustKeyId(read("ec.crt")), expected);
  EXPECT_EQ(libtrustKeyId(read("ec.crt")).size(), 59u);
  testing::CommandResult pub =
      testing::run({"openssl", "x509", "-in", path("ec.crt"), "-pubkey", "-noout"});
  EXPECT_EQ(libtrustKeyId(pub.out), expected);  // a PUBLIC KEY block works too
  EXPECT_THROW(libtrustKeyId("not pem"), Error);
}

// RFC 7638 section 3.1's example key and thumbprint.
TEST(JwkThumbprint, MatchesRfc7638Example) {
  std::string n = *base64UrlDecode(
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
      "BJECPebWKRXjBZCiFV4n3oknjhMs"
      "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
      "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5"
      "hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-"
      "csFCur-kEgU8awapJzKnqDKgw");
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()),
                nullptr),
      BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> e(BN_new(), BN_free);
  BN_set_word(e.get(), 65537);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), EVP_PKEY_CTX_free);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_BN(bld.get(), "n", bn.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), "e", e.get());
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> built(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                OSSL_PARAM_free);
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, built.get()), 1);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw, EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  ASSERT_EQ(PEM_write_bio_PUBKEY(bio.get(), key.get()), 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  EXPECT_EQ(jwkThumbprint(std::string(data, static_cast<size_t>(size))),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST_F(TokenAuthTest, AcceptsEveryRsaAlgorithmAndEs256) {
  TokenVerifier verifier(config());
  for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}) {
    EXPECT_NO_THROW(verifier.verify(token("rsa.key", alg, kid("rsa.crt"), claims()), now_)) << alg;
  }
  EXPECT_NO_THROW(verifier.verify(token("ec.key", "ES256", kid("ec.crt"), claims()), now_));
  // ES384 names a P-384 key; a P-256 key may not sign under it, nor RSA keys under ES256.
  EXPECT_THAT(rejection(verifier, token("ec.key", "ES384", kid("ec.crt"), claims())),
              HasSubstr("signature"));
  EXPECT_THAT(rejection(verifier, token("rsa.key", "ES256", kid("rsa.crt"), claims())),
              HasSubstr("signature"));
  EXPECT_THAT(rejection(verifier, token("ec.key", "RS256", kid("ec.crt"), claims())),
              HasSubstr("signature"));
}

TEST_F(TokenAuthTest, AcceptsJwkThumbprintKids) {
  TokenVerifier verifier(config());
  std::string rsaKid = "\"kid\":\"" + jwkThumbprint(read("rsa.crt")) + "\"";
  std::string ecKid = "\"kid\":\"" + jwkThumbprint(read("ec.crt")) + "\"";
  EXPECT_NO_THROW(verifier.verify(token("rsa.key", "RS256", rsaKid, claims()), now_));
  EXPECT_NO_THROW(verifier.verify(token("ec.key", "ES256", ecKid, claims()), now_));
  EXPECT_THAT(verifier.trustedKeyIds(), ::testing::Contains(jwkThumbprint(read("rsa.crt"))));
  EXPECT_THAT(verifier.trustedKeyIds(), ::testing::Contains(libtrustKeyId(read("ca.crt"))));
}

// distribution 3 names every P-256 key by the thumbprint of the curve's generator.
TEST_F(TokenAuthTest, AcceptsDistributionsEcKeyId) {
  std::string gx =
      std::string("\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40\xf2", 16) +
      std::string("\x77\x03\x7d\x81\x2d\xeb\x33\xa0\xf4\xa1\x39\x45\xd8\x98\xc2\x96", 16);
  std::string gy =
      std::string("\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a\x7c\x0f\x9e\x16", 16) +
      std::string("\x2b\xce\x33\x57\x6b\x31\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51\xf5", 16);
  std::string json = R"({"crv":"P-256","kty":"EC","x":")" + base64UrlEncode(gx) + R"(","y":")" +
                     base64UrlEncode(gy) + "\"}";
  unsigned char md[32];
  unsigned int size = 0;
  EVP_Digest(json.data(), json.size(), md, &size, EVP_sha256(), nullptr);
  std::string distributionKid = base64UrlEncode(std::string(reinterpret_cast<char*>(md), size));

  TokenVerifier verifier(config());
  std::string t = token("ec.key", "ES256", "\"kid\":\"" + distributionKid + "\"", claims());
  EXPECT_NO_THROW(verifier.verify(t, now_));
  // The same kid does not make any other key trusted.
  testing::CommandResult r = testing::sh("openssl ecparam -name prime256v1 -genkey -noout -out " +
                                         path("other-ec.key") + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_THAT(rejection(verifier, token("other-ec.key", "ES256",
                                        "\"kid\":\"" + distributionKid + "\"", claims())),
              HasSubstr("signature does not verify"));
}

TEST_F(TokenAuthTest, AcceptsX5cChainsToTheBundle) {
  TokenVerifier verifier(config());
  EXPECT_NO_THROW(verifier.verify(token("leaf.key", "ES256", x5c({"leaf.crt"}), claims()), now_));
  EXPECT_NO_THROW(
      verifier.verify(token("leaf.key", "ES256", x5c({"leaf.crt", "ca.crt"}), claims()), now_));
  EXPECT_NO_THROW(verifier.verify(token("rsa.key", "RS256", x5c({"rsa.crt"}), claims()),
                                  now_));  // a bundle cert
  // x5c wins over kid, as in distribution.
  EXPECT_NO_THROW(verifier.verify(
      token("leaf.key", "ES256", x5c({"leaf.crt"}) + "," + kid("rsa.crt"), claims()), now_));

  EXPECT_THAT(rejection(verifier, token("rogue.key", "RS256", x5c({"rogue.crt"}), claims())),
              HasSubstr("x5c chain does not verify"));
  // The rogue signs, but presents the trusted leaf certificate.
  EXPECT_THAT(rejection(verifier, token("rogue.key", "RS256", x5c({"leaf.crt"}), claims())),
              HasSubstr("signature does not verify"));
  // The leaf was valid for one day.
  auto later = now_ + std::chrono::hours(50);
  std::string late = token("leaf.key", "ES256", x5c({"leaf.crt"}),
                           claims("\"exp\":" + std::to_string(nowSeconds_ + 60 * 3600)));
  EXPECT_THAT(rejection(verifier, late, later), HasSubstr("expired"));
  for (const char* bad : {"\"x5c\":[]", "\"x5c\":\"abc\"", "\"x5c\":[\"!!!!\"]",
                          "\"x5c\":[\"AAAA\"]", "\"x5c\":[1]"}) {
    EXPECT_THAT(rejection(verifier, token("leaf.key", "ES256", bad, claims())), HasSubstr("x5c"))
        << bad;
  }
}

TEST_F(TokenAuthTest, RejectsUntrustedKeys) {
  TokenVerifier verifier(config());
  EXPECT_THAT(rejection(verifier, token("rogue.key", "RS256", kid("rogue.crt"), claims())),
              HasSubstr("untrusted key id"));
  EXPECT_THAT(rejection(verifier, token("rogue.key", "RS256", kid("rsa.crt"), claims())),
              HasSubstr("signature does not verify"));
  EXPECT_THAT(rejection(verifier, token("rsa.key", "RS256", "\"typ2\":1", claims())),
              HasSubstr("x5c or kid"));
  EXPECT_THAT(rejection(verifier, token("rsa.key", "RS256", "\"kid\":7", claims())),
              HasSubstr("x5c or kid"));
}

TEST_F(TokenAuthTest, RejectsWrongIssuerAndAudience) {
  TokenVerifier verifier(config());
  EXPECT_THAT(
      rejection(verifier, token("rsa.key", "RS256", kid("rsa.crt"), claims("\"iss\":\"evil\""))),
      HasSubstr("issuer \"evil\""));
  EXPECT_THAT(rejection(verifier, token("rsa.key", "RS256", kid("rsa.crt"), claims("\"iss\":5"))),
              HasSubstr("\"iss\""));
  EXPECT_THAT(
      rejection(verifier, token("rsa.key", "RS256", kid("rsa.crt"), claims("\"aud\":\"other\""))),
      HasSubstr("audience"));
  EXPECT_THAT(rejection(verifier,
                        token("rsa.key", "RS256", kid("rsa.crt"), claims("\"aud\":[\"a\",\"b\"]"))),
              HasSubstr("audience"));
  EXPECT_THAT(
      rejection(verifier, token("rsa.key", "RS256", kid("rsa.crt"), claims("\"aud\":[\"a\",3]"))),
      HasSubstr("aud"));
  std::string noAud =
      "{\"iss\":\"" + std::string(kIssuer) + "\",\"exp\":" + std::to_string(nowSeconds_ + 60) + "}";
  EXPECT_THAT(rejection(verifier, token("rsa.key", "RS256", kid("rsa.crt"), noAud)),
              HasSubstr("audience"));
  // An array that contains the service is fine.
  EXPECT_NO_THROW(
      verifier.verify(token("rsa.key", "RS256", kid("rsa.crt"),
                            claims(std::string("\"aud\":[\"x\",\"") + kService + "\"]")),
                      now_));
}

TEST_F(TokenAuthTest, ChecksExpiryAndNotBeforeWithLeeway) {
  TokenVerifier verifier(config());
  auto at = [&](const std::string& c) {
    return token("rsa.key", "RS256", kid("rsa.crt"), claims(c));
  };
  EXPECT_THAT(rejection(verifier, at("\"exp\":" + std::to_string(nowSeconds_ - 61))),
              HasSubstr("expired"));
  EXPECT_NO_THROW(
      verifier.verify(at("\"exp\":" + std::to_string(nowSeconds_ - 30)), now_));  // within leeway
  EXPECT_THAT(rejection(verifier, at("\"nbf\":" + std::to_string(nowSeconds_ + 120))),
              HasSubstr("not valid yet"));
  EXPECT_NO_THROW(verifier.verify(at("\"nbf\":" + std::to_string(nowSeconds_ + 30)), now_));
  EXPECT_NO_THROW(verifier.verify(at("\"nbf\":null"), now_));
  EXPECT_NO_THROW(verifier.verify(at("\"exp\":" + std::to_string(nowSeconds_ + 100) + ".5"), now_));
  EXPECT_NO_THROW(
      verifier.verify(at("\"exp\":9223372036854775807,\"nbf\":-9223372036854775808"), now_));
  EXPECT_THAT(rejection(verifier, at("\"exp\":-9223372036854775808")), HasSubstr("expired"));
  EXPECT_THAT(rejection(verifier, at("\"nbf\":9223372036854775807")), HasSubstr("not valid yet"));
  EXPECT_THAT(rejection(verifier, at("\"exp\":1e300")), HasSubstr("exp"));
  EXPECT_THAT(rejection(verifier, at("\"exp\":null")), HasSubstr("exp"));
  EXPECT_THAT(rejection(verifier, at("\"exp\":\"tomorrow\"")), HasSubstr("exp"));
  EXPECT_THAT(rejection(verifier, at("\"nbf\":\"now\"")), HasSubstr("nbf"));
  // The clock passed in is the one used.
  std::string t = at("");
  EXPECT_NO_THROW(verifier.verify(t, now_ + std::chrono::seconds(350)));
  EXPECT_THAT(rejection(verifier, t, now_ + std::chrono::seconds(400)), HasSubstr("expired"));
}

TEST_F(TokenAuthTest, RejectsTamperedSignaturesAndClaims) {
  TokenVerifier verifier(config());
  for (const auto& [keyFile, alg, keyHeader] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"rsa.key", "RS256", kid("rsa.crt")}, {"ec.key", "ES256", kid("ec.crt")}}) {
    std::string t = token(keyFile, alg, keyHeader, claims());
    size_t dot = t.rfind('.');
    std::string sig = *base64UrlDecode(t.substr(dot + 1));
    sig[sig.size() / 2] ^= 1;
    EXPECT_THAT(rejection(verifier, t.substr(0, dot + 1) + base64UrlEncode(sig)),
                HasSubstr("signature"))
        << alg;
    EXPECT_THAT(rejection(verifier, t.substr(0, dot + 1) + base64UrlEncode(sig.substr(1))),
                HasSubstr("signature"));
    EXPECT_THAT(rejection(verifier, t.substr(0, dot + 1)), HasSubstr("no signature"));
    // Claims swapped for ones granting push, signature kept.
    std::string forged =
        t.substr(0, t.find('.') + 1) +
        base64UrlEncode(
            claims("", R"([{"type":"repository","name":"library/alpine","actions":["*"]}])")) +
        t.substr(dot);
    EXPECT_THAT(rejection(verifier, forged), HasSubstr("signature")) << alg;
  }
}

TEST_F(TokenAuthTest, RejectsAlgNoneAndHmacConfusion) {
  TokenVerifier verifier(config());
  std::string none = R"({"typ":"JWT","alg":"none",)" + kid("rsa.crt") + "}";
  EXPECT_THAT(rejection(verifier, compact(none, claims(), "")), HasSubstr("no signature"));
  EXPECT_THAT(rejection(verifier, compact(none, claims(), "x")),
              HasSubstr("\"none\" is not accepted"));
  std::string noneUpper = R"({"alg":"None",)" + kid("rsa.crt") + "}";
  EXPECT_THAT(rejection(verifier, compact(noneUpper, claims(), "x")), HasSubstr("not accepted"));

  // HS256 keyed with the (public) certificate and its public key, as a confused verifier would.
  for (const std::string& secret :
       {read("rsa.crt"),
        testing::run({"openssl", "x509", "-in", path("rsa.crt"), "-pubkey", "-noout"}).out}) {
    std::string header = R"({"typ":"JWT","alg":"HS256",)" + kid("rsa.crt") + "}";
    std::string input = base64UrlEncode(header) + "." + base64UrlEncode(claims());
    unsigned char mac[32];
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size);
    std::string t = input + "." + base64UrlEncode(std::string(reinterpret_cast<char*>(mac), size));
    EXPECT_THAT(rejection(verifier, t), HasSubstr("\"HS256\" is not accepted"));
  }
  EXPECT_THAT(rejection(verifier, token("rsa.key", "RS256", kid("rsa.crt") + ",\"crit\":[\"exp\"]",
                                        claims())),
              HasSubstr("crit"));
}

TEST_F(TokenAuthTest, RejectsGarbage) {
  TokenVerifier verifier(config());
  std::string valid = token("rsa.key", "RS256", kid("rsa.crt"), claims());
  std::string header = valid.substr(0, valid.find('.'));
  std::string sig = valid.substr(valid.rfind('.') + 1);
  for (const std::string& bad : std::vector<std::string>{
           "", "abc", "a.b", "a.b.c.d", "...", "!!!.###.$$$", valid + ".", "." + valid, valid + "=",
           base64UrlEncode("not json") + "." + base64UrlEncode("{}") + "." + sig,
           base64UrlEncode("[1,2]") + "." + base64UrlEncode("{}") + "." + sig,
           base64UrlEncode("{\"alg\":5}") + "." + base64UrlEncode("{}") + "." + sig,
           header + "." + base64UrlEncode("not json") + "." + sig,
           header + "." + base64UrlEncode("{") + "." + sig,
           base64UrlEncode(*base64UrlDecode(header) + "x") + valid.substr(valid.find('.')),
           std::string(70000, 'a'), std::string("a\0b.c.d", 7)}) {
    rejection(verifier, bad);
  }
}

// Runs `fn` on a thread with a 512 KiB stack, which a parser recursing once per nesting level
// overflows long before the deepest token the size limit lets in.
void onSmallStack(const std::function<void()>& fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 512 << 10);
  pthread_t thread;
  auto body = [](void* f) -> void* {
    (*static_cast<const std::function<void()>*>(f))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, body, const_cast<std::function<void()>*>(&fn)), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

TEST_F(TokenAuthTest, DeepNestingDoesNotExhaustTheStack) {
  TokenVerifier verifier(config());
  std::string sig = base64UrlEncode("signature");
  // As deep as 64 KiB of token holds: in the header, which is parsed before the signature
  // is checked, and in the claims of a token with a good signature.
  size_t depth = 23'000;
  std::string nested = std::string(depth, '[') + std::string(depth, ']');
  std::string signedDeep = token("rsa.key", "RS256", kid("rsa.crt"), nested);
  onSmallStack([&] {
    for (const std::string& bad :
         {base64UrlEncode(nested) + "." + base64UrlEncode("{}") + "." + sig,
          base64UrlEncode(std::string(2 * depth, '[')) + "." + base64UrlEncode("{}") + "." + sig,
          signedDeep}) {
      ASSERT_LE(bad.size(), 64u << 10);
      EXPECT_THAT(rejection(verifier, bad), HasSubstr("not a JSON object")) << bad.substr(0, 40);
    }
  });
}

TEST_F(TokenAuthTest, MessagesNeverQuoteTheToken) {
  TokenVerifier verifier(config());
  std::string t = token("rsa.key", "RS256", kid("rsa.crt"), claims("\"iss\":\"evil\""));
  std::string message = rejection(verifier, t);
  EXPECT_THAT(message, Not(HasSubstr(t.substr(0, 20))));
  EXPECT_THAT(message, Not(HasSubstr(t.substr(t.find('.') + 1, 20))));
}

TEST_F(TokenAuthTest, AccessClaimsGrantExactlyWhatTheyList) {
  TokenVerifier verifier(config());
  std::string access = R"([
      {"type":"repository","name":"team/app","actions":["pull","push"]},
      {"type":"repository","name":"team/app","actions":["delete"]},
      {"type":"repository","name":"all/things","actions":["*"]},
      {"type":"repository","name":"nothing","actions":[]},
      {"type":"repository","name":"nulls","actions":null},
      {"type":"registry","name":"catalog","actions":["*"]}])";
  TokenClaims c =
      verifier.verify(token("ec.key", "ES256", kid("ec.crt"), claims("", access)), now_);
  EXPECT_TRUE(c.allows({"repository", "team/app", "pull"}));
  EXPECT_TRUE(c.allows({"repository", "team/app", "push"}));
  EXPECT_TRUE(c.allows({"repository", "team/app", "delete"}));
  EXPECT_TRUE(c.allows({"repository", "all/things", "pull"}));
  EXPECT_TRUE(c.allows({"repository", "all/things", "push"}));
  EXPECT_TRUE(c.allows({"repository", "all/things", "delete"}));
  EXPECT_FALSE(c.allows({"repository", "all", "pull"}));
  EXPECT_FALSE(c.allows({"repository", "team/app2", "pull"}));
  EXPECT_FALSE(c.allows({"repository", "nothing", "pull"}));
  EXPECT_FALSE(c.allows({"repository", "nulls", "pull"}));
  EXPECT_FALSE(c.allows({"registry", "team/app", "pull"}));
  EXPECT_TRUE(c.allows(catalogAccess()));

  TokenClaims pullOnly = verifier.verify(token("ec.key", "ES256", kid("ec.crt"), claims()), now_);
  EXPECT_FALSE(pullOnly.allows(catalogAccess()));
  TokenClaims pullCatalog = verifier.verify(
      token("ec.key", "ES256", kid("ec.crt"),
            claims("", R"([{"type":"registry","name":"catalog","actions":["pull"]}])")),
      now_);
  EXPECT_FALSE(pullCatalog.allows(catalogAccess()));  // distribution asks for "*"
  TokenClaims none =
      verifier.verify(token("ec.key", "ES256", kid("ec.crt"), claims("", "null")), now_);
  EXPECT_TRUE(none.access.empty());

  EXPECT_THAT(rejection(verifier, token("ec.key", "ES256", kid("ec.crt"), claims("", "{}"))),
              HasSubstr("access"));
  EXPECT_THAT(
      rejection(verifier, token("ec.key", "ES256", kid("ec.crt"), claims("", R"([{"name":"a"}])"))),
      HasSubstr("access"));
  EXPECT_THAT(
      rejection(verifier, token("ec.key", "ES256", kid("ec.crt"),
                                claims("", R"([{"type":"repository","name":"a","actions":[1]}])"))),
      HasSubstr("access"));
}

TEST_F(TokenAuthTest, TrustsJwksKeys) {
  // The EC key as a JWK with its own kid, and no certificate bundle at all.
  testing::CommandResult gen = testing::sh("openssl ecparam -name prime256v1 -genkey -noout -out " +
                                           path("jwk.key") + " 2>&1");
  ASSERT_EQ(gen.status, 0) << gen.out;
  std::string pem = read("jwk.key");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  ASSERT_TRUE(key);
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), "qx", &x), 1);
  ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), "qy", &y), 1);
  std::string xb(32, '\0'), yb(32, '\0');
  BN_bn2binpad(x, reinterpret_cast<unsigned char*>(xb.data()), 32);
  BN_bn2binpad(y, reinterpret_cast<unsigned char*>(yb.data()), 32);
  BN_free(x);
  BN_free(y);
  testing::writeFile(
      dir_->path() / "jwks.json",
      R"({"keys":[{"kty":"EC","crv":"P-256","kid":"signing-2024","use":"sig","x":")" +
          base64UrlEncode(xb) + R"(","y":")" + base64UrlEncode(yb) + "\"}]}");
  TokenAuthConfig c = config();
  c.rootCertBundle = "";
  c.jwks = path("jwks.json");
  TokenVerifier verifier(c);
  EXPECT_NO_THROW(
      verifier.verify(token("jwk.key", "ES256", "\"kid\":\"signing-2024\"", claims()), now_));
  EXPECT_THAT(rejection(verifier, token("ec.key", "ES256", "\"kid\":\"signing-2024\"", claims())),
              HasSubstr("signature"));
  EXPECT_THAT(rejection(verifier, token("ec.key", "ES256", kid("ec.crt"), claims())),
              HasSubstr("untrusted"));
  EXPECT_THAT(rejection(verifier, token("leaf.key", "ES256", x5c({"leaf.crt"}), claims())),
              HasSubstr("x5c"));
}

// The Error(kConfigInvalid) message of constructing a verifier from `c`.
std::string configError(const TokenAuthConfig& c) {
  return testing::configError([&] { TokenVerifier verifier(c); });
}

TEST_F(TokenAuthTest, ConfigErrorsNameTheFile) {
  TokenAuthConfig c = config();
  c.rootCertBundle = path("absent.pem");
  EXPECT_THAT(configError(c), AllOf(HasSubstr("rootcertbundle"), HasSubstr("absent.pem")));
  testing::writeFile(dir_->path() / "empty.pem", "no certificates here\n");
  c.rootCertBundle = path("empty.pem");
  EXPECT_THAT(configError(c), HasSubstr("no token signing key"));
  testing::writeFile(
      dir_->path() / "broken.pem",
      read("rsa.crt") + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  c.rootCertBundle = path("broken.pem");
  EXPECT_THAT(configError(c), HasSubstr("PEM block 2"));
  c.rootCertBundle = "";
  for (const char* jwks :
       {"nope", "{}", R"({"keys":[1]})", R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})",
        R"({"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]})",
        R"({"keys":[{"kty":"RSA","n":"","e":"AQAB"}]})"}) {
    testing::writeFile(dir_->path() / "bad.json", jwks);
    c.jwks = path("bad.json");
    EXPECT_THAT(configError(c), HasSubstr("auth.token.jwks")) << jwks;
  }
}

TEST_F(TokenAuthTest, DeeplyNestedJwkSetIsAConfigurationError) {
  TokenAuthConfig c = config();
  testing::writeFile(dir_->path() / "deep.json", "{\"keys\":" + std::string(1'000'000, '[') +
                                                     std::string(1'000'000, ']') + "}");
  c.jwks = path("deep.json");
  EXPECT_THAT(configError(c), HasSubstr("auth.token.jwks"));
}

TEST_F(TokenAuthTest, AuthenticatorAnswersAsDistribution) {
  AuthConfig config;
  config.kind = AuthKind::kToken;
  config.token = this->config();
  std::unique_ptr<Authenticator> auth = makeAuthenticator(config);
  RepoName repo = RepoName::parse("library/alpine");
  std::string pull = token("ec.key", "ES256", kid("ec.crt"), claims());
  std::string all =
      token("ec.key", "ES256", kid("ec.crt"),
            claims("", R"([{"type":"repository","name":"library/alpine","actions":["*"]},)"
                       R"({"type":"registry","name":"catalog","actions":["*"]}])"));
  auto ask = [&](std::vector<Access> access, const std::string& authorization) {
    return auth->authorize(
        {std::move(access), authorization, "192.0.2.1", "registry.example.com:5000", ""});
  };
  const std::string realm =
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com")";

  AuthDecision d = ask(repositoryAccess("GET", repo), "");
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.kind, ErrorKind::kUnauthorized);
  EXPECT_EQ(d.wwwAuthenticate, realm + R"(,scope="repository:library/alpine:pull")");
  EXPECT_EQ(ask({}, "").wwwAuthenticate, realm);

  d = ask(repositoryAccess("GET", repo), "Bearer " + pull);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.user, "alice");
  EXPECT_TRUE(ask(repositoryAccess("HEAD", repo), "bearer  " + pull).allowed);
  EXPECT_TRUE(ask({}, "Bearer " + pull).allowed);  // /v2/: any valid token

  d = ask(repositoryAccess("PUT", repo), "Bearer " + pull);  // pull-only token asking for push
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.wwwAuthenticate,
            realm + R"(,scope="repository:library/alpine:pull,push",error="insufficient_scope")");
  EXPECT_THAT(d.logDetail, HasSubstr("repository:library/alpine:push"));
  EXPECT_FALSE(ask({catalogAccess()}, "Bearer " + pull).allowed);
  EXPECT_FALSE(
      ask(repositoryAccess("GET", RepoName::parse("library/busybox")), "Bearer " + pull).allowed);

  EXPECT_TRUE(ask(repositoryAccess("PATCH", repo), "Bearer " + all).allowed);
  EXPECT_TRUE(ask(repositoryAccess("DELETE", repo), "Bearer " + all).allowed);
  EXPECT_TRUE(ask({catalogAccess()}, "Bearer " + all).allowed);

  std::string forged = pull.substr(0, pull.size() - 4) + "AAAA";
  d = ask(repositoryAccess("GET", repo), "Bearer " + forged);
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.wwwAuthenticate,
            realm + R"(,scope="repository:library/alpine:pull",error="invalid_token")");
  EXPECT_THAT(d.logDetail, Not(HasSubstr(forged.substr(forged.rfind('.') + 1, 16))));
  d = ask(repositoryAccess("GET", repo), "Basic " + base64Encode("alice:apple"));
  EXPECT_EQ(d.wwwAuthenticate, realm + R"(,scope="repository:library/alpine:pull")");

  config.token.autoRedirect = true;
  std::unique_ptr<Authenticator> redirecting = makeAuthenticator(config);
  d = redirecting->authorize({{}, "", "", "registry.example.com:5000", ""});
  EXPECT_EQ(
      d.wwwAuthenticate,
      R"(Bearer realm="https://registry.example.com:5000/auth/token",service="registry.example.com")");
  d = redirecting->authorize({{}, "", "", "localhost:5000", "http"});
  EXPECT_THAT(d.wwwAuthenticate, HasSubstr(R"(realm="http://localhost:5000/auth/token")"));
}

TEST(BearerChallenge, WritesWhatDistributionWrites) {
  std::vector<Access> push = repositoryAccess("PUT", RepoName::parse("library/alpine"));
  EXPECT_EQ(bearerChallenge("https://auth.example.com/token", "registry.example.com", push,
                            BearerError::kNone),
            R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",)"
            R"(scope="repository:library/alpine:pull,push")");
  EXPECT_EQ(bearerChallenge("r", "s", {}, BearerError::kInvalidToken),
            R"(Bearer realm="r",service="s",error="invalid_token")");
  std::vector<Access> mount = push;
  for (const Access& a : repositoryAccess("GET", RepoName::parse("base/image"))) mount.push_back(a);
  EXPECT_EQ(
      bearerChallenge("r", "s", mount, BearerError::kInsufficientScope),
      R"(Bearer realm="r",service="s",scope="repository:library/alpine:pull,push repository:base/image:pull",)"
      R"(error="insufficient_scope")");
  EXPECT_EQ(bearerChallenge("r", "s", {catalogAccess()}, BearerError::kNone),
            R"(Bearer realm="r",service="s",scope="registry:catalog:*")");
  EXPECT_EQ(quoteHeaderValue("a\"b\\c\r\nd"), R"("a\"b\\cd")");
}

TEST(Access, FollowsDistributionsMethodTable) {
  RepoName repo = RepoName::parse("team/app");
  EXPECT_THAT(repositoryAccess("GET", repo), ElementsAre(Access{"repository", "team/app", "pull"}));
  EXPECT_THAT(repositoryAccess("HEAD", repo),
              ElementsAre(Access{"repository", "team/app", "pull"}));
  for (const char* method : {"POST", "PUT", "PATCH"}) {
    EXPECT_THAT(repositoryAccess(method, repo),
                ElementsAre(Access{"repository", "team/app", "pull"},
                            Access{"repository", "team/app", "push"}));
  }
  EXPECT_THAT(repositoryAccess("DELETE", repo),
              ElementsAre(Access{"repository", "team/app", "delete"}));
  EXPECT_TRUE(repositoryAccess("OPTIONS", repo).empty());
  EXPECT_EQ(catalogAccess(), (Access{"registry", "catalog", "*"}));
  EXPECT_EQ(
      scopeParam(
          {{"repository", "a", "pull"}, {"repository", "a", "pull"}, {"repository", "a", "push"}}),
      "repository:a:pull,push");
}

}  // namespace
}  // namespace regfs
