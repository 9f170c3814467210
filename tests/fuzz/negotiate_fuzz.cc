// Fuzz target: manifest content negotiation (negotiateManifest, bareMediaType).
// Input: lines. The first line is the stored manifest's media type, prefixed by "tag " when the
// manifest is asked for by tag; every further line is one Accept header value.
// Checks the decision against a plain reading of the rules in common/manifest.h, and that it does
// not depend on header order, on how types are spread over headers, on case, or on "*/*".

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/manifest.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

// The bare types a set of Accept headers names, read independently of the code under test.
std::set<std::string> namedTypes(const std::vector<std::string>& headers) {
  std::set<std::string> out;
  for (const std::string& header : headers) {
    std::string part;
    for (size_t i = 0; i <= header.size(); ++i) {
      if (i == header.size() || header[i] == ',') {
        std::string type = part.substr(0, part.find(';'));
        while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
        size_t first = type.find_first_not_of(" \t");
        type = first == std::string::npos ? "" : type.substr(first);
        for (char& c : type) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        out.insert(type);
        part.clear();
      } else {
        part += header[i];
      }
    }
  }
  return out;
}

// The decision, or nullopt when negotiateManifest refused (MANIFEST_UNKNOWN).
std::optional<ManifestToServe> decide(std::string_view stored, bool byTag,
                                      const std::vector<std::string>& headers) {
  std::optional<ManifestToServe> out;
  throwsOnly("negotiateManifest", {ErrorKind::kManifestUnknown}, true,
             [&] { out = negotiateManifest(stored, byTag, headers); });
  return out;
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs;
  using namespace regfs::fuzz;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  for (size_t start = 0; start <= input.size() && lines.size() < 32;) {
    size_t nl = input.find('\n', start);
    if (nl == std::string_view::npos) nl = input.size();
    lines.emplace_back(input.substr(start, nl - start));
    start = nl + 1;
  }
  std::string stored = lines.front();
  bool byTag = stored.starts_with("tag ");
  if (byTag) stored.erase(0, 4);
  std::vector<std::string> headers(lines.begin() + 1, lines.end());

  std::optional<ManifestToServe> got = decide(stored, byTag, headers);

  std::set<std::string> named = namedTypes(headers);
  auto names = [&](std::string_view t) { return named.count(std::string(t)) == 1; };
  std::optional<ManifestToServe> expected = ManifestToServe::kStored;
  if ((stored == media::kOciManifest && !names(media::kOciManifest)) ||
      (stored == media::kOciIndex && !names(media::kOciIndex))) {
    expected = std::nullopt;
  } else if (byTag && stored == media::kDockerManifestList && !names(media::kDockerManifestList)) {
    expected = ManifestToServe::kDefaultPlatformChild;
  }
  FUZZ_CHECK(got == expected,
             "negotiateManifest decided otherwise than the rules for " + show(input));

  for (const std::string& h : headers) {
    std::string bare = bareMediaType(h);
    FUZZ_CHECK(bare == bareMediaType(bare), "bareMediaType is not idempotent on " + show(h));
    FUZZ_CHECK(bare.find(';') == std::string::npos, "bareMediaType kept a parameter: " + show(h));
    FUZZ_CHECK(std::none_of(bare.begin(), bare.end(), [](char c) { return c >= 'A' && c <= 'Z'; }),
               "bareMediaType kept upper case: " + show(h));
  }

  std::vector<std::string> reversed(headers.rbegin(), headers.rend());
  FUZZ_CHECK(decide(stored, byTag, reversed) == got, "the order of Accept headers matters");
  std::string joined;
  for (const std::string& h : headers) joined += (joined.empty() ? "" : ",") + h;
  if (!headers.empty()) {
    FUZZ_CHECK(decide(stored, byTag, {joined}) == got,
               "joining Accept headers with ',' changes the decision");
  }
  std::vector<std::string> withAny = headers;
  withAny.emplace_back("*/*");
  FUZZ_CHECK(decide(stored, byTag, withAny) == got, "*/* changes the decision");
  std::vector<std::string> upper = headers;
  for (std::string& h : upper) {
    for (char& c : h) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
  }
  FUZZ_CHECK(decide(stored, byTag, upper) == got, "the case of Accept headers matters");
  return 0;
}
