#include "common/auth/token_auth.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "common/base64.h"
#include "common/error.h"
#include "common/handles.h"

namespace regfs {
namespace {

constexpr size_t kMaxTokenSize = 64 * 1024;

using PkeyPtr = std::shared_ptr<EVP_PKEY>;
using X509Ptr = CPtr<X509, X509_free>;
using BioPtr = CPtr<BIO, BIO_free_all>;
using BnPtr = CPtr<BIGNUM, BN_free>;
using MdCtxPtr = CPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using PkeyCtxPtr = CPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using StoreCtxPtr = CPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using EcGroupPtr = CPtr<EC_GROUP, EC_GROUP_free>;
using EcdsaSigPtr = CPtr<ECDSA_SIG, ECDSA_SIG_free>;
using ParamBldPtr = CPtr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamPtr = CPtr<OSSL_PARAM, OSSL_PARAM_free>;
// Functions for what OpenSSL frees through macros.
void freeX509Stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
void freeOpenssl(void* p) { OPENSSL_free(p); }
using X509StackPtr = CPtr<STACK_OF(X509), freeX509Stack>;
// Bytes OpenSSL allocated and handed out (a DER encoding, a PEM block's parts).
template <typename T>
using OpensslBytes = CPtr<T, freeOpenssl>;

PkeyPtr ownPkey(EVP_PKEY* key) { return PkeyPtr(key, EVP_PKEY_free); }

[[noreturn]] void invalid(const std::string& why) {
  ERR_clear_error();
  throw Error(ErrorKind::kUnauthorized, "invalid token: " + why);
}

// A token-supplied string made safe and short for a message.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) out += (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
  if (s.size() > 80) out += "...";
  return "\"" + out + "\"";
}

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), n);
}

std::string bnBytes(const BIGNUM* bn, int padTo = 0) {
  int size = std::max(BN_num_bytes(bn), padTo);
  std::string out(static_cast<size_t>(size), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  return out;
}

BnPtr bnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return nullptr;
  return BnPtr(bn);
}

// JOSE's name of an EC key's curve ("P-256"), or "" if it is not one JOSE knows.
std::string joseCurve(EVP_PKEY* key) {
  char group[64] = {};
  size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) != 1) return "";
  std::string_view name(group, length);
  if (name == "prime256v1" || name == "P-256") return "P-256";
  if (name == "secp384r1" || name == "P-384") return "P-384";
  if (name == "secp521r1" || name == "P-521") return "P-521";
  return "";
}

int curveNid(const std::string& joseName) {
  if (joseName == "P-256") return NID_X9_62_prime256v1;
  if (joseName == "P-384") return NID_secp384r1;
  if (joseName == "P-521") return NID_secp521r1;
  return NID_undef;
}

size_t curveBytes(const std::string& joseName) {
  if (joseName == "P-256") return 32;
  if (joseName == "P-384") return 48;
  if (joseName == "P-521") return 66;
  return 0;
}

std::string rsaThumbprintInput(const std::string& n, const std::string& e) {
  return "{\"e\":\"" + base64UrlEncode(e) + "\",\"kty\":\"RSA\",\"n\":\"" + base64UrlEncode(n) +
         "\"}";
}

std::string ecThumbprintInput(const std::string& crv, const std::string& x, const std::string& y) {
  return "{\"crv\":\"" + crv + "\",\"kty\":\"EC\",\"x\":\"" + base64UrlEncode(x) + "\",\"y\":\"" +
         base64UrlEncode(y) + "\"}";
}

// RFC 7638: SHA-256 over the required members in lexical order, no whitespace.
std::string thumbprintOf(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    BnPtr n = bnParam(key, OSSL_PKEY_PARAM_RSA_N), e = bnParam(key, OSSL_PKEY_PARAM_RSA_E);
    if (!n || !e) return "";
    return base64UrlEncode(sha256(rsaThumbprintInput(bnBytes(n.get()), bnBytes(e.get()))));
  }
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    std::string crv = joseCurve(key);
    BnPtr x = bnParam(key, OSSL_PKEY_PARAM_EC_PUB_X), y = bnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y);
    if (crv.empty() || !x || !y) return "";
    int size = static_cast<int>(curveBytes(crv));
    return base64UrlEncode(
        sha256(ecThumbprintInput(crv, bnBytes(x.get(), size), bnBytes(y.get(), size))));
  }
  return "";
}

