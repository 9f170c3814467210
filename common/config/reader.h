#pragma once
// Inside the config loader: what every section reader shares. A Reader knows where the
// text came from (a file, or REGISTRY_* variables for the key paths they set), so its
// errors and warnings say where to look:
//   storage.delete.enabled: expected a boolean, got "maybe" (line 7 of /etc/registry.yml)
// Its typed reads return nullopt for an absent value and throw Error(kConfigInvalid) naming
// the key for a malformed one.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "common/config/value.h"

namespace regfs::config {

class Reader {
 public:
  // `source` is the file name for messages; empty for text that came from no file.
  explicit Reader(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  // ---- messages ----

  // The REGISTRY_* variable `variable` set the value at `path`.
  void recordOrigin(std::string path, std::string variable);
  void warn(std::string line) { warnings_.push_back(std::move(line)); }
  void note(std::string line) { notes_.push_back(std::move(line)); }
  std::vector<std::string> takeWarnings() { return std::move(warnings_); }
  std::vector<std::string> takeNotes() { return std::move(notes_); }

  // " (from REGISTRY_X)" or " (line N of FILE)": where the value at `path` came from.
  std::string where(const std::string& path, const YAML::Node& node,
                    const YAML::Node& key = YAML::Node()) const;
  std::string locate(const Value& v) const { return where(v.path, v.node, v.key); }
  // For messages about the key itself rather than its value.
  std::string locateKey(const Value& v) const { return where(v.path, YAML::Node(), v.key); }

  [[noreturn]] void fail(const Value& v, const std::string& problem) const;
  // `key` of `section` is required but missing or empty.
  [[noreturn]] void failMissing(const Value& section, const std::string& key,
                                const std::string& problem) const;

  // ---- typed reads ----

  void requireMap(const Value& v) const;
  std::optional<std::string> text(const Value& v) const;
  std::optional<bool> boolean(const Value& v) const;
  std::optional<int64_t> integer(const Value& v) const;
  // Go's time.Duration fields take a plain integer as nanoseconds (with a warning);
  // distribution's parameter maps (upload purging) take only duration strings.
  std::optional<std::chrono::nanoseconds> duration(const Value& v, bool integerIsNanoseconds);
  // A time.Duration field whose zero or less means "the default": sets `out` only when the
  // value is above zero.
  void positiveDuration(const Value& v, std::chrono::nanoseconds& out);
  std::optional<std::vector<std::string>> stringList(const Value& v) const;
  HeaderMap headers(const Value& v) const;
  // `value` (read from `v`) if it is one of `allowed`.
  std::string oneOf(const Value& v, std::string value,
                    std::initializer_list<std::string_view> allowed) const;

  // Calls `read` with each item, a mapping, of the list at `v` (none when absent); `what`
  // names the items in the error for a value that is not a list.
  template <typename Read>
  void forEachItem(const Value& v, const std::string& what, Read read) {
    if (v.absent()) return;
    if (!v.node.IsSequence()) fail(v, "expected a list of " + what + ", got " + describe(v.node));
    for (size_t i = 0; i < v.node.size(); ++i) {
      Value item = itemOf(v, i);
      requireMap(item);
      read(item);
    }
  }

 private:
  struct Origin {
    std::string path;      // the key path the variable set
    std::string variable;  // REGISTRY_…
  };

  std::string source_;
  std::vector<Origin> origins_;
  std::vector<std::string> warnings_;  // Config::warnings
  std::vector<std::string> notes_;     // Config::notes
};

}  // namespace regfs::config
