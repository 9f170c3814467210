#pragma once
// Output conventions of regfsctl: human text on stdout, --json for scripts, a progress
// bar on stderr only when stderr is a terminal (pipes and logs stay quiet).

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/progress.h"

namespace regfs::tools {

// "0 B", "512 B", "1.5 KiB", "12.3 MiB".
std::string humanBytes(uint64_t bytes);
// "1h", "30m", "1h30m", "10s", "0s" (whole seconds).
std::string humanDuration(std::chrono::seconds d);

// A one-line progress bar redrawn in place on stderr, at most ten times a second:
//   hashing blobs [#########...........]  1234/2800  44%  310/s  92.1 MiB/s
// Disabled (a no-op) unless stderr is a terminal.
class ProgressBar {
 public:
  ProgressBar();
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // The callback to hand to common/.
  ProgressFn callback();
  // Clears the bar so normal output can follow.
  void finish();

 private:
  void update(const ProgressUpdate& u);

  bool enabled_;
  bool drawn_ = false;
  std::string phase_;
  std::chrono::steady_clock::time_point phaseStart_;
  std::chrono::steady_clock::time_point lastDraw_;
};

// JSON on stdout, indented, with a final newline.
class JsonOut {
 public:
  JsonOut() : writer_(buffer_) { writer_.SetIndent(' ', 2); }
  rapidjson::PrettyWriter<rapidjson::StringBuffer>& w() { return writer_; }
  void key(std::string_view k) {
    writer_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  }
  void string(std::string_view s) {
    writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  void field(std::string_view k, std::string_view v) { key(k), string(v); }
  void field(std::string_view k, const char* v) { key(k), string(v); }
  void field(std::string_view k, uint64_t v) { key(k), writer_.Uint64(v); }
  void field(std::string_view k, int v) { key(k), writer_.Int(v); }
  void field(std::string_view k, bool v) { key(k), writer_.Bool(v); }
  // Writes the document to stdout.
  void print();

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer_;
};

}  // namespace regfs::tools
