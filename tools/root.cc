#include "tools/root.h"

#include "common/config/config.h"
#include "common/error.h"
#include "common/storage/s3_driver.h"

namespace regfs::tools {

RootConfig resolveRoot(const std::string& root) {
  std::error_code ec;
  if (auto s3 = s3StorageOf(root)) {
    return RootConfig{{}, loadConfig(root, processEnvironment()).storage.uploadPurging.age, s3};
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
