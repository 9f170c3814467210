#include "common/digest.h"

#include <openssl/evp.h>

#include "common/error.h"
#include "common/handles.h"

namespace regfs {
namespace {

bool isLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// distribution's grammar: algorithm [a-z0-9]+([+._-][a-z0-9]+)*, encoded [a-zA-Z0-9=_-]+
bool isAlgorithmSyntax(std::string_view s) {
  bool needAlnum = true;
  for (char c : s) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) {
      needAlnum = false;
    } else if ((c == '+' || c == '.' || c == '_' || c == '-') && !needAlnum) {
      needAlnum = true;
    } else {
      return false;
    }
  }
  return !needAlnum;
}

size_t hexLength(DigestAlgorithm a) { return a == DigestAlgorithm::kSha256 ? 64 : 128; }

const EVP_MD* evpMd(DigestAlgorithm a) {
  return a == DigestAlgorithm::kSha256 ? EVP_sha256() : EVP_sha512();
}

std::string toHex(const unsigned char* bytes, unsigned int n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (unsigned int i = 0; i < n; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

}  // namespace

std::optional<DigestAlgorithm> digestAlgorithmByName(std::string_view name) {
  if (name == "sha256") return DigestAlgorithm::kSha256;
  if (name == "sha512") return DigestAlgorithm::kSha512;
  return std::nullopt;
}

std::string_view digestAlgorithmName(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha256 ? "sha256" : "sha512";
}

Digest Digest::parse(std::string_view text) {
  auto invalid = [&](const std::string& why) {
    return Error(ErrorKind::kDigestInvalid,
                 "invalid digest \"" + std::string(text.substr(0, 200)) + "\": " + why);
  };
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) throw invalid("expected <algorithm>:<hex>");
  std::string_view name = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  if (!isAlgorithmSyntax(name)) throw invalid("malformed algorithm");
  auto algorithm = digestAlgorithmByName(name);
  if (!algorithm) throw invalid("unsupported algorithm " + std::string(name));
  if (hex.size() != hexLength(*algorithm)) {
    throw invalid("expected " + std::to_string(hexLength(*algorithm)) + " hex digits");
  }
  if (!isLowerHex(hex)) throw invalid("expected lowercase hex digits");
  return Digest(*algorithm, std::string(hex));
}

std::optional<Digest> Digest::tryParse(std::string_view text) {
  try {
    return parse(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

Digest Digest::of(std::string_view data, DigestAlgorithm algorithm) {
  Hasher h(algorithm);
  h.update(data);
  return h.digest();
}

std::string_view Digest::algorithmName() const { return digestAlgorithmName(algorithm_); }

std::string Digest::str() const {
  std::string out(algorithmName());
  out += ':';
  out += hex_;
  return out;
}

struct Hasher::Ctx {
  CPtr<EVP_MD_CTX, EVP_MD_CTX_free> md{EVP_MD_CTX_new()};
};

Hasher::Hasher(DigestAlgorithm algorithm) : algorithm_(algorithm), ctx_(std::make_unique<Ctx>()) {
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md.get(), evpMd(algorithm), nullptr) != 1) {
    throw Error(ErrorKind::kInternal, "EVP_DigestInit_ex failed");
  }
}

Hasher::Hasher(const Hasher& other) : algorithm_(other.algorithm_), ctx_(std::make_unique<Ctx>()) {
  if (EVP_MD_CTX_copy_ex(ctx_->md.get(), other.ctx_->md.get()) != 1) {
    throw Error(ErrorKind::kInternal, "EVP_MD_CTX_copy_ex failed");
  }
}

Hasher& Hasher::operator=(const Hasher& other) {
  if (this != &other) *this = Hasher(other);
  return *this;
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::update(const void* data, size_t size) {
  if (size > 0 && EVP_DigestUpdate(ctx_->md.get(), data, size) != 1) {
    throw Error(ErrorKind::kInternal, "EVP_DigestUpdate failed");
  }
}

Digest Hasher::digest() const {
  Ctx copy;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_MD_CTX_copy_ex(copy.md.get(), ctx_->md.get()) != 1 ||
      EVP_DigestFinal_ex(copy.md.get(), out, &n) != 1) {
    throw Error(ErrorKind::kInternal, "EVP_DigestFinal_ex failed");
  }
  return Digest::parse(std::string(digestAlgorithmName(algorithm_)) + ":" + toHex(out, n));
}

}  // namespace regfs
