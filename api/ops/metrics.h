#pragma once
// Request metrics in Prometheus's text format, named as distribution names them
// (registry_http_requests_total{code,handler,method}, registry_http_request_duration_seconds,
// …) so dashboards built for registry:2 keep working. The hot path is one relaxed atomic
// add per counter on a per-thread shard; a scrape sums the shards. Handlers are a fixed
// set of route names, never raw paths.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/mirror/mirror.h"

namespace regfs::api {

enum class Handler : uint8_t {
  kBase,
  kCatalog,
  kTags,
  kManifest,
  kBlob,
  kBlobUpload,       // POST …/blobs/uploads/
  kBlobUploadChunk,  // …/blobs/uploads/<uuid>
  kReferrers,
  kFiles,       // …/_regfs/files/<reference>/<path>
  kUi,          // the web UI's views: /v2/_regfs/catalog, …/_regfs/tags, …/_regfs/image/…
  kRepository,  // …/_regfs/repository
  kNotFound,    // no route
  kCount
};

// The resource parseRoute finds in a request path, as a metrics label.
Handler classifyHandler(std::string_view path);
std::string_view handlerLabel(Handler h);

class Metrics {
 public:
  static constexpr size_t kHandlers = static_cast<size_t>(Handler::kCount);
  static constexpr size_t kMethods = 7;  // GET HEAD PUT POST PATCH DELETE other
  static constexpr size_t kStatuses = 32;
  static constexpr std::array<double, 16> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  static constexpr size_t kShards = 8;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished request.
  void observe(Handler handler, std::string_view method, int status, uint64_t bytesIn,
               uint64_t bytesOut, std::chrono::nanoseconds duration);

  // Appends a block of exposition text at scrape time (inventory, health, notifications).
  using Collector = std::function<void(std::string& out)>;
  void addCollector(Collector c);

  // The whole exposition, every metric with # HELP and # TYPE.
  std::string render() const;

 private:
  struct Shard;
  Shard& shard();
  std::vector<std::unique_ptr<Shard>> shards_;
  mutable std::mutex collectorsMu_;
  std::vector<Collector> collectors_;
};

// Exposition helpers for collectors.
void appendMetricHeader(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help);
// "name{k="v",…} value\n"; label values are escaped.
// The pull-through cache's counters (api/mirror).
void appendMirrorMetrics(std::string& out, const mirror::MirrorCounters& counters);

void appendSample(std::string& out, std::string_view name,
                  const std::vector<std::pair<std::string_view, std::string_view>>& labels,
                  double value);

}  // namespace regfs::api
