#pragma once
// The patterns lifecycle rules select with (regfs.retention, regfs.immutable):
//   NameGlob    a repository-name glob: "*" any characters but "/", "**" any characters,
//               "/" included, "?" one character but "/"; the rest is literal. "team/*"
//               matches team/app but not team/app/x; "team/**" matches both.
//   TagPattern  an ECMAScript regular expression that must match the whole tag ("v1\..*"
//               matches v1.2, not xv1.2).
// Both keep the text they were made from, for messages and listings. parse() throws
// Error(kInvalidArgument) saying what is wrong; the config reader adds which key.

#include <memory>
#include <regex>
#include <string>
#include <string_view>

namespace regfs {

class NameGlob {
 public:
  static NameGlob parse(std::string_view text);
  bool matches(std::string_view name) const;
  const std::string& str() const { return text_; }

 private:
  explicit NameGlob(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

class TagPattern {
 public:
  static TagPattern parse(std::string_view text);
  bool matches(std::string_view tag) const;
  const std::string& str() const { return text_; }

 private:
  TagPattern(std::string text, std::shared_ptr<const std::regex> re)
      : text_(std::move(text)), re_(std::move(re)) {}
  std::string text_;
  std::shared_ptr<const std::regex> re_;  // shared: a compiled regex is immutable
};

}  // namespace regfs
