#include "tools/output.h"

#include <unistd.h>

#include <cstdio>

namespace regfs::tools {

std::string humanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string humanDuration(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s == 0) return "0s";
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h", s %= 3600;
  if (s >= 60) out += std::to_string(s / 60) + "m", s %= 60;
  if (s > 0) out += std::to_string(s) + "s";
  return out;
}

ProgressBar::ProgressBar() : enabled_(::isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() { finish(); }

ProgressFn ProgressBar::callback() {
  if (!enabled_) return {};
  return [this](const ProgressUpdate& u) { update(u); };
}

void ProgressBar::update(const ProgressUpdate& u) {
  auto now = std::chrono::steady_clock::now();
  bool newPhase = u.phase != phase_;
  if (newPhase) {
    phase_ = std::string(u.phase);
    phaseStart_ = now;
  }
  bool last = u.total != 0 && u.done >= u.total;
  if (!newPhase && !last && now - lastDraw_ < std::chrono::milliseconds(100)) return;
  lastDraw_ = now;
  double seconds = std::chrono::duration<double>(now - phaseStart_).count();
  std::string line = phase_;
  if (u.total != 0) {
    constexpr int kWidth = 24;
    int filled = static_cast<int>(kWidth * std::min(1.0, static_cast<double>(u.done) / u.total));
    line += " [" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "]";
    char buf[64];
    std::snprintf(buf, sizeof buf, " %llu/%llu %3d%%", static_cast<unsigned long long>(u.done),
                  static_cast<unsigned long long>(u.total),
                  static_cast<int>(100.0 * u.done / u.total));
    line += buf;
  } else {
    line += " " + std::to_string(u.done);
  }
  if (seconds > 0.2) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %.0f/s", u.done / seconds);
    line += buf;
    if (u.bytes) line += "  " + humanBytes(static_cast<uint64_t>(u.bytes / seconds)) + "/s";
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
  phase_.clear();
}

void JsonOut::print() {
  std::fwrite(buffer_.GetString(), 1, buffer_.GetSize(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace regfs::tools
