#include "api/ops/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <memory>

namespace regfs::api {
namespace {

thread_local const std::vector<LogField>* tlsFields = nullptr;

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void appendNumber(std::string& out, double v) {
  char buf[32];
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 1e15 && v > -1e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.6f", v);
  }
  out += buf;
}

// logrus quotes a text value unless it is made of "safe" characters only.
void appendTextValue(std::string& out, std::string_view v) {
  bool plain = !v.empty();
  for (char c : v) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '/' || c == '@' || c == '^' || c == '+';
    if (!ok) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += v;
  } else {
    appendJsonString(out, v);
  }
}

std::string_view levelName(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warning";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "fatal";
    default:
      return "info";
  }
}

std::string rfc3339(spdlog::log_clock::time_point t) {
  auto sinceEpoch = t.time_since_epoch();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(sinceEpoch);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(sinceEpoch - secs).count();
  time_t tt = static_cast<time_t>(secs.count());
  struct tm tm;
  ::gmtime_r(&tt, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03lldZ", static_cast<long long>(ms));
  return buf;
}

class LineFormatter : public spdlog::formatter {
 public:
  LineFormatter(LogFormat format, std::map<std::string, std::string> fields)
      : format_(format), fields_(std::move(fields)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    static const std::vector<LogField> kNone;
    std::string line = formatLine(format_, rfc3339(msg.time), levelName(msg.level),
                                  std::string_view(msg.payload.data(), msg.payload.size()), fields_,
                                  tlsFields ? *tlsFields : kNone);
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_, fields_);
  }

 private:
  LogFormat format_;
  std::map<std::string, std::string> fields_;
};

}  // namespace

LogFormat parseLogFormat(std::string_view formatter) {
  if (formatter == "json") return LogFormat::kJson;
  if (formatter == "logstash") return LogFormat::kLogstash;
  return LogFormat::kText;
}

std::string formatLine(LogFormat format, std::string_view time, std::string_view level,
                       std::string_view msg, const std::map<std::string, std::string>& fields,
                       const std::vector<LogField>& extra) {
  std::string out;
  out.reserve(160 + msg.size());
  if (format == LogFormat::kText) {
    out += "time=\"";
    out += time;
    out += "\" level=";
    out += level;
    out += " msg=";
    appendJsonString(out, msg);
    for (const auto& f : extra) {
      out += ' ';
      out += f.key;
      out += '=';
      if (f.isNumber) {
        appendNumber(out, f.number);
      } else {
        appendTextValue(out, f.text);
      }
    }
    for (const auto& [k, v] : fields) {
      out += ' ';
      out += k;
      out += '=';
      appendTextValue(out, v);
    }
    return out;
  }
  out += '{';
  if (format == LogFormat::kLogstash) {
    out += "\"@timestamp\":";
    appendJsonString(out, time);
    out += ",\"@version\":\"1\"";
  } else {
    out += "\"time\":";
    appendJsonString(out, time);
  }
  out += ",\"level\":";
  appendJsonString(out, level);
  out += format == LogFormat::kLogstash ? ",\"message\":" : ",\"msg\":";
  appendJsonString(out, msg);
  for (const auto& f : extra) {
    out += ',';
    appendJsonString(out, f.key);
    out += ':';
    if (f.isNumber) {
      appendNumber(out, f.number);
    } else {
      appendJsonString(out, f.text);
    }
  }
  for (const auto& [k, v] : fields) {
    out += ',';
    appendJsonString(out, k);
    out += ':';
    appendJsonString(out, v);
  }
  out += '}';
  return out;
}

void configureLogging(const LogSettings& settings) {
  auto logger =
      std::make_shared<spdlog::logger>("regfs", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(std::make_unique<LineFormatter>(settings.format, settings.fields));
  logger->set_level(settings.level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void logWithFields(std::string_view msg, const std::vector<LogField>& fields) {
  // The default logger formats on the calling thread, so the fields reach the formatter
  // through a thread-local pointer for the duration of this call.
  tlsFields = &fields;
  spdlog::info("{}", msg);
  tlsFields = nullptr;
}

}  // namespace regfs::api
