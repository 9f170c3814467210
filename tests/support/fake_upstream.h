#pragma once
// Test support: a registry that misbehaves on purpose (tests/support/fake_upstream.py), for
// the pull-through cache: it serves one blob under any repository, and its first GETs of it
// are cut midway, carry wrong bytes, stall midway, stop midway until released, or answer 429
// (Retry-After: 2).

#include <filesystem>
#include <memory>
#include <string>

#include "support/process.h"

namespace regfs::testing {

class FakeUpstream {
 public:
  enum class Mode { kCut, kCorrupt, kStall, kPause, kRateLimit };
  // Serves `blob`; the first `failures` GETs of it misbehave as `mode` says.
  FakeUpstream(const std::string& blob, Mode mode, int failures = 1);
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // kPause: the paused GETs send the rest of the blob.
  void release() const;
  // One line per request received: "METHOD PATH".
  std::string log() const { return process_->log(); }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace regfs::testing
