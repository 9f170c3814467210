#pragma once
// Content digests as distribution writes them: "<algorithm>:<hex>", with sha256
// (64 lowercase hex digits) and sha512 (128). Hashing streams through OpenSSL EVP.

#include <compare>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace regfs {

enum class DigestAlgorithm { kSha256, kSha512 };
// Every algorithm, in the order the store's directories list them.
inline constexpr DigestAlgorithm kDigestAlgorithms[] = {DigestAlgorithm::kSha256,
                                                        DigestAlgorithm::kSha512};

class Digest {
 public:
  // Parses "sha256:<64 hex>" or "sha512:<128 hex>"; throws Error(kDigestInvalid)
  // naming what is wrong. Other well-formed algorithms are refused as unsupported.
  static Digest parse(std::string_view text);
  static std::optional<Digest> tryParse(std::string_view text);
  // The digest of `data`.
  static Digest of(std::string_view data, DigestAlgorithm algorithm = DigestAlgorithm::kSha256);

  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view algorithmName() const;  // "sha256"
  const std::string& hex() const { return hex_; }
  std::string str() const;  // "sha256:<hex>"

  friend bool operator==(const Digest&, const Digest&) = default;
  friend std::strong_ordering operator<=>(const Digest& a, const Digest& b) {
    if (auto c = a.algorithm_ <=> b.algorithm_; c != 0) return c;
    return a.hex_ <=> b.hex_;
  }

 private:
  Digest(DigestAlgorithm algorithm, std::string hex)
      : algorithm_(algorithm), hex_(std::move(hex)) {}
  DigestAlgorithm algorithm_;
  std::string hex_;
};

// The algorithm called `name` ("sha256"), if regfs supports it.
std::optional<DigestAlgorithm> digestAlgorithmByName(std::string_view name);
std::string_view digestAlgorithmName(DigestAlgorithm algorithm);

// A streaming hasher. Copyable, so an upload can keep the state at an offset.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm = DigestAlgorithm::kSha256);
  Hasher(const Hasher& other);
  Hasher& operator=(const Hasher& other);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // The digest of everything fed so far; the hasher can go on afterwards.
  Digest digest() const;
  DigestAlgorithm algorithm() const { return algorithm_; }

 private:
  struct Ctx;
  DigestAlgorithm algorithm_;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace regfs

template <>
struct std::hash<regfs::Digest> {
  size_t operator()(const regfs::Digest& d) const noexcept {
    return std::hash<std::string>{}(d.hex());
  }
};