// distribution 3's GetRFC7638Thumbprint hashes the curve's generator point instead of the
// key's own (and drops leading zero bytes), so token servers built on it send this kid.
std::string distributionEcKeyId(EVP_PKEY* key) {
  std::string crv = joseCurve(key);
  if (crv.empty()) return "";
  EcGroupPtr group(EC_GROUP_new_by_curve_name(curveNid(crv)));
  BnPtr x(BN_new()), y(BN_new());
  if (!group || !x || !y ||
      EC_POINT_get_affine_coordinates(group.get(), EC_GROUP_get0_generator(group.get()), x.get(),
                                      y.get(), nullptr) != 1) {
    return "";
  }
  return base64UrlEncode(sha256(ecThumbprintInput(crv, bnBytes(x.get()), bnBytes(y.get()))));
}

// libtrust: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32, in groups
// of four joined by ':'.
std::string libtrustIdOf(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key, &der);
  OpensslBytes<unsigned char> owned(der);
  if (length <= 0) return "";
  std::string digest =
      sha256(std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(length)));
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string base32;
  uint64_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < 30; ++i) {
    buffer = (buffer << 8) | static_cast<unsigned char>(digest[i]);
    bits += 8;
    while (bits >= 5) {
      base32 += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  std::string id;
  for (size_t i = 0; i < base32.size(); i += 4) id += (i ? ":" : "") + base32.substr(i, 4);
  return id;
}

// A public key from PEM: a certificate's, or a PUBLIC KEY block.
PkeyPtr publicKeyFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert) {
    EVP_PKEY* key = X509_get_pubkey(cert.get());
    if (key) return ownPkey(key);
  }
  ERR_clear_error();
  bio.reset(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  ERR_clear_error();
  if (!key) throw Error(ErrorKind::kInvalidArgument, "not a PEM certificate or public key");
  return ownPkey(key);
}

std::string readFileOrThrow(const std::string& path, const char* key) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  if (in) content << in.rdbuf();
  if (!in || in.bad()) {
    throw Error(ErrorKind::kConfigInvalid,
                std::string(key) + ": cannot read " + path + ": " + std::strerror(errno));
  }
  return content.str();
}

// The JWS algorithms regfs verifies.
enum class Family { kRsaPkcs1, kRsaPss, kEcdsa };
struct Algorithm {
  std::string_view name;
  Family family;
  const EVP_MD* (*md)();
  std::string_view curve;  // for ECDSA
};
constexpr Algorithm kAlgorithms[] = {
    {"RS256", Family::kRsaPkcs1, EVP_sha256, ""},   {"RS384", Family::kRsaPkcs1, EVP_sha384, ""},
    {"RS512", Family::kRsaPkcs1, EVP_sha512, ""},   {"PS256", Family::kRsaPss, EVP_sha256, ""},
    {"PS384", Family::kRsaPss, EVP_sha384, ""},     {"PS512", Family::kRsaPss, EVP_sha512, ""},
    {"ES256", Family::kEcdsa, EVP_sha256, "P-256"}, {"ES384", Family::kEcdsa, EVP_sha384, "P-384"},
    {"ES512", Family::kEcdsa, EVP_sha512, "P-521"},
};

