#pragma once
// Test support: real processes, temp directories and free ports. Every process a test
// starts is stopped by PID when its Process object goes away.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace regfs::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Writes `content` to `name` below the directory (parents made); returns the file's path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int status = -1;  // exit status, or 128+signal
  std::string out;
  std::string err;
};

// How many lines `text` holds (its newlines): an error is to be one line.
inline size_t lines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

// Runs argv[0] (searched in PATH) to completion with stdin from /dev/null.
CommandResult run(const std::vector<std::string>& argv,
                  const std::map<std::string, std::string>& env = {});
// Runs a /bin/sh command line.
CommandResult sh(const std::string& command);

// A background process; stdout and stderr go to `logFile` (or are discarded).
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
          const std::filesystem::path& logFile = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits up to `timeout` for exit (then SIGKILL); returns the status.
  int stop(int signal = 15, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string log() const;
  // Waits until `condition` holds (true), or the process exits or `timeout` passes (false):
  // a program that fails at start fails the wait at once.
  bool waitWhileRunning(const std::function<bool()>& condition,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20));

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::filesystem::path logFile_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int freePort();
// A TCP connection (close-on-exec) to 127.0.0.1:port, or -1. A `receiveBuffer` (bytes, when
// not 0) is set before connecting, so that it caps the window the client offers.
int connectLoopback(int port, int receiveBuffer = 0);
// Whether something accepts TCP connections on 127.0.0.1:port now.
bool portAccepts(int port);
// Waits until something accepts TCP connections on 127.0.0.1:port; false on timeout.
bool waitForPort(int port, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Directory of the programs the tests start (regfs-server, regfs-mount, regfsctl): the
// build's own (ctest sets REGFS_BIN_DIR), or REGFS_PROGRAMS_DIR when that is set
// (scripts/test.sh runs the Release integration tests against the sanitizer build's).
std::filesystem::path binDir();
// The built regfsctl with `args`, run to completion.
CommandResult regfsctl(std::vector<std::string> args,
                       const std::map<std::string, std::string>& env = {});
// True if `program` is on PATH.
bool haveProgram(const std::string& program);

// The peak resident memory of a running process (VmHWM), in KiB.
uint64_t peakRssKiB(pid_t pid);

// Whether this build (tests and the programs they start alike) has AddressSanitizer, whose
// quarantine keeps freed buffers resident: then peak RSS bounds nothing.
// GCC defines __SANITIZE_ADDRESS__; clang before 16 only answers __has_feature.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
inline constexpr bool kAddressSanitizer = __has_feature(address_sanitizer);
#else
inline constexpr bool kAddressSanitizer = false;
#endif

// The first report of a sanitizer (ASan, LSan, UBSan, TSan) in a program's output, from its
// first line on, or "" if there is none. Tests of sanitizer builds fail on one.
std::string sanitizerReport(const std::string& output);

std::string readFile(const std::filesystem::path& path);
void writeFile(const std::filesystem::path& path, const std::string& content);
std::string sha256Hex(const std::string& data);

}  // namespace regfs::testing
