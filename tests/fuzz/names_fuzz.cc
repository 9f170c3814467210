// Fuzz target: digests, repository names, tags, upload ids and catalog order — everything a
// request path or a store listing hands to common/ before it becomes a store path.
// Input: lines; each line goes through every parser, and the lines are ordered by catalogLess.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/names.h"
#include "common/storage/driver.h"
#include "common/store/layout.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

bool isLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A store path built from validated parts stays inside its directory: no empty, "." or ".."
// component, nothing but printable ASCII.
void checkSafePath(const std::string& path, std::string_view what) {
  FUZZ_CHECK(path.starts_with(layout::v2Root() + "/"),
             std::string(what) + " escapes v2 root: " + show(path));
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    std::string_view component(path.data() + start, slash - start);
    FUZZ_CHECK(!component.empty() && component != "." && component != "..",
               std::string(what) + " has an unsafe component: " + show(path));
    start = slash + 1;
  }
  FUZZ_CHECK(std::all_of(path.begin(), path.end(), [](char c) { return c > 0x20 && c < 0x7f; }),
             std::string(what) + " has a control or non-ASCII byte: " + show(path));
}

void checkDigest(std::string_view text) {
  std::optional<Digest> parsed;
  bool ok = throwsOnly("Digest::parse", {ErrorKind::kDigestInvalid}, true,
                       [&] { parsed = Digest::parse(text); });
  std::optional<Digest> tried = Digest::tryParse(text);
  FUZZ_CHECK(ok == tried.has_value(),
             "Digest::tryParse disagrees with Digest::parse on " + show(text));
  if (!ok) return;
  const Digest& d = *parsed;
  FUZZ_CHECK(d == *tried, "Digest::tryParse and parse differ on " + show(text));
  FUZZ_CHECK(d.str() == text, "Digest does not round-trip through str(): " + show(text));
  FUZZ_CHECK(Digest::parse(d.str()) == d, "Digest::parse(str()) differs for " + show(text));
  FUZZ_CHECK(d.hex().size() == (d.algorithm() == DigestAlgorithm::kSha256 ? 64u : 128u),
             "Digest hex has the wrong length: " + show(text));
  FUZZ_CHECK(isLowerHex(d.hex()), "Digest hex is not lowercase hex: " + show(text));
  FUZZ_CHECK(digestAlgorithmByName(d.algorithmName()) == d.algorithm(),
             "Digest algorithm name does not map back: " + show(text));
  FUZZ_CHECK(layout::digestFromDirNames(d.algorithm(), d.hex()) == d,
             "digestFromDirNames does not give back " + show(text));
  checkSafePath(layout::blobData(d), "blobData");
  FUZZ_CHECK(layout::blobData(d).ends_with("/" + d.hex().substr(0, 2) + "/" + d.hex() + "/data"),
             "blobData has the wrong shape for " + show(text));
}

void checkDirNames(std::string_view text) {
  for (DigestAlgorithm a : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    std::optional<Digest> d;
    throwsOnly("digestFromDirNames", {}, false, [&] { d = layout::digestFromDirNames(a, text); });
    std::string full = std::string(digestAlgorithmName(a)) + ":" + std::string(text);
    FUZZ_CHECK(d == Digest::tryParse(full),
               "digestFromDirNames disagrees with Digest::parse on " + show(text));
  }
}

std::optional<RepoName> checkRepoName(std::string_view text) {
  std::optional<RepoName> parsed;
  bool ok = throwsOnly("RepoName::parse", {ErrorKind::kNameInvalid}, true,
                       [&] { parsed = RepoName::parse(text); });
  FUZZ_CHECK(ok == RepoName::tryParse(text).has_value(),
             "RepoName::tryParse disagrees with parse on " + show(text));
  if (!ok) return std::nullopt;
  const std::string& s = parsed->str();
  FUZZ_CHECK(s == text, "RepoName::str() differs from the input " + show(text));
  FUZZ_CHECK(!s.empty() && s.size() <= RepoName::kMaxLength,
             "RepoName has a bad length: " + show(text));
  FUZZ_CHECK(s.find("..") == std::string::npos, "RepoName contains \"..\": " + show(text));
  FUZZ_CHECK(s.front() != '/' && s.front() != '_',
             "RepoName starts with '/' or '_': " + show(text));
  FUZZ_CHECK(s.back() != '/', "RepoName ends with '/': " + show(text));
  FUZZ_CHECK(s.find("//") == std::string::npos, "RepoName has an empty component: " + show(text));
  FUZZ_CHECK(s.find("/_") == std::string::npos && s.find("/.") == std::string::npos &&
                 s.find("/-") == std::string::npos,
             "RepoName has a component starting with '_', '.' or '-': " + show(text));
  FUZZ_CHECK(std::all_of(s.begin(), s.end(),
                         [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                                  c == '_' || c == '-' || c == '/';
                         }),
             "RepoName has a character outside [a-z0-9._/-]: " + show(text));
  FUZZ_CHECK(layout::repositoryDir(*parsed) == layout::repositoriesRoot() + "/" + s,
             "repositoryDir is not repositories/<name> for " + show(text));
  checkSafePath(layout::manifestsDir(*parsed), "manifestsDir");
  return parsed;
}

