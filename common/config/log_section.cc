// The log section: level (or the old top-level loglevel), formatter, fields, accesslog.

#include "common/config/sections.h"

namespace regfs::config {

void readLog(Reader& reader, const Value& v, const Value& deprecatedLevel, LogConfig& log) {
  reader.requireMap(v);
  Value level = childOf(v, "level");
  std::string levelText = reader.text(level).value_or("");
  if (levelText.empty()) {
    level = deprecatedLevel;
    levelText = reader.text(level).value_or("");
  }
  if (!levelText.empty()) {
    log.level = reader.oneOf(level, lower(levelText), {"error", "warn", "info", "debug"});
  }
  Value formatter = childOf(v, "formatter");
  std::string formatterText = reader.text(formatter).value_or("");
  if (!formatterText.empty()) {
    log.formatter = reader.oneOf(formatter, formatterText, {"text", "json", "logstash"});
  }
  Value fields = childOf(v, "fields");
  reader.requireMap(fields);
  if (!fields.absent()) {
    for (const auto& kv : fields.node) {
      if (!kv.first.IsScalar()) continue;
      const YAML::Node& value = kv.second;
      log.fields[kv.first.Scalar()] = value.IsNull()     ? ""
                                      : value.IsScalar() ? value.Scalar()
                                                         : flowText(value);
    }
  }
  Value accessLog = childOf(v, "accesslog");
  reader.requireMap(accessLog);
  log.accessLogDisabled = reader.boolean(childOf(accessLog, "disabled")).value_or(false);
  log.reportCaller = reader.boolean(childOf(v, "reportcaller")).value_or(false);
}

}  // namespace regfs::config
