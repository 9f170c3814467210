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
#include "common/exit_status.h"
#include "common/store/open.h"
#include "fs/fuse_ops.h"
#include "fs/view.h"

namespace {

using regfs::Error;
using regfs::ErrorKind;

int fail(const std::string& message, int status) {
  std::fprintf(stderr, "regfs-mount: %s\n", message.c_str());
  return status;
}

// A mount left behind by a crashed daemon answers every access with ENOTCONN. Detach
// it lazily (as root, or through fusermount3 for a user) so we can mount again. Throws
// when `mountpoint` cannot be mounted on.
void recoverStaleMount(const std::string& mountpoint) {
  struct stat st;
  if (::stat(mountpoint.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      throw Error(ErrorKind::kInvalidArgument, mountpoint + ": not a directory");
    return;
  }
  if (errno != ENOTCONN) {
    ErrorKind kind = errno == ENOENT || errno == ENOTDIR ? ErrorKind::kNotFound : ErrorKind::kIo;
    throw Error(kind, mountpoint + ": " + std::strerror(errno));
  }
  std::fprintf(stderr, "regfs-mount: %s: stale mount of a dead daemon; detaching it\n",
               mountpoint.c_str());
  if (::umount2(mountpoint.c_str(), MNT_DETACH) != 0) {
    std::string cmd = "fusermount3 -u -z -- '" + mountpoint + "' 2>/dev/null";
    if (mountpoint.find('\'') != std::string::npos || std::system(cmd.c_str()) != 0) {
      throw Error(ErrorKind::kIo, mountpoint +
                                      ": stale mount (transport endpoint is not connected) that "
                                      "could not be detached; run: fusermount3 -uz " +
                                      mountpoint);
    }
  }
  if (::stat(mountpoint.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(ErrorKind::kIo, mountpoint + ": still unusable after detaching a stale mount");
  }
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

// The value of `option` when it is "key=N", N a number of 0 or more; nullopt for another key.
// Throws kInvalidArgument when the key matches and N is no such number.
std::optional<long> numberOption(const std::string& option, std::string_view key) {
  if (option.rfind(std::string(key) + "=", 0) != 0) return std::nullopt;
  std::string v = option.substr(key.size() + 1);
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 0) throw Error(ErrorKind::kInvalidArgument, "bad option " + option);
  return n;
}

// Applies the -o options (`groups`, each comma-separated) to the mount and the view; what
// regfs-mount does not know goes to libfuse and the kernel. Throws kInvalidArgument for a bad
// value.
void parseMountOptions(const std::vector<std::string>& groups, regfs::view::MountOptions& mount,
                       regfs::view::ViewOptions& view) {
  view.pollAfterAccess = 2 * mount.cacheTimeout;
  for (const std::string& o : splitOptions(groups)) {
    if (o == "debug") {
      mount.debug = true;
    } else if (o == "opens=auto") {
      mount.opens = regfs::view::MountOptions::Opens::kAuto;
    } else if (o == "opens=daemon" || o == "passthrough") {
      mount.opens = regfs::view::MountOptions::Opens::kDaemon;
    } else if (o == "opens=kernel" || o == "no_passthrough") {
      mount.opens = regfs::view::MountOptions::Opens::kKernel;
    } else if (o.starts_with("opens=")) {
      throw Error(ErrorKind::kInvalidArgument, o + ": opens= takes auto, daemon or kernel");
    } else if (o == "nocontents") {
      view.contents = false;
    } else if (auto ms = numberOption(o, "cache_timeout_ms")) {
      mount.cacheTimeout = std::chrono::milliseconds(*ms);
      view.pollAfterAccess = 2 * mount.cacheTimeout;
    } else if (auto n = numberOption(o, "max_threads")) {
      mount.maxThreads = static_cast<unsigned>(std::max(1L, *n));
    } else if (auto kib = numberOption(o, "read_ahead_kb")) {
      mount.readAheadKib = static_cast<unsigned>(std::min(*kib, 1L << 20));
    } else if (auto files = numberOption(o, "prefetch_files")) {
      mount.prefetchFiles = static_cast<size_t>(std::min(*files, 4096L));
    } else {
      mount.fuseOptions.push_back(o);
    }
  }
}

// Opens the store at `root` and serves its view at options.mountpoint until unmounted.
int mountView(const std::string& root, const regfs::Environment& env,
              const regfs::view::MountOptions& options,
              const regfs::view::ViewOptions& viewOptions) {
  regfs::StoreRoot store = regfs::openStoreRoot(root, env);
  std::error_code ec;
  if (!store.rootdirectory.empty() && !std::filesystem::is_directory(store.rootdirectory, ec)) {
    throw Error(ErrorKind::kNotFound,
                store.rootdirectory.string() + ": the store's rootdirectory does not exist");
  }
  recoverStaleMount(options.mountpoint);
  regfs::view::View view(regfs::Store(store.driver), viewOptions);
  return regfs::view::serveView(view, options);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"regfs-mount: mount a read-only, human-readable view of a registry store"};
  std::string root;
  regfs::view::MountOptions options;
  std::vector<std::string> optionGroups;
  app.add_option("ROOT", root, "rootdirectory of the store, or a config.yml")->required();
  app.add_option("MOUNTPOINT", options.mountpoint, "where to mount the view")->required();
  app.add_flag("-f,--foreground", options.foreground, "stay in the foreground");
  app.add_option("-o", optionGroups,
                 "mount options, comma-separated: allow_other, debug, cache_timeout_ms=N, "
                 "max_threads=N, opens=auto|daemon|kernel (daemon: the kernel reads local blobs "
                 "itself; kernel: no request per open file; auto: daemon until a program reads a "
                 "tree inside an image), read_ahead_kb=N, prefetch_files=N, nocontents (no "
                 "rootfs/ or layer-contents/: a mount for backups), and libfuse/kernel options")
      ->take_all()
      ->allow_extra_args(false);
  regfs::addVersionFlag(app, "regfs-mount");
  if (int rc = regfs::parseCommandLine(app, argc, argv); rc >= 0) return rc;

  // Exit statuses as regfsctl's: by the kind of the failure (docs/view.md).
  try {
    regfs::view::ViewOptions viewOptions;
    viewOptions.background = true;
    parseMountOptions(optionGroups, options, viewOptions);
    return mountView(root, regfs::processEnvironment(), options, viewOptions);
  } catch (const std::exception& e) {
    return fail(e.what(), regfs::exitStatusFor(e));
  }
}
