// regfsctl export ROOT NAME[:TAG|@DIGEST] [-o FILE] [--platform OS/ARCH[/VARIANT]]
// The image's root file system as one tar stream (common/layers/export.h says what is in it),
// on stdout or into FILE, which appears whole or not at all.
#include <fcntl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/handles.h"
#include "common/layers/export.h"
#include "common/layers/file_trees.h"
#include "common/unique_fd.h"
#include "tools/command.h"

namespace regfs::tools {
namespace {

struct ExportOptions {
  std::string root;
  std::string image;
  std::string output;
  std::string platform;
};

void writeAll(int fd, std::string_view bytes, const std::string& what) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throwErrno("write", what, errno);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

int runExport(const ExportOptions& opts) {
  // stdout is the tar: logs go to stderr, and only past the error line a failure prints.
  spdlog::set_default_logger(spdlog::stderr_logger_st("regfsctl"));
  spdlog::set_level(spdlog::level::critical);
  if (opts.output.empty() && ::isatty(STDOUT_FILENO))
    throw Error(ErrorKind::kInvalidArgument,
                "refusing to write a tar stream to a terminal: redirect stdout or use -o FILE");
  StoreAt at = openStore(opts.root);
  layers::ImageReference ref = layers::parseImageReference(opts.image);
  std::optional<Platform> platform;
  if (!opts.platform.empty()) platform = layers::parsePlatform(opts.platform);
  layers::TreeSource source{layers::rootfsLayers(*at.store, ref, platform), true};
  layers::FileTrees trees(*at.store, {}, 1);
  auto tree = trees.tree(source);

  if (opts.output.empty() || opts.output == "-") {
    layers::exportTree(*at.store, *tree,
                       [](std::string_view b) { writeAll(STDOUT_FILENO, b, "stdout"); });
    return kExitOk;
  }
  // Beside FILE, so the rename stays on one file system; removed unless renamed.
  std::string pattern = opts.output + ".tmp-XXXXXX";
  UniqueFd fd(::mkstemp(pattern.data()));
  if (!fd) throwErrno("create", pattern, errno);
  TempFile temp(pattern);
  layers::exportTree(*at.store, *tree, [&](std::string_view b) { writeAll(fd.get(), b, pattern); });
  if (::fchmod(fd.get(), 0644) != 0) throwErrno("chmod", pattern, errno);
  if (::fsync(fd.get()) != 0) throwErrno("fsync", pattern, errno);
  if (::close(fd.release()) != 0) throwErrno("close", pattern, errno);
  if (::rename(pattern.c_str(), opts.output.c_str()) != 0) throwErrno("rename", opts.output, errno);
  temp.commit();
  return kExitOk;
}

}  // namespace

void addExportCommand(Commands& commands) {
  auto opts = std::make_shared<ExportOptions>();
  Command cmd = commands.add(
      "export", "write an image's root file system as a tar stream (as docker export does)",
      [opts] { return runExport(*opts); });
  addRootArgument(cmd, opts->root);
  cmd.required("IMAGE", opts->image, "NAME, NAME:TAG or NAME@DIGEST (NAME alone: NAME:latest)");
  cmd.option("-o,--output", opts->output,
             "write to FILE (created whole or not at all) instead of stdout");
  cmd.option("--platform", opts->platform,
             "OS/ARCH[/VARIANT]: the image of an index to export (default: this host's)");
}

}  // namespace regfs::tools
