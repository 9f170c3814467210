#include "common/names.h"

#include <algorithm>

#include "common/error.h"

namespace regfs {
namespace {

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool isComponent(std::string_view s) {
  size_t i = 0;
  auto alnumRun = [&] {
    size_t start = i;
    while (i < s.size() && isLowerAlnum(s[i])) ++i;
    return i > start;
  };
  if (!alnumRun()) return false;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnumRun()) return false;
  }
  return true;
}

bool isTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::string quoted(std::string_view s) { return "\"" + std::string(s.substr(0, 300)) + "\""; }

}  // namespace

RepoName RepoName::parse(std::string_view text) {
  auto invalid = [&](const std::string& why) {
    return Error(ErrorKind::kNameInvalid, "invalid repository name " + quoted(text) + ": " + why);
  };
  if (text.empty()) throw invalid("empty");
  if (text.size() > kMaxLength) {
    throw invalid("longer than " + std::to_string(kMaxLength) + " characters");
  }
  size_t start = 0;
  while (true) {
    size_t slash = text.find('/', start);
    std::string_view component =
        text.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (!isComponent(component)) {
      throw invalid("component " + quoted(component) +
                    " must be lowercase letters and digits, separated by '.', '_', '__' or '-'");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return RepoName(std::string(text));
}

std::optional<RepoName> RepoName::tryParse(std::string_view text) {
  try {
    return parse(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

Tag Tag::parse(std::string_view text) {
  auto invalid = [&](const std::string& why) {
    return Error(ErrorKind::kTagInvalid, "invalid tag " + quoted(text) + ": " + why);
  };
  if (text.empty()) throw invalid("empty");
  if (text.size() > kMaxLength) throw invalid("longer than 128 characters");
  if (text[0] == '.' || text[0] == '-') throw invalid("must start with a letter, digit or '_'");
  if (!std::all_of(text.begin(), text.end(), isTagChar)) {
    throw invalid("only letters, digits, '_', '.' and '-' are allowed");
  }
  return Tag(std::string(text));
}

std::optional<Tag> Tag::tryParse(std::string_view text) {
  try {
    return parse(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool catalogLess(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = a[i] == '/' ? 0 : static_cast<unsigned char>(a[i]);
    unsigned char y = b[i] == '/' ? 0 : static_cast<unsigned char>(b[i]);
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

}  // namespace regfs
