#pragma once
// Test support: three real GNU tar layers (PAX, a user xattr, sub-second mtimes, owners, a
// setuid binary with a hardlink, symlinks, a FIFO, a device, whiteouts, an opaque directory,
// a file over a directory and back), compressed with gzip, zstd or not at all: the image
// whose root file system the view and export are compared with umoci's unpack on.

#include <filesystem>
#include <string>
#include <vector>

#include "support/image.h"
#include "support/process.h"
#include "support/tree_facts.h"

namespace regfs::testing {

// The three layers, as shell commands run in an empty staging directory.
inline const char* const kRootfsLayerScripts[] = {
    // The base: a setuid binary with a hardlink and symlinks (one escaping, one absolute), a
    // FIFO, a device node, owners, a user xattr, directories to whiteout later.
    "mkdir -p etc bin usr/lib dir/sub opaque/keep opaque/gone dev && "
    "echo hello > etc/os-release && chown 1234:5678 etc/os-release && "
    "setfattr -n user.comment -v 'from layer one' etc/os-release && "
    "echo gone > etc/gone && printf 'busybox v1' > bin/busybox && chmod 4755 bin/busybox && "
    "ln bin/busybox bin/sh && ln -s busybox bin/ls && ln -s ../../../../etc/passwd usr/lib/up && "
    "ln -s /etc/os-release usr/lib/abs && mkfifo usr/fifo && mknod dev/null c 1 3 && "
    "echo x > dir/sub/file && echo y > opaque/keep/a && echo z > opaque/gone/b && "
    "chmod 1777 usr && chmod 2755 usr/lib",
    // A whiteout, an opaque directory with a new child, a file over a directory, a new
    // busybox (bin/sh keeps the old bytes), a directory's new mode.
    "mkdir -p etc opaque bin && touch etc/.wh.gone && touch opaque/.wh..wh..opq && "
    "echo new > opaque/new && echo 'now a file' > dir && printf 'busybox v2' > bin/busybox && "
    "chmod 0700 etc && echo second > etc/motd",
    // The file becomes a directory again, with a hardlink; a symlink goes.
    "mkdir -p dir bin && echo back > dir/again && ln dir/again dir/twin && touch bin/.wh.ls",
};

// Layer `i` of kRootfsLayerScripts, staged in `staging` (an empty directory to be), as a tar
// compressed with `compression` ("gzip", "zstd" or "none") added to `oci`.
inline Blob rootfsLayer(OciLayout& oci, const std::filesystem::path& staging, size_t i,
                        const std::string& compression) {
  std::filesystem::create_directories(staging);
  auto made = sh("cd '" + staging.string() + "' && " + kRootfsLayerScripts[i] +
                 " && find . -exec touch -h -d '2021-02-03 04:05:06.123456789' {} +");
  EXPECT_EQ(made.status, 0) << made.err;
  std::string pipe = compression == "gzip"   ? " | gzip -n"
                     : compression == "zstd" ? " | zstd -q -c"
                                             : "";
  auto tar = sh("tar -C '" + staging.string() +
                "' --sort=name --format=pax --xattrs --xattrs-include='user.*' "
                "--numeric-owner -cf - ." +
                pipe);
  EXPECT_EQ(tar.status, 0) << tar.err;
  const std::string plain = "application/vnd.oci.image.layer.v1.tar";
  std::string type = compression == "gzip"   ? kOciLayerType
                     : compression == "zstd" ? plain + "+zstd"
                                             : plain;
  return oci.addBlob(type, tar.out);
}

// The comparison's options: the one user xattr the layers set.
inline TreeFactsOptions withRootfsComment() {
  TreeFactsOptions o;
  o.xattrNames = {{"user.comment", "user.comment"}};
  return o;
}

}  // namespace regfs::testing
