// The health section: the storage driver probe and the file, http and tcp checks.

#include "common/config/sections.h"

namespace regfs::config {
namespace {

using std::chrono::nanoseconds;

// `interval` and `threshold` of a health check; an interval of zero or less keeps the default.
void readCheckTiming(Reader& reader, const Value& check, nanoseconds& interval, int& threshold) {
  reader.positiveDuration(childOf(check, "interval"), interval);
  Value t = childOf(check, "threshold");
  if (auto n = reader.integer(t)) {
    if (*n < 0 || *n > 1000000) reader.fail(t, "out of range");
    threshold = static_cast<int>(*n);
  }
}

void readHttpCheck(Reader& reader, const Value& item, HttpHealthConfig& c) {
  c.uri = reader.text(childOf(item, "uri")).value_or("");
  if (c.uri.empty()) reader.failMissing(item, "uri", "must name the URI to check");
  c.headers = reader.headers(childOf(item, "headers"));
  Value status = childOf(item, "statuscode");
  if (auto n = reader.integer(status); n && *n != 0) {
    if (*n < 100 || *n > 599)
      reader.fail(status, "expected an HTTP status code, got " + describe(status.node));
    c.statusCode = static_cast<int>(*n);
  }
  c.timeout = reader.duration(childOf(item, "timeout"), true).value_or(nanoseconds(0));
  readCheckTiming(reader, item, c.interval, c.threshold);
}

}  // namespace

void readHealth(Reader& reader, const Value& v, HealthConfig& health) {
  reader.requireMap(v);
  Value driver = childOf(v, "storagedriver");
  reader.requireMap(driver);
  health.storageDriver.enabled = reader.boolean(childOf(driver, "enabled")).value_or(false);
  readCheckTiming(reader, driver, health.storageDriver.interval, health.storageDriver.threshold);
  reader.forEachItem(childOf(v, "file"), "file checks", [&](const Value& item) {
    FileHealthConfig& c = health.files.emplace_back();
    c.file = reader.text(childOf(item, "file")).value_or("");
    if (c.file.empty()) reader.failMissing(item, "file", "must name the file to check");
    readCheckTiming(reader, item, c.interval, c.threshold);
  });
  reader.forEachItem(childOf(v, "http"), "HTTP checks", [&](const Value& item) {
    readHttpCheck(reader, item, health.http.emplace_back());
  });
  reader.forEachItem(childOf(v, "tcp"), "TCP checks", [&](const Value& item) {
    TcpHealthConfig& c = health.tcp.emplace_back();
    c.addr = reader.text(childOf(item, "addr")).value_or("");
    if (c.addr.empty()) reader.failMissing(item, "addr", "must name the host:port to check");
    c.timeout = reader.duration(childOf(item, "timeout"), true).value_or(nanoseconds(0));
    readCheckTiming(reader, item, c.interval, c.threshold);
  });
}

}  // namespace regfs::config
