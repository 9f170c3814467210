// The storage section: the driver (filesystem or s3, with their parameters), delete,
// redirect and maintenance (upload purging, read-only mode).

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config/sections.h"

namespace regfs::config {
namespace {

void readFilesystem(Reader& reader, const Value& v, FilesystemStorageConfig& fs) {
  reader.requireMap(v);
  Value root = childOf(v, "rootdirectory");
  if (auto dir = reader.text(root)) {
    if (dir->empty()) reader.fail(root, "must not be empty");
    fs.rootDirectory = *dir;
  }
  Value threads = childOf(v, "maxthreads");
  if (auto n = reader.integer(threads)) {
    constexpr int64_t kMinThreads = 25;  // distribution raises smaller limits to this
    if (*n < kMinThreads) {
      reader.note(threads.path + ": " + std::to_string(*n) + " raised to the minimum, 25");
    }
    fs.maxThreads = static_cast<uint64_t>(std::max(*n, kMinThreads));
  }
}

// An integer in [min, max], as distribution bounds it; `out` keeps its value when absent.
void readBounded(Reader& reader, const Value& value, int64_t min, int64_t max, uint64_t& out) {
  auto n = reader.integer(value);
  if (!n) return;
  if (*n < min || *n > max) {
    reader.fail(value, "expected a " + std::string(max == INT64_MAX ? "number" : "size") +
                           " from " + std::to_string(min) +
                           (max == INT64_MAX ? " up" : " to " + std::to_string(max) + " bytes") +
                           ", got " + std::to_string(*n));
  }
  out = static_cast<uint64_t>(*n);
}

void readS3(Reader& reader, const Value& v, S3StorageConfig& s3) {
  reader.requireMap(v);
  s3.region = reader.text(childOf(v, "region")).value_or("");
  s3.regionEndpoint = reader.text(childOf(v, "regionendpoint")).value_or("");
  s3.bucket = reader.text(childOf(v, "bucket")).value_or("");
  s3.accessKey = reader.text(childOf(v, "accesskey")).value_or("");
  s3.secretKey = reader.text(childOf(v, "secretkey")).value_or("");
  s3.secure = reader.boolean(childOf(v, "secure")).value_or(s3.secure);
  s3.skipVerify = reader.boolean(childOf(v, "skipverify")).value_or(s3.skipVerify);
  s3.v4Auth = reader.boolean(childOf(v, "v4auth")).value_or(s3.v4Auth);
  s3.rootDirectory = reader.text(childOf(v, "rootdirectory")).value_or("");
  s3.forcePathStyle = reader.boolean(childOf(v, "forcepathstyle")).value_or(s3.forcePathStyle);
  constexpr int64_t kMinPart = int64_t{5} << 20, kMaxPart = int64_t{5} << 30;  // S3's part limits
  readBounded(reader, childOf(v, "chunksize"), kMinPart, kMaxPart, s3.chunkSize);
  readBounded(reader, childOf(v, "multipartcopychunksize"), kMinPart, kMaxPart,
              s3.multipartCopyChunkSize);
  readBounded(reader, childOf(v, "multipartcopymaxconcurrency"), 1, INT64_MAX,
              s3.multipartCopyMaxConcurrency);
  readBounded(reader, childOf(v, "multipartcopythresholdsize"), 0, kMaxPart,
              s3.multipartCopyThresholdSize);
  if (s3.bucket.empty()) reader.failMissing(v, "bucket", "must be set for the s3 driver");
  if (s3.region.empty() && s3.regionEndpoint.empty()) {
    reader.failMissing(v, "region", "must be set for the s3 driver unless regionendpoint is");
  }
}

// The one driver the section names; no driver at all keeps filesystem with its defaults,
// as the registry:2 image configures.
void readDriver(Reader& reader, const Value& v, StorageConfig& storage) {
  std::vector<std::string> drivers;
  if (!v.absent()) {
    for (const std::string& key : stringKeys(v.node)) {
      if (key != "maintenance" && key != "cache" && key != "delete" && key != "redirect") {
        drivers.push_back(key);
      }
    }
  }
  if (drivers.size() > 1) {
    reader.fail(v,
                "more than one storage driver configured (" + commaList(drivers) + "); choose one");
  }
  if (drivers.empty()) return;
  const std::string& name = drivers[0];
  Value driver = childOf(v, name);
  if (name == "filesystem") {
    storage.driver = StorageDriverKind::kFilesystem;
    readFilesystem(reader, driver, storage.filesystem);
  } else if (name == "s3" || name == "s3aws") {
    storage.driver = StorageDriverKind::kS3;
    readS3(reader, driver, storage.s3);
  } else if (name == "inmemory") {
    reader.fail(driver,
                "the inmemory storage driver is not supported by regfs (it loses every image on "
                "restart); use filesystem");
  } else {
    reader.fail(driver, "storage driver " + quote(name) +
                            " is not supported by regfs (use filesystem or s3)");
  }
}

void readMaintenance(Reader& reader, const Value& maintenance, StorageConfig& storage) {
  reader.requireMap(maintenance);
  Value purging = childOf(maintenance, "uploadpurging");
  reader.requireMap(purging);
  UploadPurgingConfig& p = storage.uploadPurging;
  p.enabled = reader.boolean(childOf(purging, "enabled")).value_or(p.enabled);
  p.age = reader.duration(childOf(purging, "age"), false).value_or(p.age);
  p.interval = reader.duration(childOf(purging, "interval"), false).value_or(p.interval);
  p.dryRun = reader.boolean(childOf(purging, "dryrun")).value_or(p.dryRun);
  Value readOnly = childOf(maintenance, "readonly");
  reader.requireMap(readOnly);
  storage.readOnly = reader.boolean(childOf(readOnly, "enabled")).value_or(false);
}

}  // namespace

void readStorage(Reader& reader, const Value& v, StorageConfig& storage) {
  reader.requireMap(v);
  readDriver(reader, v, storage);
  Value del = childOf(v, "delete");
  reader.requireMap(del);
  storage.deleteEnabled = reader.boolean(childOf(del, "enabled")).value_or(false);
  Value redirect = childOf(v, "redirect");
  reader.requireMap(redirect);
  storage.redirectDisabled = reader.boolean(childOf(redirect, "disable")).value_or(false);
  readMaintenance(reader, childOf(v, "maintenance"), storage);
}

}  // namespace regfs::config
