#pragma once
// Log lines as distribution writes them (log.level, log.formatter, log.fields): "text" is
// logrus's key=value form (time="…" level=info msg="…" key=value), "json" one JSON object
// per line with time, level, msg and the fields, "logstash" the same with @timestamp and
// @version. Access lines carry method, path, status, bytes, duration (seconds) and remote
// as fields of their own.

#include <spdlog/common.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace regfs::api {

enum class LogFormat { kText, kJson, kLogstash };

struct LogSettings {
  spdlog::level::level_enum level = spdlog::level::info;
  LogFormat format = LogFormat::kText;
  std::map<std::string, std::string> fields;  // log.fields, on every line
};

// Installs the formatter on spdlog's default logger (stderr, so stdout stays free).
void configureLogging(const LogSettings& settings);
LogFormat parseLogFormat(std::string_view formatter);

// A field of one line: a string, or a number written as is.
struct LogField {
  std::string_view key;
  std::string_view text;
  double number = 0;
  bool isNumber = false;
  static LogField str(std::string_view k, std::string_view v) { return {k, v, 0, false}; }
  static LogField num(std::string_view k, double v) { return {k, {}, v, true}; }
};

// Logs `msg` at info level with `fields` added to this line only.
void logWithFields(std::string_view msg, const std::vector<LogField>& fields);

// One formatted line, without the newline (exposed for tests).
std::string formatLine(LogFormat format, std::string_view time, std::string_view level,
                       std::string_view msg, const std::map<std::string, std::string>& fields,
                       const std::vector<LogField>& extra);

}  // namespace regfs::api
