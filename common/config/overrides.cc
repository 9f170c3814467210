// The REGISTRY_* overrides: each variable's name walked into the tree along the schema, its
// value set at the end of the walk.

#include "common/config/overrides.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/schema.h"
#include "common/error.h"

namespace regfs::config {
namespace {

constexpr std::string_view kEnvPrefix = "REGISTRY_";

// Makes `slot` able to hold children of shape `schema`, creating a map or list as
// distribution does for nil ones. False if it holds a scalar that cannot.
bool prepare(YAML::Node slot, const Schema& schema) {
  switch (schema.shape) {
    case Shape::kScalar:
      return false;
    case Shape::kList:
      if (!slot.IsSequence()) slot = YAML::Node(YAML::NodeType::Sequence);
      return true;
    case Shape::kStruct:
    case Shape::kMap:
      if (!slot.IsMap()) slot = YAML::Node(YAML::NodeType::Map);
      return true;
    case Shape::kAny:
      if (slot.IsScalar()) return false;
      if (!slot.IsMap() && !slot.IsSequence()) slot = YAML::Node(YAML::NodeType::Map);
      return true;
  }
  return false;
}

// The key of a mapping that one part of a variable's name selects.
struct KeyStep {
  std::string key;
  const Schema* schema = &anySchema();
  bool exists = false;  // walk into the present value rather than recreate it
};

// The step `part` takes in `node`, a mapping of shape `schema`; nullopt if it names no
// known key.
std::optional<KeyStep> keyStep(const YAML::Node& node, const Schema& schema,
                               const std::string& part, bool last) {
  if (schema.shape == Shape::kStruct) {
    const Field* f = findEnvField(schema, part);
    if (!f) return std::nullopt;
    return KeyStep{f->key, f->schema, true};  // a struct field is walked into, never recreated
  }
  KeyStep step;
  if (!last) {
    for (const auto& kv : node) {
      if (kv.first.IsScalar() && upper(kv.first.Scalar()) == part && !kv.second.IsNull()) {
        step.key = kv.first.Scalar();
        step.exists = true;
        break;
      }
    }
  }
  if (!step.exists) step.key = lower(part);
  if (const Field* f = findField(schema, step.key)) {
    step.schema = f->schema;
  } else if (schema.closed) {
    return std::nullopt;
  } else if (schema.element) {
    step.schema = schema.element;
  }
  return step;
}

// One variable: the parts of its name after the prefix, and its value.
class Override {
 public:
  Override(std::string variable, std::vector<std::string> parts, YAML::Node value, Reader& reader)
      : variable_(std::move(variable)),
        parts_(std::move(parts)),
        value_(std::move(value)),
        reader_(reader) {}

  // Sets the value at the end of the path; false if the path names no known key.
  bool applyTo(YAML::Node root) { return walk(root, rootSchema(), 0, ""); }

 private:
  // `node` is a mapping or a sequence of shape `schema`, and parts_[i] names a child of it.
  bool walk(YAML::Node node, const Schema& schema, size_t i, const std::string& path) {
    return node.IsSequence() ? walkItem(node, schema, i, path) : walkKey(node, schema, i, path);
  }

  bool walkItem(YAML::Node node, const Schema& schema, size_t i, const std::string& path) {
    const std::string& part = parts_[i];
    const Schema& element =
        schema.shape == Shape::kList && schema.element ? *schema.element : anySchema();
    std::optional<int64_t> index;
    if (!part.empty() && std::all_of(part.begin(), part.end(), isDigit)) {
      index = parseInteger(part);
    }
    if (!index) {
      throw Error(ErrorKind::kConfigInvalid, path + ": expected a list index, got " + quote(part) +
                                                 " (from " + variable_ + ")");
    }
    const size_t size = node.size();
    if (static_cast<uint64_t>(*index) > size) {
      throw Error(ErrorKind::kConfigInvalid,
                  path + ": index " + part + " is past the end of the list, which has " +
                      std::to_string(size) + " entries (from " + variable_ + ")");
    }
    const size_t at = static_cast<size_t>(*index);
    if (at == size) node.push_back(YAML::Node());
    std::string childPath = itemPath(path, at);
    if (i + 1 == parts_.size()) {
      node[at] = value_;
      reader_.recordOrigin(childPath, variable_);
      return true;
    }
    if (!prepare(node[at], element)) return false;
    return walk(node[at], element, i + 1, childPath);
  }

  bool walkKey(YAML::Node node, const Schema& schema, size_t i, const std::string& path) {
    const bool last = i + 1 == parts_.size();
    std::optional<KeyStep> step = keyStep(node, schema, parts_[i], last);
    if (!step) return false;
    const std::string& key = step->key;
    const Schema& child = *step->schema;
    std::string childPath = keyPath(path, key);
    if (last) {
      node[key] = value_;
      normalizeProvider(node, key, child);
      reader_.recordOrigin(childPath, variable_);
      return true;
    }
    if (child.shape == Shape::kScalar) return false;
    if (!step->exists)
      node[key] = YAML::Node();  // distribution recreates a map entry it walks into
    if (!prepare(node[key], child)) return false;
    return walk(node[key], child, i + 1, childPath);
  }

  const std::string variable_;  // REGISTRY_…
  const std::vector<std::string> parts_;
  const YAML::Node value_;
  Reader& reader_;
};

// "REGISTRY_HTTP_TLS_KEY" -> {"HTTP", "TLS", "KEY"}.
std::vector<std::string> nameParts(const std::string& name) {
  std::vector<std::string> parts;
  std::string_view rest = std::string_view(name).substr(kEnvPrefix.size());
  for (;;) {
    size_t underscore = rest.find('_');
    parts.emplace_back(rest.substr(0, underscore));
    if (underscore == std::string_view::npos) break;
    rest.remove_prefix(underscore + 1);
  }
  return parts;
}

void applyVariable(YAML::Node root, const std::string& name, const std::string& text,
                   Reader& reader) {
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(ErrorKind::kConfigInvalid, name + ": the value is not valid YAML: " + e.msg);
  }
  if (!Override(name, nameParts(name), value, reader).applyTo(root)) {
    reader.warn("Ignoring unrecognized environment variable " + name);
  }
}

}  // namespace

void applyOverrides(YAML::Node root, const Environment& env, Reader& reader) {
  Environment vars;
  for (const auto& entry : env) {
    if (entry.first.starts_with(kEnvPrefix)) vars.push_back(entry);
  }
  // More general names sort first, so the more specific ones win.
  std::stable_sort(vars.begin(), vars.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [name, text] : vars) applyVariable(root, name, text, reader);
}

}  // namespace regfs::config
