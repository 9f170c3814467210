// regfs-mount: mount the read-only, human-readable view of a store.
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "common/cli/cli.h"
#include "common/config/config.h"
#include "common/error.h"
#include "common/store/open.h"
#include "fs/fuse_ops.h"
#include "fs/view.h"

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "regfs-mount: %s\n", message.c_str());
  return 1;
}

// A mount left behind by a crashed daemon answers every access with ENOTCONN. Detach
// it lazily (as root, or through fusermount3 for a user) so we can mount again.
bool recoverStaleMount(const std::string& mountpoint, std::string& error) {
  struct stat st;
  if (::stat(mountpoint.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      error = mountpoint + ": not a directory";
      return false;
    }
    return true;
  }
  if (errno != ENOTCONN) {
    error = mountpoint + ": " + std::strerror(errno);
    return false;
  }
  std::fprintf(stderr, "regfs-mount: %s: stale mount of a dead daemon; detaching it\n",
               mountpoint.c_str());
  if (::umount2(mountpoint.c_str(), MNT_DETACH) != 0) {
    std::string cmd = "fusermount3 -u -z -- '" + mountpoint + "' 2>/dev/null";
    if (mountpoint.find('\'') != std::string::npos || std::system(cmd.c_str()) != 0) {
      error = mountpoint +
              ": stale mount (transport endpoint is not connected) that could not be "
              "detached; run: fusermount3 -uz " +
              mountpoint;
      return false;
    }
  }
  if (::stat(mountpoint.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error = mountpoint + ": still unusable after detaching a stale mount";
    return false;
  }
  return true;
}

std::vector<std::string> splitOptions(const std::vector<std::string>& groups) {
  std::vector<std::string> out;
  for (const std::string& group : groups) {
    std::stringstream ss(group);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (!item.empty()) out.push_back(item);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"regfs-mount: mount a read-only, human-readable view of a registry store"};
  std::string root, mountpoint;
  bool foreground = false;
  std::vector<std::string> optionGroups;
  app.add_option("ROOT", root, "rootdirectory of the store, or a config.yml")->required();
  app.add_option("MOUNTPOINT", mountpoint, "where to mount the view")->required();
  app.add_flag("-f,--foreground", foreground, "stay in the foreground");
  app.add_option("-o", optionGroups,
                 "mount options, comma-separated: allow_other, debug, cache_timeout_ms=N, "
                 "max_threads=N, no_passthrough, read_ahead_kb=N, nocontents (no rootfs/ or "
                 "layer-contents/: a mount for backups), and libfuse/kernel options")
      ->take_all()
      ->allow_extra_args(false);
  regfs::addVersionFlag(app, "regfs-mount");
  if (int rc = regfs::parseCommandLine(app, argc, argv); rc >= 0) return rc;

  regfs::view::MountOptions options;
  options.mountpoint = mountpoint;
  options.foreground = foreground;
  regfs::view::ViewOptions viewOptions;
  viewOptions.background = true;
  viewOptions.pollAfterAccess = 2 * options.cacheTimeout;
  for (const std::string& o : splitOptions(optionGroups)) {
    auto number = [&](std::string_view key) -> std::optional<long> {
      if (o.rfind(std::string(key) + "=", 0) != 0) return std::nullopt;
      std::string v = o.substr(key.size() + 1);
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 0)
        throw regfs::Error(regfs::ErrorKind::kInvalidArgument, "bad option " + o);
      return n;
    };
    try {
      if (o == "debug") {
        options.debug = true;
      } else if (o == "no_passthrough") {
        options.passthrough = false;
      } else if (o == "nocontents") {
        viewOptions.contents = false;
      } else if (auto ms = number("cache_timeout_ms")) {
        options.cacheTimeout = std::chrono::milliseconds(*ms);
        viewOptions.pollAfterAccess = 2 * options.cacheTimeout;
      } else if (auto n = number("max_threads")) {
        options.maxThreads = static_cast<unsigned>(std::max(1L, *n));
      } else if (auto kib = number("read_ahead_kb")) {
        options.readAheadKib = static_cast<unsigned>(std::min(*kib, 1L << 20));
      } else {
        options.fuseOptions.push_back(o);
      }
    } catch (const regfs::Error& e) {
      std::fprintf(stderr, "regfs-mount: %s\n", e.what());
      return 2;
    }
  }

  regfs::StoreRoot store;
  try {
    store = regfs::openStoreRoot(root, regfs::processEnvironment());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  std::error_code ec;
  if (!store.rootdirectory.empty() && !std::filesystem::is_directory(store.rootdirectory, ec)) {
    return fail(store.rootdirectory.string() + ": the store's rootdirectory does not exist");
  }
  std::string error;
  if (!recoverStaleMount(mountpoint, error)) return fail(error);

  try {
    regfs::view::View view(regfs::Store(store.driver), viewOptions);
    return regfs::view::serveView(view, options);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