// JWS ECDSA signatures are r||s, each padded to the curve size; OpenSSL wants DER.
std::optional<std::string> ecdsaRawToDer(std::string_view raw, size_t half) {
  if (raw.size() != 2 * half) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(bytes, static_cast<int>(half), nullptr));
  BnPtr s(BN_bin2bn(bytes + half, static_cast<int>(half), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();
  (void)s.release();
  unsigned char* der = nullptr;
  int length = i2d_ECDSA_SIG(sig.get(), &der);
  OpensslBytes<unsigned char> owned(der);
  if (length <= 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
}

// Whether `key` is of the kind `alg` needs; refuses e.g. an EC key for RS256.
bool keyFits(EVP_PKEY* key, const Algorithm& alg) {
  int id = EVP_PKEY_get_base_id(key);
  if (alg.family == Family::kEcdsa) return id == EVP_PKEY_EC && joseCurve(key) == alg.curve;
  return (id == EVP_PKEY_RSA || (alg.family == Family::kRsaPss && id == EVP_PKEY_RSA_PSS)) &&
         EVP_PKEY_get_bits(key) >= 1024;
}

bool signatureVerifies(EVP_PKEY* key, const Algorithm& alg, std::string_view input,
                       std::string_view signature) {
  if (!keyFits(key, alg)) return false;
  std::string der;
  if (alg.family == Family::kEcdsa) {
    std::optional<std::string> converted =
        ecdsaRawToDer(signature, curveBytes(std::string(alg.curve)));
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, alg.md(), nullptr, key) != 1) return false;
  if (alg.family == Family::kRsaPkcs1 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
    return false;
  if (alg.family == Family::kRsaPss &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    return false;
  }
  int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                            input.size());
  ERR_clear_error();
  return ok == 1;
}

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

// A NumericDate: an integer or a JSON number with a fraction (truncated).
std::optional<int64_t> numericDate(const rapidjson::Value* v) {
  if (!v) return std::nullopt;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsNumber() && v->GetDouble() > -9.2e18 && v->GetDouble() < 9.2e18)
    return static_cast<int64_t>(v->GetDouble());
  return std::nullopt;
}

rapidjson::Document parseJsonObject(std::string_view text, const char* what) {
  rapidjson::Document doc;
  // Iterative: a header of nested brackets, read before any signature is checked, must not
  // recurse once per level (trailing bytes after the object are an error).
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) invalid(std::string(what) + " is not a JSON object");
  return doc;
}

}  // namespace

struct TokenVerifier::Keys {
  CPtr<X509_STORE, X509_STORE_free> roots{X509_STORE_new()};
  size_t rootCount = 0;
  std::map<std::string, std::vector<PkeyPtr>> byKid;

