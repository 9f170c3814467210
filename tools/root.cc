#include "tools/root.h"

#include "common/config.h"
#include "common/error.h"
#include "common/s3_driver.h"

namespace regfs::tools {

RootConfig resolveRoot(const std::string& root) {
  std::error_code ec;
  std::filesystem::path path(root);
  bool configFile = std::filesystem::is_regular_file(path, ec) &&
                    (path.extension() == ".yml" || path.extension() == ".yaml");
  if (configFile) {
    Config config = loadConfig(path, processEnvironment());
    if (config.storage.driver == StorageDriverKind::kS3) {
      return RootConfig{{}, config.storage.uploadPurging.age, makeS3Driver(config.storage.s3)};
    }
  }
  RootConfig out{resolveStoreRoot(root)};
  if (!std::filesystem::is_directory(root, ec)) {
    out.uploadPurgingAge = loadConfig(root, processEnvironment()).storage.uploadPurging.age;
  }
  out.driver = makeFsDriver(out.rootdirectory);
  return out;
}

std::chrono::nanoseconds durationArgument(const std::string& name, const std::string& text) {
  try {
    auto d = parseDuration(text);
    if (d.count() < 0) throw Error(ErrorKind::kInvalidArgument, "negative");
    return d;
  } catch (const Error&) {
    throw Error(ErrorKind::kInvalidArgument,
                name + " " + text + " is not a duration (e.g. 168h, 1h30m, 10s)");
  }
}

}  // namespace regfs::tools