std::optional<Tag> checkTag(std::string_view text) {
  std::optional<Tag> parsed;
  bool ok =
      throwsOnly("Tag::parse", {ErrorKind::kTagInvalid}, true, [&] { parsed = Tag::parse(text); });
  FUZZ_CHECK(ok == Tag::tryParse(text).has_value(),
             "Tag::tryParse disagrees with parse on " + show(text));
  if (!ok) return std::nullopt;
  const std::string& s = parsed->str();
  FUZZ_CHECK(s == text, "Tag::str() differs from the input " + show(text));
  FUZZ_CHECK(!s.empty() && s.size() <= Tag::kMaxLength, "Tag has a bad length: " + show(text));
  FUZZ_CHECK(s.front() != '.' && s.front() != '-', "Tag starts with '.' or '-': " + show(text));
  FUZZ_CHECK(s.find('/') == std::string::npos, "Tag contains '/': " + show(text));
  return parsed;
}

void checkUploadId(std::string_view text, const RepoName& repo) {
  bool valid = layout::isValidUploadId(text);
  bool expected =
      !text.empty() && text.size() <= 128 && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-';
      });
  FUZZ_CHECK(valid == expected, "isValidUploadId is wrong about " + show(text));
  if (valid) {
    checkSafePath(layout::uploadData(repo, text), "uploadData");
    FUZZ_CHECK(parentPath(layout::uploadData(repo, text)) == layout::uploadDir(repo, text),
               "uploadData is not inside uploadDir for " + show(text));
  }
}

// Reference for catalogLess on valid names: compare component lists lexicographically.
bool componentsLess(std::string_view a, std::string_view b) {
  auto split = [](std::string_view s) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
      size_t slash = s.find('/', start);
      out.push_back(s.substr(start, slash == std::string_view::npos ? slash : slash - start));
      if (slash == std::string_view::npos) return out;
      start = slash + 1;
    }
  };
  auto x = split(a), y = split(b);
  return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end());
}

void checkCatalogOrder(const std::vector<std::string_view>& lines,
                       const std::vector<bool>& validNames) {
  size_t n = lines.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& a = lines[i];
    FUZZ_CHECK(!catalogLess(a, a), "catalogLess is not irreflexive on " + show(a));
    for (size_t j = 0; j < n; ++j) {
      const auto& b = lines[j];
      bool ab = catalogLess(a, b), ba = catalogLess(b, a);
      FUZZ_CHECK(!(ab && ba), "catalogLess is not asymmetric on " + show(a) + " " + show(b));
      if (a != b && a.find('\0') == std::string_view::npos &&
          b.find('\0') == std::string_view::npos) {
        FUZZ_CHECK(ab || ba, "catalogLess is not total on " + show(a) + " " + show(b));
      }
      if (validNames[i] && validNames[j]) {
        FUZZ_CHECK(ab == componentsLess(a, b),
                   "catalogLess is not component-wise on " + show(a) + " " + show(b));
      }
      for (size_t k = 0; k < n; ++k) {
        const auto& c = lines[k];
        if (ab && catalogLess(b, c)) {
          FUZZ_CHECK(catalogLess(a, c),
                     "catalogLess is not transitive on " + show(a) + " " + show(b) + " " + show(c));
        }
      }
    }
  }
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs;
  using namespace regfs::fuzz;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= input.size() && lines.size() < 12;) {
    size_t nl = input.find('\n', start);
    if (nl == std::string_view::npos) nl = input.size();
    lines.push_back(input.substr(start, nl - start));
    start = nl + 1;
  }
  static const RepoName kRepo = RepoName::parse("library/alpine");
  std::vector<bool> validNames;
  for (std::string_view line : lines) {
    checkDigest(line);
    checkDirNames(line);
    std::optional<RepoName> repo = checkRepoName(line);
    validNames.push_back(repo.has_value());
    std::optional<Tag> tag = checkTag(line);
    checkUploadId(line, repo ? *repo : kRepo);
    if (tag) {
      checkSafePath(layout::tagCurrentLink(repo ? *repo : kRepo, *tag), "tagCurrentLink");
    }
  }
  checkCatalogOrder(lines, validNames);
  return 0;
}