  void add(const std::string& kid, const PkeyPtr& key) {
    if (kid.empty()) return;
    std::vector<PkeyPtr>& keys = byKid[kid];
    for (const PkeyPtr& k : keys) {
      if (EVP_PKEY_eq(k.get(), key.get()) == 1) return;
    }
    keys.push_back(key);
  }
  void addAllIds(const PkeyPtr& key) {
    add(libtrustIdOf(key.get()), key);
    add(thumbprintOf(key.get()), key);
    if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC) add(distributionEcKeyId(key.get()), key);
  }

  void loadBundle(const std::string& path) {
    const char* key = "auth.token.rootcertbundle";
    std::string pem = readFileOrThrow(path, key);
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    for (int block = 1;; ++block) {
      char* name = nullptr;
      char* header = nullptr;
      unsigned char* data = nullptr;
      long length = 0;
      if (PEM_read_bio(bio.get(), &name, &header, &data, &length) != 1) break;
      OpensslBytes<char> ownedName(name), ownedHeader(header);
      OpensslBytes<unsigned char> ownedData(data);
      std::string type = name;
      const unsigned char* p = data;
      X509Ptr cert(type == "CERTIFICATE" ? d2i_X509(nullptr, &p, length) : nullptr);
      if (type != "CERTIFICATE") continue;  // distribution skips other blocks too
      if (!cert) {
        throw Error(ErrorKind::kConfigInvalid, std::string(key) + ": PEM block " +
                                                   std::to_string(block) + " of " + path +
                                                   " is not a valid certificate");
      }
      X509_STORE_add_cert(roots.get(), cert.get());
      EVP_PKEY* pub = X509_get_pubkey(cert.get());
      if (pub) addAllIds(ownPkey(pub));
      ++rootCount;
    }
    ERR_clear_error();
  }

  void loadJwks(const std::string& path) {
    const char* key = "auth.token.jwks";
    std::string text = readFileOrThrow(path, key);
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    const rapidjson::Value* keys =
        doc.HasParseError() || !doc.IsObject() ? nullptr : member(doc, "keys");
    if (!keys || !keys->IsArray()) {
      throw Error(ErrorKind::kConfigInvalid,
                  std::string(key) + ": " + path + " is not a JWK set ({\"keys\": [...]})");
    }
    for (rapidjson::SizeType i = 0; i < keys->Size(); ++i) {
      std::string where = std::string(key) + ": key " + std::to_string(i) + " of " + path + ": ";
      const rapidjson::Value& jwk = (*keys)[i];
      if (!jwk.IsObject()) throw Error(ErrorKind::kConfigInvalid, where + "not an object");
      PkeyPtr pkey = keyFromJwk(jwk, where);
      const rapidjson::Value* kid = member(jwk, "kid");
      if (kid && kid->IsString()) add(str(*kid), pkey);
      add(thumbprintOf(pkey.get()), pkey);
    }
  }

  static std::string b64Member(const rapidjson::Value& jwk, const char* name,
                               const std::string& where) {
    const rapidjson::Value* v = member(jwk, name);
    std::optional<std::string> bytes;
    if (v && v->IsString()) bytes = base64UrlDecode(str(*v));
    if (!bytes || bytes->empty()) {
      throw Error(ErrorKind::kConfigInvalid,
                  where + "\"" + name + "\" is missing or not base64url");
    }
    return *bytes;
  }

  static PkeyPtr keyFromJwk(const rapidjson::Value& jwk, const std::string& where) {
    const rapidjson::Value* kty = member(jwk, "kty");
    std::string type = kty && kty->IsString() ? str(*kty) : "";
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    BnPtr n, e;
    std::string point, group;
    const char* algorithm = nullptr;
    if (type == "RSA") {
      std::string nb = b64Member(jwk, "n", where), eb = b64Member(jwk, "e", where);
      n.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(nb.data()),
                        static_cast<int>(nb.size()), nullptr));
      e.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(eb.data()),
                        static_cast<int>(eb.size()), nullptr));
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
      algorithm = "RSA";
    } else if (type == "EC") {
      const rapidjson::Value* crv = member(jwk, "crv");
      std::string curve = crv && crv->IsString() ? str(*crv) : "";
      size_t size = curveBytes(curve);
      if (!size)
        throw Error(ErrorKind::kConfigInvalid,
                    where + "unsupported curve (use P-256, P-384 or P-521)");
      std::string x = b64Member(jwk, "x", where), y = b64Member(jwk, "y", where);
      if (x.size() != size || y.size() != size) {
        throw Error(ErrorKind::kConfigInvalid,
                    where + "x and y must be " + std::to_string(size) + " bytes");
      }
      point = "\x04" + x + y;
      group = OBJ_nid2sn(curveNid(curve));
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0);
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size());
      algorithm = "EC";
    } else {
      throw Error(ErrorKind::kConfigInvalid, where + "unsupported key type (use RSA or EC)");
    }
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
    EVP_PKEY* pkey = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || !pkey) {
      ERR_clear_error();
      throw Error(ErrorKind::kConfigInvalid, where + "not a valid " + type + " public key");
    }
    return ownPkey(pkey);
  }

  // The leaf key of an x5c chain that verifies up to a root at `now`.
  PkeyPtr verifyChain(const rapidjson::Value& x5c, time_t now) const {
    if (!x5c.IsArray() || x5c.Empty() || x5c.Size() > 10) invalid("x5c is not a certificate chain");
    X509StackPtr chain(sk_X509_new_null());
    X509Ptr leaf;
    for (rapidjson::SizeType i = 0; i < x5c.Size(); ++i) {
      std::optional<std::string> der = x5c[i].IsString() ? base64Decode(str(x5c[i])) : std::nullopt;
      if (!der) invalid("x5c entry " + std::to_string(i) + " is not base64");
      const auto* p = reinterpret_cast<const unsigned char*>(der->data());
      X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der->size())));
      if (!cert || p != reinterpret_cast<const unsigned char*>(der->data()) + der->size()) {
        invalid("x5c entry " + std::to_string(i) + " is not a DER certificate");
      }
      if (i == 0) {
        leaf = std::move(cert);
      } else {
        sk_X509_push(chain.get(), cert.release());
      }
    }
    StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), roots.get(), leaf.get(), chain.get()) != 1)
      invalid("x5c check failed");
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_time(param, now);
    X509_VERIFY_PARAM_set_flags(param,
                                X509_V_FLAG_PARTIAL_CHAIN);  // any root is an anchor, as in Go
    if (X509_verify_cert(ctx.get()) != 1) {
      invalid(std::string("x5c chain does not verify against auth.token.rootcertbundle: ") +
              X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
    }
    EVP_PKEY* key = X509_get_pubkey(leaf.get());
    if (!key) invalid("x5c leaf has no usable public key");
    return ownPkey(key);
  }
};

