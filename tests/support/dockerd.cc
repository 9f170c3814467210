#include "support/dockerd.h"

#include <gtest/gtest.h>

#include <elf.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "common/digest.h"
#include "support/mountinfo.h"
#include "support/poll.h"

namespace regfs::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Unix socket paths are limited to 107 bytes; the longest one dockerd makes under its
// exec root is about 35 bytes below the work dir, so a $TMPDIR longer than this is
// passed over for /tmp.
constexpr size_t kMaxWorkDirLength = 60;
constexpr auto kStartTimeout = std::chrono::seconds(60);

// The docker CLI and the daemons read these; a test must not inherit the caller's.
const std::map<std::string, std::string> kClearedDockerEnv = {
    {"DOCKER_HOST", ""},
    {"DOCKER_CONTEXT", ""},
    {"DOCKER_TLS_VERIFY", ""},
    {"DOCKER_CERT_PATH", ""},
    {"DOCKER_API_VERSION", ""},
    {"DOCKER_CONTENT_TRUST", ""},
    {"DOCKER_DEFAULT_PLATFORM", ""},
    {"DOCKER_CLI_HINTS", "false"},
    // Under a service manager the daemons would report READY=1 to it.
    {"NOTIFY_SOCKET", ""},
};

// Major version of `dockerd --version` ("Docker version 20.10.24+dfsg1, build ..."), or 0.
int dockerdMajorVersion(std::string* full) {
  CommandResult r = run({"dockerd", "--version"});
  if (r.status != 0) {
    throw std::runtime_error("`dockerd --version` failed (is docker.io installed?): " + r.err);
  }
  *full = r.out.substr(0, r.out.find('\n'));
  size_t at = full->find("version ");
  return at == std::string::npos ? 0 : std::atoi(full->c_str() + at + 8);
}

// True when dockerd answers GET /_ping with 200 on the unix socket `path`.
bool pingDocker(const fs::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[512];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return response.starts_with("HTTP/1.") && response.find(" 200 ") != std::string::npos;
}

