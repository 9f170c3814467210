#pragma once
// Inside the config loader (not for use outside common/config/): a value of the YAML tree
// with the key path that names it in messages, and the text rules the loader shares: how a
// key path is written, how a value is described, YAML 1.1 booleans, Go-style integers.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace regfs::config {

// A value in the tree. Absent values still carry the path they would have.
struct Value {
  YAML::Node node;  // a Null node when absent
  YAML::Node key;   // the key in the parent mapping, for locating null values
  std::string path;

  bool absent() const { return !node.IsDefined() || node.IsNull(); }
};

// The child `key` of a mapping (absent when `parent` is not a mapping or lacks it).
Value childOf(const Value& parent, const std::string& key);

// Item `index` of a list `list`.
Value itemOf(const Value& list, size_t index);

// "http.tls" + "key" -> "http.tls.key"; "" + "http" -> "http".
std::string keyPath(const std::string& path, const std::string& key);
// "notifications.endpoints" + 0 -> "notifications.endpoints[0]".
std::string itemPath(const std::string& path, size_t index);

// Whether the mapping `map` has the key `key` (even with a null value).
bool hasKey(const YAML::Node& map, const std::string& key);
// The string keys of the mapping `map`, in file order.
std::vector<std::string> stringKeys(const YAML::Node& map);

// For messages: "nothing", "\"text\"", "a mapping" or "a list".
std::string describe(const YAML::Node& node);
// A mapping or list written on one line, as a log field value.
std::string flowText(const YAML::Node& node);

std::string quote(std::string_view s);
// "a, b, c".
std::string commaList(const std::vector<std::string>& items);
bool isDigit(char c);
std::string upper(std::string_view s);
std::string lower(std::string_view s);

// YAML 1.1 spellings ("yes", "On", …), as distribution's YAML library resolves them.
std::optional<bool> yamlBool(const std::string& s);
// Decimal, or 0x / 0o / 0b prefixed, with an optional sign; nullopt on overflow.
std::optional<int64_t> parseInteger(std::string_view s);
// An unquoted scalar of decimal digits with an optional sign.
bool isPlainInteger(const YAML::Node& node);

}  // namespace regfs::config
