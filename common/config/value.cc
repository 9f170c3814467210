// A value of the YAML tree with its key path, and the text rules the config loader shares.

#include "common/config/value.h"

#include <algorithm>
#include <limits>

namespace regfs::config {

Value childOf(const Value& parent, const std::string& key) {
  std::string path = keyPath(parent.path, key);
  if (parent.node.IsDefined() && parent.node.IsMap()) {
    for (const auto& kv : parent.node) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return Value{kv.second, kv.first, path};
    }
  }
  return Value{YAML::Node(), YAML::Node(), path};
}

Value itemOf(const Value& list, size_t index) {
  return Value{list.node[index], YAML::Node(), itemPath(list.path, index)};
}

std::string keyPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string itemPath(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

bool hasKey(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return false;
  for (const auto& kv : map) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return true;
  }
  return false;
}

std::vector<std::string> stringKeys(const YAML::Node& map) {
  std::vector<std::string> keys;
  for (const auto& kv : map) {
    if (kv.first.IsScalar()) keys.push_back(kv.first.Scalar());
  }
  return keys;
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return quote(node.Scalar());
  if (node.IsMap()) return "a mapping";
  return "a list";
}

std::string flowText(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string commaList(const std::vector<std::string>& items) {
  std::string list;
  for (const std::string& item : items) list += (list.empty() ? "" : ", ") + item;
  return list;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<bool> yamlBool(const std::string& s) {
  static const char* const kTrue[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                      "True", "TRUE", "on",  "On",  "ON"};
  static const char* const kFalse[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                       "False", "FALSE", "off", "Off", "OFF"};
  for (const char* t : kTrue) {
    if (s == t) return true;
  }
  for (const char* f : kFalse) {
    if (s == f) return false;
  }
  return std::nullopt;
}

std::optional<int64_t> parseInteger(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' || s[1] == 'b')) {
    base = s[1] == 'o' ? 8 : s[1] == 'b' ? 2 : 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (isDigit(c)) {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (v > (limit - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (!negative) return static_cast<int64_t>(v);
  return v == (uint64_t{1} << 63) ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
}

bool isPlainInteger(const YAML::Node& node) {
  if (node.Tag() != "?") return false;  // quoted
  std::string_view s = node.Scalar();
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), isDigit);
}

}  // namespace regfs::config
