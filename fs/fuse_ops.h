#pragma once
// The libfuse adapter: fuse_lowlevel_ops over a View, and the session that serves them.
// Everything the view shows is decided by fs/view.h; this file only translates.

#include <chrono>
#include <string>
#include <vector>

#include "fs/view.h"

namespace regfs::view {

struct MountOptions {
  std::string mountpoint;
  bool foreground = false;
  bool debug = false;
  // Extra "-o" options for libfuse and the kernel (allow_other, max_read=…, …).
  std::vector<std::string> fuseOptions;
  // How long the kernel may cache the names and attributes that can change (the root,
  // namespace and repository directories, the tags). What a rebuild finds changed is
  // invalidated before that; the view must keep rebuilding for this long after the last
  // access (ViewOptions::pollAfterAccess).
  std::chrono::milliseconds cacheTimeout{1000};
  // How long the kernel may cache stable nodes (Node::stable: manifest directories and
  // what lies below): their names and entries never change, and the one attribute that
  // can (a file's st_nlink) is invalidated when a rebuild of the view sees it change.
  std::chrono::seconds stableCacheTimeout{3600};
  unsigned maxThreads = 16;
  // How far ahead the kernel reads a file whose reads the daemon answers, in KiB (the
  // mount's read_ahead_kb, set once mounted; root only). 0 keeps the kernel's 128.
  unsigned readAheadKib = 4096;
  // Files inside an image read ahead into the page cache when one before them in their
  // directory is opened (fs/prefetch.h); 0 turns the read-ahead off.
  size_t prefetchFiles = 64;
  // Who opens files (-o opens=…). kDaemon: every open and close of a file is a request (OPEN,
  // RELEASE), at which the daemon can let the kernel read a local blob itself (FUSE
  // passthrough, Linux 6.9, root only), with the blob's own pages. kKernel: files open in the
  // kernel alone (FUSE's zero-message opens, Linux 4.20); every read the page cache misses is
  // answered by the daemon, and a program reading a tree of small files inside an image waits
  // on no request per file. kAuto: kDaemon until a program opens files inside images at a
  // tree reader's pace, kKernel from then on (the kernel allows the switch once, one way).
  enum class Opens { kAuto, kDaemon, kKernel };
  Opens opens = Opens::kAuto;
};

// Mounts `view` read-only at options.mountpoint and serves it until it is unmounted or
// the process gets SIGTERM, SIGINT or SIGHUP (then it unmounts cleanly). Returns the
// exit status; failures before serving are reported on stderr in one line.
int serveView(View& view, const MountOptions& options);

}  // namespace regfs::view
