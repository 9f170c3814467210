// The Reader: where a value came from, errors and warnings that say so, typed reads.

#include "common/config/reader.h"

#include <utility>

#include "common/error.h"

namespace regfs::config {

using std::chrono::nanoseconds;

void Reader::recordOrigin(std::string path, std::string variable) {
  origins_.push_back({std::move(path), std::move(variable)});
}

std::string Reader::where(const std::string& path, const YAML::Node& node,
                          const YAML::Node& key) const {
  for (auto it = origins_.rbegin(); it != origins_.rend(); ++it) {
    const std::string& set = it->path;
    if (path == set || (path.size() > set.size() && path.starts_with(set) &&
                        (path[set.size()] == '.' || path[set.size()] == '['))) {
      return " (from " + it->variable + ")";
    }
  }
  // A null value has no text of its own; its key says where it is.
  YAML::Mark mark = YAML::Mark::null_mark();
  if (node.IsDefined() && !node.IsNull()) mark = node.Mark();
  if (mark.is_null() && key.IsDefined()) mark = key.Mark();
  if (mark.is_null() || mark.line < 0) return source_.empty() ? "" : " (in " + source_ + ")";
  return " (line " + std::to_string(mark.line + 1) + (source_.empty() ? "" : " of " + source_) +
         ")";
}

void Reader::fail(const Value& v, const std::string& problem) const {
  throw Error(ErrorKind::kConfigInvalid, v.path + ": " + problem + locate(v));
}

void Reader::failMissing(const Value& section, const std::string& key,
                         const std::string& problem) const {
  Value v = childOf(section, key);
  if (v.absent()) v = Value{section.node, section.key, v.path};
  fail(v, problem);
}

void Reader::requireMap(const Value& v) const {
  if (!v.absent() && !v.node.IsMap()) fail(v, "expected a mapping, got " + describe(v.node));
}

std::optional<std::string> Reader::text(const Value& v) const {
  if (v.absent()) return std::nullopt;
  if (!v.node.IsScalar()) fail(v, "expected a string, got " + describe(v.node));
  return v.node.Scalar();
}

std::optional<bool> Reader::boolean(const Value& v) const {
  if (v.absent()) return std::nullopt;
  std::optional<bool> b;
  if (v.node.IsScalar()) b = yamlBool(v.node.Scalar());
  if (!b) fail(v, "expected a boolean, got " + describe(v.node));
  return b;
}

std::optional<int64_t> Reader::integer(const Value& v) const {
  if (v.absent()) return std::nullopt;
  std::optional<int64_t> i;
  if (v.node.IsScalar()) i = parseInteger(v.node.Scalar());
  if (!i) fail(v, "expected an integer, got " + describe(v.node));
  return i;
}

std::optional<nanoseconds> Reader::duration(const Value& v, bool integerIsNanoseconds) {
  if (v.absent()) return std::nullopt;
  if (!v.node.IsScalar()) fail(v, "expected a duration such as \"10s\", got " + describe(v.node));
  if (integerIsNanoseconds && isPlainInteger(v.node)) {
    std::optional<int64_t> ns = parseInteger(v.node.Scalar());
    if (!ns) fail(v, "duration out of range: " + describe(v.node));
    if (*ns != 0) {
      warn(v.path + ": " + v.node.Scalar() +
           " has no unit and means nanoseconds, as in distribution; write e.g. \"10s\"" +
           locate(v));
    }
    return nanoseconds(*ns);
  }
  try {
    return parseDuration(v.node.Scalar());
  } catch (const Error& e) {
    fail(v, e.what());
  }
}

void Reader::positiveDuration(const Value& v, nanoseconds& out) {
  nanoseconds value = duration(v, true).value_or(nanoseconds(0));
  if (value > nanoseconds(0)) out = value;
}

std::optional<std::vector<std::string>> Reader::stringList(const Value& v) const {
  if (v.absent()) return std::nullopt;
  if (!v.node.IsSequence()) fail(v, "expected a list of strings, got " + describe(v.node));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.node.size(); ++i) {
    Value item = itemOf(v, i);
    if (!item.node.IsScalar()) fail(item, "expected a string, got " + describe(item.node));
    out.push_back(item.node.Scalar());
  }
  return out;
}

HeaderMap Reader::headers(const Value& v) const {
  requireMap(v);
  HeaderMap out;
  if (v.absent()) return out;
  for (const auto& kv : v.node) {
    if (!kv.first.IsScalar()) continue;  // already warned about
    Value values{kv.second, kv.first, keyPath(v.path, kv.first.Scalar())};
    out[kv.first.Scalar()] = stringList(values).value_or(std::vector<std::string>{});
  }
  return out;
}

std::string Reader::oneOf(const Value& v, std::string value,
                          std::initializer_list<std::string_view> allowed) const {
  std::vector<std::string> names;
  for (std::string_view a : allowed) {
    if (value == a) return value;
    names.emplace_back(a);
  }
  fail(v, "expected one of " + commaList(names) + ", got " + quote(value));
}

}  // namespace regfs::config
