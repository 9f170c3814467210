#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/digest.h"
#include "support/poll.h"

namespace regfs::testing {
namespace {

std::vector<char*> cArgs(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

void applyEnv(const std::map<std::string, std::string>& env) {
  for (const auto& [k, v] : env) {
    if (v.empty()) {
      ::unsetenv(k.c_str());
    } else {
      ::setenv(k.c_str(), v.c_str(), 1);
    }
  }
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/regfs-test-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& content) const {
  std::filesystem::path file = path_ / name;
  writeFile(file, content);
  return file;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult run(const std::vector<std::string>& argv,
                  const std::map<std::string, std::string>& env) {
  TempDir tmp;
  auto outPath = tmp / "out", errPath = tmp / "err";
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    applyEnv(env);
    auto args = cArgs(argv);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return CommandResult{decodeStatus(status), readFile(outPath), readFile(errPath)};
}

CommandResult sh(const std::string& command) { return run({"/bin/sh", "-c", command}); }

Process::Process(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env,
                 const std::filesystem::path& logFile)
    : logFile_(logFile) {
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    int in = ::open("/dev/null", O_RDONLY);
    int out = logFile.empty() ? ::open("/dev/null", O_WRONLY)
                              : ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    applyEnv(env);
    auto args = cArgs(argv);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  if (pid_ < 0) throw std::runtime_error("fork failed");
}

Process::~Process() {
  if (pid_ > 0) stop(SIGKILL, std::chrono::seconds(5));
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = decodeStatus(status);
    pid_ = -1;
    return false;
  }
  return true;
}

bool Process::waitWhileRunning(const std::function<bool()>& condition,
                               std::chrono::milliseconds timeout) {
  bool held = false;
  waitUntil(
      [&] {
        held = condition();
        return held || !running();
      },
      timeout);
  return held;
}

int Process::stop(int signal, std::chrono::milliseconds timeout) {
  if (!running()) return status_;
  ::kill(pid_, signal);
  if (waitUntil([&] { return !running(); }, timeout, std::chrono::milliseconds(10))) return status_;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  status_ = decodeStatus(status);
  pid_ = -1;
  return status_;
}

std::string Process::log() const { return logFile_.empty() ? "" : readFile(logFile_); }

uint64_t peakRssKiB(pid_t pid) {
  std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
  size_t p = status.find("VmHWM:");
  return p == std::string::npos ? 0 : std::stoull(status.substr(p + 6));
}

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

CommandResult regfsctl(std::vector<std::string> args,
                       const std::map<std::string, std::string>& env) {
  args.insert(args.begin(), (binDir() / "regfsctl").string());
  return run(args, env);
}

int connectLoopback(int port, int receiveBuffer) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (receiveBuffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool portAccepts(int port) {
  int fd = connectLoopback(port);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

bool waitForPort(int port, std::chrono::milliseconds timeout) {
  return waitUntil([port] { return portAccepts(port); }, timeout).has_value();
}

std::string sanitizerReport(const std::string& output) {
  size_t first = std::string::npos;
  for (const char* marker :
       {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
        "ThreadSanitizer: reported", ": runtime error: "}) {
    first = std::min(first, output.find(marker));
  }
  if (first == std::string::npos) return "";
  size_t line = output.rfind('\n', first);
  return output.substr(line == std::string::npos ? 0 : line + 1, 8000);
}

std::filesystem::path binDir() {
  if (const char* programs = std::getenv("REGFS_PROGRAMS_DIR"); programs && *programs)
    return programs;
  const char* dir = std::getenv("REGFS_BIN_DIR");
  if (!dir || !*dir)
    throw std::runtime_error("REGFS_BIN_DIR is not set (run the tests with ctest)");
  return dir;
}

bool haveProgram(const std::string& program) {
  return sh("command -v '" + program + "' >/dev/null 2>&1").status == 0;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string sha256Hex(const std::string& data) { return Digest::of(data).hex(); }

}  // namespace regfs::testing
