#include "support/fake_upstream.h"

#include <stdexcept>
#include <vector>

namespace regfs::testing {
namespace {

const char* modeName(FakeUpstream::Mode mode) {
  switch (mode) {
    case FakeUpstream::Mode::kCut:
      return "cut";
    case FakeUpstream::Mode::kCorrupt:
      return "corrupt";
    case FakeUpstream::Mode::kStall:
      return "stall";
    case FakeUpstream::Mode::kPause:
      return "pause";
    case FakeUpstream::Mode::kRateLimit:
      return "ratelimit";
  }
  return "cut";
}

}  // namespace

FakeUpstream::FakeUpstream(const std::string& blob, Mode mode, int failures) {
  writeFile(dir_ / "blob", blob);
  port_ = freePort();
  std::filesystem::path script = std::filesystem::path(REGFS_TEST_SUPPORT_DIR) / "fake_upstream.py";
  process_ = std::make_unique<Process>(
      std::vector<std::string>{"python3", script.string(), "--port", std::to_string(port_),
                               "--blob", (dir_ / "blob").string(), "--mode", modeName(mode),
                               "--failures", std::to_string(failures), "--release",
                               (dir_ / "release").string()},
      std::map<std::string, std::string>{}, dir_ / "fake-upstream.log");
  if (!waitForPort(port_)) throw std::runtime_error("fake upstream did not start: " + log());
}

void FakeUpstream::release() const { writeFile(dir_ / "release", ""); }

}  // namespace regfs::testing