bool TokenClaims::allows(const Access& wanted) const {
  for (const Grant& grant : access) {
    if (grant.type != wanted.type || grant.name != wanted.name) continue;
    for (const std::string& action : grant.actions) {
      if (action == "*" || action == wanted.action) return true;
    }
  }
  return false;
}

TokenVerifier::TokenVerifier(const TokenAuthConfig& config)
    : keys_(std::make_unique<Keys>()), issuer_(config.issuer), service_(config.service) {
  if (!config.rootCertBundle.empty()) keys_->loadBundle(config.rootCertBundle);
  if (!config.jwks.empty()) keys_->loadJwks(config.jwks);
  if (keys_->rootCount == 0 && keys_->byKid.empty()) {
    throw Error(
        ErrorKind::kConfigInvalid,
        "auth.token: no token signing key (rootcertbundle has no certificate and jwks no key)");
  }
}

TokenVerifier::~TokenVerifier() = default;

std::vector<std::string> TokenVerifier::trustedKeyIds() const {
  std::vector<std::string> ids;
  for (const auto& [kid, keys] : keys_->byKid) ids.push_back(kid);
  return ids;
}

TokenClaims TokenVerifier::verify(std::string_view token,
                                  std::chrono::system_clock::time_point now) const {
  if (token.empty()) invalid("empty");
  if (token.size() > kMaxTokenSize)
    invalid("longer than " + std::to_string(kMaxTokenSize) + " bytes");
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    invalid("not a JWS in compact form (three base64url parts)");
  }
  std::optional<std::string> headerJson = base64UrlDecode(token.substr(0, dot1));
  std::optional<std::string> claimsJson = base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  std::optional<std::string> signature = base64UrlDecode(token.substr(dot2 + 1));
  if (!headerJson || !claimsJson || !signature) invalid("a part is not base64url");
  if (signature->empty()) invalid("no signature");

  rapidjson::Document header = parseJsonObject(*headerJson, "header");
  const rapidjson::Value* alg = member(header, "alg");
  if (!alg || !alg->IsString()) invalid("header has no \"alg\"");
  const Algorithm* algorithm = nullptr;
  for (const Algorithm& a : kAlgorithms) {
    if (a.name == std::string_view(alg->GetString(), alg->GetStringLength())) algorithm = &a;
  }
  if (!algorithm) invalid("signing algorithm " + printable(str(*alg)) + " is not accepted");
  if (member(header, "crit")) invalid("header has \"crit\" extensions");

  // The key: from a verified x5c chain, else by kid.
  std::vector<PkeyPtr> candidates;
  const rapidjson::Value* x5c = member(header, "x5c");
  const rapidjson::Value* kid = member(header, "kid");
  if (x5c) {
    candidates.push_back(keys_->verifyChain(*x5c, std::chrono::system_clock::to_time_t(now)));
  } else if (kid && kid->IsString()) {
    auto it = keys_->byKid.find(str(*kid));
    if (it == keys_->byKid.end()) invalid("signed by untrusted key id " + printable(str(*kid)));
    candidates = it->second;
  } else {
    invalid("header names no signing key (x5c or kid)");
  }
  std::string_view signingInput = token.substr(0, dot2);
  bool verified = false;
  for (const PkeyPtr& key : candidates)
    verified = verified || signatureVerifies(key.get(), *algorithm, signingInput, *signature);
  if (!verified)
    invalid("signature does not verify with the " + std::string(algorithm->name) + " key");

  // Only now are the claims worth reading.
  rapidjson::Document doc = parseJsonObject(*claimsJson, "claim set");
  TokenClaims claims;
  auto stringClaim = [&](const char* name) -> std::string {
    const rapidjson::Value* v = member(doc, name);
    if (!v || v->IsNull()) return "";
    if (!v->IsString()) invalid(std::string("claim \"") + name + "\" is not a string");
    return str(*v);
  };
  claims.issuer = stringClaim("iss");
  claims.subject = stringClaim("sub");
  if (const rapidjson::Value* aud = member(doc, "aud")) {
    if (aud->IsString()) {
      claims.audience.push_back(str(*aud));
    } else if (aud->IsArray()) {
      for (const auto& a : aud->GetArray()) {
        if (!a.IsString()) invalid("claim \"aud\" is not a string or an array of strings");
        claims.audience.push_back(str(a));
      }
    } else if (!aud->IsNull()) {
      invalid("claim \"aud\" is not a string or an array of strings");
    }
  }
  const rapidjson::Value* exp = member(doc, "exp");
  const rapidjson::Value* nbf = member(doc, "nbf");
  std::optional<int64_t> expiresAt = numericDate(exp), notBefore = numericDate(nbf);
  if (!expiresAt) invalid("claim \"exp\" is missing or not a number");
  if (nbf && !nbf->IsNull() && !notBefore) invalid("claim \"nbf\" is not a number");
  claims.expiresAt = *expiresAt;
  claims.notBefore = notBefore.value_or(0);
  if (const rapidjson::Value* access = member(doc, "access"); access && !access->IsNull()) {
    if (!access->IsArray()) invalid("claim \"access\" is not an array");
    for (const auto& entry : access->GetArray()) {
      const rapidjson::Value* type = entry.IsObject() ? member(entry, "type") : nullptr;
      const rapidjson::Value* name = entry.IsObject() ? member(entry, "name") : nullptr;
      const rapidjson::Value* actions = entry.IsObject() ? member(entry, "actions") : nullptr;
      if (!type || !type->IsString() || !name || !name->IsString() ||
          (actions && !actions->IsArray() && !actions->IsNull())) {
        invalid("claim \"access\" has an entry that is not {type, name, actions}");
      }
      TokenClaims::Grant grant{str(*type), str(*name), {}};
      if (actions && actions->IsArray()) {
        for (const auto& action : actions->GetArray()) {
          if (!action.IsString()) invalid("claim \"access\" has an action that is not a string");
          grant.actions.push_back(str(action));
        }
      }
      claims.access.push_back(std::move(grant));
    }
  }

  if (claims.issuer != issuer_)
    invalid("issuer " + printable(claims.issuer) + " is not auth.token.issuer");
  if (std::find(claims.audience.begin(), claims.audience.end(), service_) ==
      claims.audience.end()) {
    invalid("audience does not include auth.token.service");
  }
  int64_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  // Arranged so that no claim value, however extreme, can overflow.
  if (seconds - kLeeway.count() > claims.expiresAt) invalid("expired");
  if (seconds + kLeeway.count() < claims.notBefore) invalid("not valid yet (nbf)");
  return claims;
}

std::string libtrustKeyId(std::string_view pem) {
  return libtrustIdOf(publicKeyFromPem(pem).get());
}

std::string jwkThumbprint(std::string_view pem) {
  return thumbprintOf(publicKeyFromPem(pem).get());
}

std::string quoteHeaderValue(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) continue;  // never split a header
    out += c;
  }
  return out + "\"";
}

std::string bearerChallenge(std::string_view realm, std::string_view service,
                            const std::vector<Access>& access, BearerError error) {
  std::string out =
      "Bearer realm=" + quoteHeaderValue(realm) + ",service=" + quoteHeaderValue(service);
  if (!access.empty()) out += ",scope=" + quoteHeaderValue(scopeParam(access));
  if (error == BearerError::kInvalidToken) out += ",error=\"invalid_token\"";
  if (error == BearerError::kInsufficientScope) out += ",error=\"insufficient_scope\"";
  return out;
}

}  // namespace regfs
