#include "api/ops/metrics.h"

#include <cmath>
#include <cstdio>

#include "api/registry/router.h"

namespace regfs::api {
namespace {

constexpr std::array<int, Metrics::kStatuses - 1> kKnownStatuses = {
    100, 200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405,
    406, 408, 409, 411, 413, 414, 415, 416, 429, 431, 500, 501, 502, 503, 507};

constexpr std::array<std::string_view, Metrics::kMethods> kMethodLabels = {
    "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "other"};

size_t statusIndex(int status) {
  for (size_t i = 0; i < kKnownStatuses.size(); ++i) {
    if (kKnownStatuses[i] == status) return i;
  }
  return Metrics::kStatuses - 1;  // "other"
}

size_t methodIndex(std::string_view m) {
  for (size_t i = 0; i + 1 < kMethodLabels.size(); ++i) {
    if (kMethodLabels[i] == m) return i;
  }
  return Metrics::kMethods - 1;
}

void appendDouble(std::string& out, double v) {
  char buf[40];
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  out += buf;
}

void appendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

struct alignas(64) Metrics::Shard {
  std::array<std::atomic<uint64_t>, kHandlers * kMethods * kStatuses> requests{};
  std::array<std::atomic<uint64_t>, kHandlers * kMethods*(kBuckets.size() + 1)> buckets{};
  std::array<std::atomic<uint64_t>, kHandlers * kMethods> durationNs{};
  std::array<std::atomic<uint64_t>, kHandlers> bytesIn{};
  std::array<std::atomic<uint64_t>, kHandlers> bytesOut{};
};

Handler classifyHandler(std::string_view path) {
  auto route = parseRoute(path);
  if (!route) return Handler::kNotFound;
  switch (route->resource) {
    case Resource::kBase:
      return Handler::kBase;
    case Resource::kCatalog:
      return Handler::kCatalog;
    case Resource::kTags:
      return Handler::kTags;
    case Resource::kManifest:
      return Handler::kManifest;
    case Resource::kUploadStart:
      return Handler::kBlobUpload;
    case Resource::kUpload:
      return Handler::kBlobUploadChunk;
    case Resource::kBlob:
      return Handler::kBlob;
    case Resource::kReferrers:
      return Handler::kReferrers;
    case Resource::kFiles:
      return Handler::kFiles;
    case Resource::kUiCatalog:
    case Resource::kUiStorage:
    case Resource::kUiWhoami:
    case Resource::kUiTags:
    case Resource::kUiManifests:
    case Resource::kUiImage:
      return Handler::kUi;
    case Resource::kRepository:
      return Handler::kRepository;
  }
  return Handler::kNotFound;
}

std::string_view handlerLabel(Handler h) {
  switch (h) {
    case Handler::kBase:
      return "base";
    case Handler::kCatalog:
      return "catalog";
    case Handler::kTags:
      return "tags";
    case Handler::kManifest:
      return "manifest";
    case Handler::kBlob:
      return "blob";
    case Handler::kBlobUpload:
      return "blob_upload";
    case Handler::kBlobUploadChunk:
      return "blob_upload_chunk";
    case Handler::kReferrers:
      return "referrers";
    case Handler::kFiles:
      return "files";
    case Handler::kUi:
      return "ui";
    case Handler::kRepository:
      return "repository";
    case Handler::kNotFound:
    case Handler::kCount:
      break;
  }
  return "not_found";
}

Metrics::Metrics() {
  for (size_t i = 0; i < kShards; ++i) shards_.push_back(std::make_unique<Shard>());
}

Metrics::~Metrics() = default;

Metrics::Shard& Metrics::shard() {
  static std::atomic<size_t> next{0};
  thread_local size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return *shards_[index];
}

void Metrics::observe(Handler handler, std::string_view method, int status, uint64_t bytesIn,
                      uint64_t bytesOut, std::chrono::nanoseconds duration) {
  Shard& s = shard();
  size_t h = static_cast<size_t>(handler);
  size_t hm = h * kMethods + methodIndex(method);
  s.requests[hm * kStatuses + statusIndex(status)].fetch_add(1, std::memory_order_relaxed);
  double seconds = std::chrono::duration<double>(duration).count();
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  s.buckets[hm * (kBuckets.size() + 1) + b].fetch_add(1, std::memory_order_relaxed);
  s.durationNs[hm].fetch_add(static_cast<uint64_t>(duration.count()), std::memory_order_relaxed);
  if (bytesIn) s.bytesIn[h].fetch_add(bytesIn, std::memory_order_relaxed);
  if (bytesOut) s.bytesOut[h].fetch_add(bytesOut, std::memory_order_relaxed);
}

void Metrics::addCollector(Collector c) {
  std::lock_guard lock(collectorsMu_);
  collectors_.push_back(std::move(c));
}

void appendMetricHeader(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void appendMirrorMetrics(std::string& out, const mirror::MirrorCounters& counters) {
  auto counter = [&out](std::string_view name, std::string_view help, uint64_t value) {
    appendMetricHeader(out, name, "counter", help);
    appendSample(out, name, {}, static_cast<double>(value));
  };
  counter("regfs_mirror_hits_total", "Pulls answered from the pull-through cache.",
          counters.hits.load());
  counter("regfs_mirror_misses_total", "Manifests and blobs fetched from the upstream.",
          counters.misses.load());
  counter("regfs_mirror_upstream_bytes_total", "Body bytes received from the upstream.",
          counters.upstreamBytes.load());
  counter("regfs_mirror_coalesced_total",
          "Requests that joined a fetch already running instead of starting one.",
          counters.coalesced.load());
  counter("regfs_mirror_upstream_errors_total",
          "Upstream requests that failed: unreachable, 5xx, 429, wrong bytes.",
          counters.upstreamErrors.load());
  counter("regfs_mirror_served_stale_total",
          "Cached manifests served because the upstream could not confirm them.",
          counters.servedStale.load());
  counter("regfs_mirror_expired_total", "Manifests and layers removed by proxy.ttl.",
          counters.expired.load());
}

void appendSample(std::string& out, std::string_view name,
                  const std::vector<std::pair<std::string_view, std::string_view>>& labels,
                  double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out += ',';
      first = false;
      out += k;
      out += "=\"";
      appendEscaped(out, v);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  appendDouble(out, value);
  out += '\n';
}

std::string Metrics::render() const {
  auto sum = [&](auto member, size_t i) {
    uint64_t total = 0;
    for (const auto& s : shards_) total += ((*s).*member)[i].load(std::memory_order_relaxed);
    return total;
  };
  std::string out;
  out.reserve(16384);

  appendMetricHeader(out, "registry_http_requests_total", "counter",
                     "Requests answered, by handler (route), method and status code.");
  for (size_t h = 0; h < kHandlers; ++h) {
    for (size_t m = 0; m < kMethods; ++m) {
      for (size_t st = 0; st < kStatuses; ++st) {
        uint64_t n = sum(&Shard::requests, (h * kMethods + m) * kStatuses + st);
        if (n == 0) continue;
        std::string code = st + 1 < kStatuses ? std::to_string(kKnownStatuses[st]) : "other";
        appendSample(out, "registry_http_requests_total",
                     {{"code", code},
                      {"handler", handlerLabel(static_cast<Handler>(h))},
                      {"method", kMethodLabels[m]}},
                     static_cast<double>(n));
      }
    }
  }

  appendMetricHeader(
      out, "registry_http_request_duration_seconds", "histogram",
      "Time from the end of the request head to the response being queued, by handler and method.");
  for (size_t h = 0; h < kHandlers; ++h) {
    for (size_t m = 0; m < kMethods; ++m) {
      size_t hm = h * kMethods + m;
      std::array<uint64_t, kBuckets.size() + 1> counts{};
      uint64_t total = 0;
      for (size_t b = 0; b < counts.size(); ++b) {
        counts[b] = sum(&Shard::buckets, hm * (kBuckets.size() + 1) + b);
        total += counts[b];
      }
      if (total == 0) continue;
      std::string_view handler = handlerLabel(static_cast<Handler>(h));
      uint64_t cumulative = 0;
      for (size_t b = 0; b < counts.size(); ++b) {
        cumulative += counts[b];
        std::string le;
        if (b < kBuckets.size()) {
          appendDouble(le, kBuckets[b]);
        } else {
          le = "+Inf";
        }
        appendSample(out, "registry_http_request_duration_seconds_bucket",
                     {{"handler", handler}, {"method", kMethodLabels[m]}, {"le", le}},
                     static_cast<double>(cumulative));
      }
      appendSample(out, "registry_http_request_duration_seconds_sum",
                   {{"handler", handler}, {"method", kMethodLabels[m]}},
                   static_cast<double>(sum(&Shard::durationNs, hm)) / 1e9);
      appendSample(out, "registry_http_request_duration_seconds_count",
                   {{"handler", handler}, {"method", kMethodLabels[m]}},
                   static_cast<double>(total));
    }
  }

  appendMetricHeader(out, "registry_http_request_bytes_total", "counter",
                     "Request body bytes received, by handler.");
  for (size_t h = 0; h < kHandlers; ++h) {
    if (uint64_t n = sum(&Shard::bytesIn, h)) {
      appendSample(out, "registry_http_request_bytes_total",
                   {{"handler", handlerLabel(static_cast<Handler>(h))}}, static_cast<double>(n));
    }
  }
  appendMetricHeader(out, "registry_http_response_bytes_total", "counter",
                     "Response body bytes sent, by handler.");
  for (size_t h = 0; h < kHandlers; ++h) {
    if (uint64_t n = sum(&Shard::bytesOut, h)) {
      appendSample(out, "registry_http_response_bytes_total",
                   {{"handler", handlerLabel(static_cast<Handler>(h))}}, static_cast<double>(n));
    }
  }

  std::vector<Collector> collectors;
  {
    std::lock_guard lock(collectorsMu_);
    collectors = collectors_;
  }
  for (const auto& c : collectors) c(out);
  return out;
}

}  // namespace regfs::api
