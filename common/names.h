#pragma once
// Repository names and tags, with distribution's grammar and limits:
//   name      component ("/" component)*, at most 255 characters
//   component [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//   tag       [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
// A valid name can never contain "..", an absolute path or a "_"-prefixed component,
// which is what makes it safe to use as a store path.

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace regfs {

class RepoName {
 public:
  static constexpr size_t kMaxLength = 255;
  // Throws Error(kNameInvalid) with the reason.
  static RepoName parse(std::string_view text);
  static std::optional<RepoName> tryParse(std::string_view text);

  const std::string& str() const { return name_; }
  friend bool operator==(const RepoName&, const RepoName&) = default;
  friend auto operator<=>(const RepoName&, const RepoName&) = default;

 private:
  explicit RepoName(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

class Tag {
 public:
  static constexpr size_t kMaxLength = 128;
  // Throws Error(kTagInvalid) with the reason.
  static Tag parse(std::string_view text);
  static std::optional<Tag> tryParse(std::string_view text);

  const std::string& str() const { return tag_; }
  friend bool operator==(const Tag&, const Tag&) = default;
  friend auto operator<=>(const Tag&, const Tag&) = default;

 private:
  explicit Tag(std::string tag) : tag_(std::move(tag)) {}
  std::string tag_;
};

// Orders repository paths the way distribution's catalog does: component by component
// ("a/b" sorts before "a-b"), i.e. as if "/" were the smallest character.
bool catalogLess(std::string_view a, std::string_view b);

}  // namespace regfs