// False for a dynamically linked executable (one with a PT_INTERP program header).
bool isStatic64BitExecutable(const fs::path& path) {
  std::string bytes = readFile(path);
  Elf64_Ehdr header;
  if (bytes.size() < sizeof header || bytes.compare(0, SELFMAG, ELFMAG) != 0 ||
      bytes[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  std::memcpy(&header, bytes.data(), sizeof header);
  for (size_t i = 0; i < header.e_phnum; ++i) {
    size_t offset = header.e_phoff + i * header.e_phentsize;
    Elf64_Phdr program;
    if (offset + sizeof program > bytes.size()) return false;
    std::memcpy(&program, bytes.data() + offset, sizeof program);
    if (program.p_type == PT_INTERP) return false;
  }
  return true;
}

// A path as a TOML or JSON string (temp dir paths need no escaping).
std::string quoted(const fs::path& path) { return "\"" + path.string() + "\""; }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

// The daemons' directory. Mounts left below it by a daemon that had to be killed are
// detached before it is removed.
class DockerDaemon::WorkDir {
 public:
  WorkDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp && *tmp ? tmp : "/tmp";
    std::string pattern = base + "/regfs-docker-XXXXXX";
    if (pattern.size() > kMaxWorkDirLength) pattern = "/tmp/regfs-docker-XXXXXX";
    if (!::mkdtemp(pattern.data())) {
      throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    path_ = pattern;
  }
  ~WorkDir() {
    detachMounts();
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  void detachMounts() {
    std::vector<std::string> below;
    const std::string prefix = path_.string() + "/";
    for (const MountEntry& m : mountTable()) {
      if (m.mountPoint.starts_with(prefix)) below.push_back(m.mountPoint);
    }
    // Deepest first.
    std::sort(below.begin(), below.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& mountPoint : below) ::umount2(mountPoint.c_str(), MNT_DETACH);
  }

  fs::path path_;
};

DockerDaemon::DockerDaemon() : dir_(std::make_unique<WorkDir>()) {
  const WorkDir& d = *dir_;
  for (const char* program : {"containerd", "docker", "setpriv", "tar"}) {
    if (!haveProgram(program)) {
      throw std::runtime_error(std::string(program) + " is not on PATH (install docker.io)");
    }
  }
  int major = dockerdMajorVersion(&version_);

  // containerd of our own: without --containerd, dockerd would use a system containerd
  // whenever /run/containerd/containerd.sock exists. Our config file also keeps it from
  // reading /etc/containerd/config.toml.
  std::ostringstream toml;
  toml << "version = 2\n"
       << "root = " << quoted(d / "containerd/root") << "\n"
       << "state = " << quoted(d / "containerd/state") << "\n"
       << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
       << "[grpc]\n"
       << "  address = " << quoted(d / "containerd.sock") << "\n"
       << "[debug]\n"
       << "  level = \"warn\"\n"
       << "[plugins.\"io.containerd.internal.v1.opt\"]\n"
       << "  path = " << quoted(d / "containerd/opt") << "\n";
  writeFile(d / "containerd.toml", toml.str());
  // Our own daemon.json keeps dockerd from reading /etc/docker/daemon.json, whose
  // settings could conflict with the flags. Before 23.0, dockerd also writes a trust
  // key to /etc/docker/key.json unless told otherwise (later versions have no such key
  // and reject the setting).
  if (major > 0 && major < 23) {
    daemonJsonBase_ = "\"deprecated-key-path\": " + quoted(d / "key.json");
  }
  writeFile(d / "daemon.json", "{" + daemonJsonBase_ + "}\n");
  fs::create_directories(d / "cli");

  // setpriv --pdeathsig: the daemons get SIGTERM if the test program dies without
  // stopping them (a ctest timeout kills it with SIGKILL).
  const std::vector<std::string> orphanGuard = {"setpriv", "--pdeathsig", "TERM", "--"};
  auto guarded = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin(), orphanGuard.begin(), orphanGuard.end());
    return argv;
  };
  auto start = Clock::now();
  containerd_ = std::make_unique<Process>(
      guarded({"containerd", "--config", (d / "containerd.toml").string()}), kClearedDockerEnv,
      d / "containerd.log");
  dockerd_ = std::make_unique<Process>(
      guarded({"dockerd", "--containerd=" + (d / "containerd.sock").string(),
               "--config-file=" + (d / "daemon.json").string(),
               "--data-root=" + (d / "data").string(), "--exec-root=" + (d / "exec").string(),
               "--pidfile=" + (d / "dockerd.pid").string(), "--host=" + host(), "--iptables=false",
               "--ip6tables=false", "--bridge=none", "--userland-proxy=false",
               "--storage-driver=vfs", "--log-level=warn"}),
      kClearedDockerEnv, d / "dockerd.log");

  // dockerd itself waits for containerd's socket, so both start at once; either one
  // exiting ends the wait early.
  bool answered = false;
  waitUntil(
      [&] {
        answered = pingDocker(d / "docker.sock");
        return answered || !containerd_->running() || !dockerd_->running();
      },
      kStartTimeout);
  if (!answered) {
    std::string failure = !containerd_->running() ? "containerd exited"
                          : !dockerd_->running()  ? "dockerd exited"
                                                  : "dockerd did not answer /_ping within " +
                                                       std::to_string(kStartTimeout.count()) + " s";
    std::string logs = log();
    stop();
    throw std::runtime_error(failure + " (" + version_ + ")\n" + logs);
  }
  startupTime_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

DockerDaemon::~DockerDaemon() { stop(); }

std::string DockerDaemon::host() const { return "unix://" + (*dir_ / "docker.sock").string(); }

std::string DockerDaemon::containerdAddress() const { return (*dir_ / "containerd.sock").string(); }

void DockerDaemon::setRegistryMirrors(const std::vector<std::string>& mirrors) {
  std::string list;
  for (const std::string& m : mirrors) list += (list.empty() ? "\"" : ", \"") + m + "\"";
  // An empty list is written too: a reload leaves the mirrors alone when the key is absent.
  std::string json = daemonJsonBase_ + (daemonJsonBase_.empty() ? "" : ", ") +
                     "\"registry-mirrors\": [" + list + "]";
  writeFile(*dir_ / "daemon.json", "{" + json + "}\n");
  // dockerd reloads registry-mirrors from its config file on SIGHUP.
  if (::kill(dockerd_->pid(), SIGHUP) != 0) {
    throw std::runtime_error(std::string("SIGHUP to dockerd: ") + std::strerror(errno));
  }
  // `docker info` lists the mirrors with a trailing slash.
  std::string shown;
  bool reloaded = waitUntil(
                      [&] {
                        CommandResult r = docker(
                            {"info", "--format", "{{range .RegistryConfig.Mirrors}}{{.}} {{end}}"});
                        shown = trim(r.out);
                        std::string expected;
                        for (const std::string& m : mirrors)
                          expected += (expected.empty() ? "" : " ") + m + "/";
                        return r.status == 0 && shown == expected;
                      },
                      std::chrono::seconds(10))
                      .has_value();
  if (!reloaded) {
    throw std::runtime_error("dockerd did not reload registry-mirrors (it shows \"" + shown +
                             "\")\n" + log());
  }
}

CommandResult DockerDaemon::docker(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"docker", "-H", host()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto env = kClearedDockerEnv;
  env["DOCKER_CONFIG"] = (*dir_ / "cli").string();
  return run(argv, env);
}

CommandResult DockerDaemon::dockerOk(const std::vector<std::string>& args,
                                     const std::string& serverLog) const {
  CommandResult r = docker(args);
  std::string command = "docker";
  for (const auto& a : args) command += " " + a;
  EXPECT_EQ(r.status, 0) << command << "\n"
                         << r.out << r.err << "\n--- registry log ---\n"
                         << serverLog << "\n"
                         << log();
  return r;
}

std::string DockerDaemon::log() const {
  if (!dir_) return "";
  return "--- dockerd log ---\n" + readFile(*dir_ / "dockerd.log") + "--- containerd log ---\n" +
         readFile(*dir_ / "containerd.log");
}

void DockerDaemon::stop() {
  // dockerd first: it stops its containers through containerd on the way out.
  if (dockerd_) dockerd_->stop(SIGTERM, std::chrono::seconds(30));
  if (containerd_) containerd_->stop(SIGTERM, std::chrono::seconds(10));
  dockerd_.reset();
  containerd_.reset();
  dir_.reset();
}

DockerDaemon& sharedDockerDaemon() {
  static std::unique_ptr<DockerDaemon> daemon;
  static std::string failure;
  if (!daemon) {
    if (!failure.empty()) throw std::runtime_error(failure);
    try {
      daemon = std::make_unique<DockerDaemon>();
    } catch (const std::exception& e) {
      failure = e.what();
      throw;
    }
  }
  return *daemon;
}

std::string importBusyboxImage(const DockerDaemon& daemon, const std::string& ref,
                               const std::vector<std::string>& changes) {
  const fs::path busybox = "/bin/busybox";
  if (!fs::exists(busybox) || !isStatic64BitExecutable(busybox)) {
    throw std::runtime_error(busybox.string() +
                             " is missing or not a static executable (install busybox-static)");
  }
  TempDir work;
  fs::path root = work / "rootfs";
  fs::create_directories(root / "bin");
  fs::create_directories(root / "tmp");
  fs::permissions(root / "tmp", fs::perms::all | fs::perms::sticky_bit);
  fs::copy_file(busybox, root / "bin/busybox");
  CommandResult applets = run({busybox.string(), "--list"});
  if (applets.status != 0) throw std::runtime_error("busybox --list failed: " + applets.err);
  std::istringstream names(applets.out);
  for (std::string name; std::getline(names, name);) {
    if (!name.empty() && name != "busybox") fs::create_symlink("busybox", root / "bin" / name);
  }
  // The same bytes on every run: the layer digest does not change between runs.
  fs::path tar = work / "rootfs.tar";
  CommandResult r = run({"tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                         "--numeric-owner", "-C", root.string(), "-cf", tar.string(), "."});
  if (r.status != 0) throw std::runtime_error("tar failed: " + r.err);
  std::vector<std::string> args = {"import", "--change", "CMD [\"/bin/sh\"]"};
  for (const std::string& change : changes) {
    args.push_back("--change");
    args.push_back(change);
  }
  args.push_back(tar.string());
  args.push_back(ref);
  r = daemon.docker(args);
  if (r.status != 0) throw std::runtime_error("docker import failed: " + r.err + r.out);
  return trim(r.out);
}

// (No std::regex: GCC 12 warns falsely inside it under the sanitizers.)
std::string pushedDigest(const std::string& output, const std::string& tag) {
  const std::string marker = tag + ": digest: ";
  size_t at = output.find(marker);
  if (at == std::string::npos) return "";
  size_t begin = at + marker.size();
  std::string digest = output.substr(begin, output.find_first_of(" \n", begin) - begin);
  return Digest::tryParse(digest) ? digest : "";
}

}  // namespace regfs::testing
