#pragma once
// Test support: a private Docker engine. containerd and dockerd run with every path
// (data, exec root, sockets, config, pid files) under one short temp dir, so they never
// touch a Docker the machine may run, and are stopped by PID when the object goes away.
//
// dockerd runs without networking of its own (no bridge, no iptables) and with the vfs
// storage driver, so it needs no kernel modules; containers run with `--network none`.
// Loopback registries (127.0.0.0/8) are insecure by default: push and pull speak plain
// HTTP to them without any daemon configuration.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace regfs::testing {

class DockerDaemon {
 public:
  // Starts containerd and dockerd and waits until the engine answers /_ping. Throws
  // std::runtime_error carrying both daemons' logs when either cannot start.
  DockerDaemon();
  ~DockerDaemon();
  DockerDaemon(const DockerDaemon&) = delete;
  DockerDaemon& operator=(const DockerDaemon&) = delete;

  // "unix://<socket>", as for `docker -H`.
  std::string host() const;
  // containerd's socket, as for `ctr --address`: a client of its own in a namespace of its
  // own (`ctr -n NAME`) leaves dockerd's images ("moby") alone.
  std::string containerdAddress() const;
  // Makes dockerd use `mirrors` (URLs) for docker.io names (daemon.json "registry-mirrors",
  // reloaded with SIGHUP, no restart); an empty list removes them. Throws std::runtime_error
  // when dockerd does not show them in `docker info` within a few seconds.
  void setRegistryMirrors(const std::vector<std::string>& mirrors);
  // Runs the docker CLI against this engine, with a private DOCKER_CONFIG (no credential
  // helpers, no contexts) and the DOCKER_* variables of the environment cleared.
  CommandResult docker(const std::vector<std::string>& args) const;
  // The same, and a non-zero exit fails the test (EXPECT) with the command, its output,
  // `serverLog` (the registry's, when the test has one) and this engine's log.
  CommandResult dockerOk(const std::vector<std::string>& args,
                         const std::string& serverLog = {}) const;
  // dockerd's log followed by containerd's.
  std::string log() const;
  // From spawning the daemons to the first successful /_ping.
  std::chrono::milliseconds startupTime() const { return startupTime_; }
  std::string version() const { return version_; }

  // SIGTERM to dockerd, then to containerd (SIGKILL after a timeout), then removes the
  // temp dir. Idempotent; the destructor calls it.
  void stop();

 private:
  class WorkDir;
  std::unique_ptr<WorkDir> dir_;
  std::string version_;
  std::string daemonJsonBase_;  // daemon.json's settings other than the mirrors
  std::unique_ptr<Process> containerd_;
  std::unique_ptr<Process> dockerd_;
  std::chrono::milliseconds startupTime_{0};
};

// The engine shared by every test of this test program: started on first use (one
// start per process, not per test) and stopped when the program exits. A failed start
// is remembered and rethrown to later callers without retrying.
DockerDaemon& sharedDockerDaemon();

// Imports a one-layer image holding a static busybox (/bin/busybox with its applets as
// symlinks in /bin, CMD /bin/sh) under `ref` with `docker import`; returns the image ID.
// `changes` are more Dockerfile instructions for its config (`LABEL n=1`: another image
// with the same layer). Throws std::runtime_error with docker's message on failure, or if
// /bin/busybox is not statically linked (Debian package busybox-static).
std::string importBusyboxImage(const DockerDaemon& daemon, const std::string& ref,
                               const std::vector<std::string>& changes = {});

// The manifest digest `docker push` reports ("TAG: digest: sha256:<hex> size: N"), or "".
std::string pushedDigest(const std::string& output, const std::string& tag);

}  // namespace regfs::testing
