#pragma once
// Inside the config loader: the schema, the table of every key of a config.yml that regfs
// or distribution knows, and what it implies for a tree: provider scalars expanded, unknown
// and unsupported keys reported.
//
// Shapes mirror distribution's Go types, because they decide what an environment override
// does (common/config/overrides.h): a struct knows its fields (an unknown part is an
// unrecognized variable), a map takes any key (an unknown part creates it), a list is
// indexed by number.

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/config/value.h"

namespace regfs::config {

class Reader;

enum class Shape { kScalar, kList, kStruct, kMap, kAny };

enum class Support {
  kUsed,     // regfs reads it
  kIgnored,  // distribution knows it, regfs does not act on it: a warning
  kNoted,    // accepted and harmlessly ignored: a debug note
};

struct Schema;

struct Field {
  std::string key;
  const Schema* schema;
  Support support = Support::kUsed;
  std::string envName = {};  // distribution's Go field name, when it is not the key
};

struct Schema {
  Shape shape = Shape::kAny;
  std::vector<Field> fields;        // kStruct: every key; kMap: keys regfs knows
  const Schema* element = nullptr;  // kList: each item; kMap: keys not in `fields`
  bool closed = false;              // kMap: keys outside `fields` are unknown
  bool provider = false;            // a scalar names one provider: "s3" -> {s3: {}}
};

// The whole file.
const Schema& rootSchema();
// Anything at all: what a key the schema does not describe holds.
const Schema& anySchema();

const Field* findField(const Schema& schema, std::string_view key);
// The field an upper-case part of a REGISTRY_* name selects: distribution compares it with
// the upper-cased Go field name.
const Field* findEnvField(const Schema& schema, std::string_view part);

// `storage: s3` means `storage: {s3: {}}`, likewise for auth: rewrites parent[key] when
// `schema` is a provider's and the value a scalar.
void normalizeProvider(YAML::Node parent, const std::string& key, const Schema& schema);
// normalizeProvider for every top-level section the file has.
void normalizeProviders(YAML::Node root);

// Warnings for keys `schema` does not know and for keys regfs does not act on, notes for
// keys it accepts and ignores; never an error.
void checkKeys(Reader& reader, const Value& v, const Schema& schema);

}  // namespace regfs::config
