// Fuzz target: the htpasswd parser, bcrypt verification of malformed hashes, and Basic
// credentials (common/auth/htpasswd.h). Input: htpasswd file content. Checks that
//   - parseHtpasswd never throws, is deterministic, and keeps only bcrypt entries under
//     non-empty user names without ':' or leading whitespace;
//   - no warning repeats a hash it read (warnings are logged: they must not leak secrets);
//   - bcryptVerify answers false, without crashing, for every hash the parser rejected and for
//     truncated or altered accepted ones (only cheap costs are tried: cost is the operator's);
//   - parseBasicAuthorization of every line, as a header value, yields a user without ':' or
//     NUL and round-trips through base64.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/auth/htpasswd.h"
#include "common/base64.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

// What the parser trims from each line.
bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// The cost of a "$2x$NN$..." hash, or -1 if the text does not have that shape.
int costOf(std::string_view hash) {
  if (hash.size() < 7 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$')
    return -1;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return -1;
  return (hash[4] - '0') * 10 + (hash[5] - '0');
}

// bcryptVerify on `hash` when it cannot cost more than a few milliseconds.
void verifyCheap(std::string_view password, std::string_view hash, bool mayMatch) {
  int cost = costOf(hash);
  if (cost > 6) return;
  bool ok = bcryptVerify(password, hash);
  FUZZ_CHECK(mayMatch || !ok, "bcryptVerify accepted the malformed hash " + show(hash));
}

void checkTable(std::string_view content) {
  HtpasswdTable table = parseHtpasswd(content);
  HtpasswdTable again = parseHtpasswd(content);
  FUZZ_CHECK(table.hashes == again.hashes && table.warnings == again.warnings,
             "parseHtpasswd is not deterministic");
  size_t verified = 0;
  for (const auto& [user, hash] : table.hashes) {
    FUZZ_CHECK(!user.empty(), "an empty user name was accepted");
    FUZZ_CHECK(user.find(':') == std::string::npos, "user " + show(user) + " contains ':'");
    // Lines are trimmed, not the name before ':' (distribution keeps "a " as a user name).
    FUZZ_CHECK(!isSpace(user.front()), "user " + show(user) + " starts with whitespace");
    FUZZ_CHECK(
        hash.rfind("$2y$", 0) == 0 || hash.rfind("$2b$", 0) == 0 || hash.rfind("$2a$", 0) == 0,
        "a hash that is not bcrypt was accepted: " + show(hash));
    for (const std::string& w : table.warnings) {
      FUZZ_CHECK(hash.size() < 8 || w.find(hash) == std::string::npos,
                 "a warning repeats a hash: " + show(w));
    }
    // Truncated, an accepted hash matches nothing (bcrypt is slow: only the first few).
    if (verified++ < 4) {
      verifyCheap(user, hash.substr(0, hash.size() / 2), false);
      verifyCheap(user, hash, true);
    }
  }
  FUZZ_CHECK(table.commonCost >= 4 && table.commonCost <= 31,
             "common cost out of range: " + std::to_string(table.commonCost));
}

void checkBasic(std::string_view line) {
  auto creds = parseBasicAuthorization(line);
  if (creds) {
    FUZZ_CHECK(!creds->user.empty(), "Basic credentials with an empty user");
    FUZZ_CHECK(creds->user.find(':') == std::string::npos, "a Basic user contains ':'");
    FUZZ_CHECK(creds->user.find('\0') == std::string::npos &&
                   creds->password.find('\0') == std::string::npos,
               "Basic credentials contain NUL");
  }
  // Any user:password pair made from the line survives encoding and decoding.
  size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return;
  std::string_view user = line.substr(0, colon), password = line.substr(colon + 1);
  if (user.find('\0') != std::string_view::npos || password.find('\0') != std::string_view::npos)
    return;
  auto back = parseBasicAuthorization("Basic " + base64Encode(line));
  FUZZ_CHECK(back && back->user == user && back->password == password,
             "Basic credentials did not round-trip: " + show(line));
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs::fuzz;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  checkTable(input);
  size_t start = 0;
  for (int lines = 0; start <= input.size() && lines < 16; ++lines) {
    size_t nl = input.find('\n', start);
    if (nl == std::string_view::npos) nl = input.size();
    std::string_view line = input.substr(start, nl - start);
    checkBasic(line);
    if (lines < 4) verifyCheap("password", line, costOf(line) >= 0);
    start = nl + 1;
  }
  return 0;
}
