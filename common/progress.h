#pragma once
// Progress of a long store operation (garbage collection, fsck, du), reported to whoever
// shows it: the tools draw a bar on a terminal, the server may log it. common/ never prints.

#include <cstdint>
#include <functional>
#include <string_view>

namespace regfs {

struct ProgressUpdate {
  std::string_view phase;  // what is being done now ("marking", "hashing blobs", ...)
  uint64_t done = 0;       // items finished in this phase
  uint64_t total = 0;      // items in this phase, 0 when unknown
  uint64_t bytes = 0;      // bytes processed in this phase, when that means something
};

// Called often; implementations throttle their own output. May be empty.
using ProgressFn = std::function<void(const ProgressUpdate&)>;

}  // namespace regfs
