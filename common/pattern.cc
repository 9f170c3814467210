#include "common/pattern.h"

#include <vector>

#include "common/error.h"

namespace regfs {
namespace {

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
         c == '/';
}

// Whether `name` matches `glob`, by dynamic programming over (glob position, name position):
// at most |glob| * |name| steps whatever the stars, so a hostile glob costs little.
bool globMatch(std::string_view glob, std::string_view name) {
  const size_t width = name.size() + 1;
  // at[g * width + n]: glob[g..] matches name[n..]
  std::vector<char> at((glob.size() + 1) * width, 0);
  at[glob.size() * width + name.size()] = 1;
  for (size_t g = glob.size(); g-- > 0;) {
    bool star = glob[g] == '*';
    bool doubleStar = star && g + 1 < glob.size() && glob[g + 1] == '*';
    if (star && g > 0 && glob[g - 1] == '*') continue;  // the second star of a "**": unused
    size_t rest = g + (doubleStar ? 2 : 1);
    for (size_t n = name.size() + 1; n-- > 0;) {
      char& cell = at[g * width + n];
      if (star) {
        // Match nothing here, or one more character (not "/" for a single star).
        cell = at[rest * width + n] ||
               (n < name.size() && (doubleStar || name[n] != '/') && at[g * width + n + 1]);
      } else if (n < name.size()) {
        bool one = glob[g] == '?' ? name[n] != '/' : name[n] == glob[g];
        cell = one && at[(g + 1) * width + n + 1];
      }
    }
  }
  return at[0] != 0;
}

}  // namespace

NameGlob NameGlob::parse(std::string_view text) {
  if (text.empty()) throw Error(ErrorKind::kInvalidArgument, "empty repository pattern");
  if (text.size() > 1024) throw Error(ErrorKind::kInvalidArgument, "repository pattern too long");
  for (char c : text) {
    if (!isNameChar(c) && c != '*' && c != '?') {
      throw Error(ErrorKind::kInvalidArgument,
                  "repository pattern \"" + std::string(text) + "\": '" + std::string(1, c) +
                      "' is neither a character of repository names nor *, ** or ?");
    }
  }
  if (text.find("***") != std::string_view::npos) {
    throw Error(ErrorKind::kInvalidArgument,
                "repository pattern \"" + std::string(text) + "\": *** (use * or **)");
  }
  return NameGlob(std::string(text));
}

bool NameGlob::matches(std::string_view name) const { return globMatch(text_, name); }

TagPattern TagPattern::parse(std::string_view text) {
  if (text.empty()) throw Error(ErrorKind::kInvalidArgument, "empty tag pattern");
  if (text.size() > 1024) throw Error(ErrorKind::kInvalidArgument, "tag pattern too long");
  try {
    return TagPattern(std::string(text), std::make_shared<const std::regex>(
                                             std::string(text), std::regex::ECMAScript));
  } catch (const std::regex_error& e) {
    throw Error(ErrorKind::kInvalidArgument, "tag pattern \"" + std::string(text) +
                                                 "\": not a regular expression (" + e.what() + ")");
  }
}

bool TagPattern::matches(std::string_view tag) const {
  return std::regex_match(tag.begin(), tag.end(), *re_);
}

}  // namespace regfs
