#include "api/ops/operations.h"

#include <spdlog/spdlog.h>

#include "api/registry/auth.h"
#include "api/registry/router.h"
#include "common/base64.h"
#include "common/digest.h"

namespace regfs::api {
namespace {

bool isDigest(std::string_view ref) { return ref.find(':') != std::string_view::npos; }

std::string header(const Response& r, std::string_view name) {
  auto v = r.header(name);
  return v ? std::string(*v) : std::string();
}

std::string requestHeader(const Request& r, std::string_view name) {
  auto v = r.headers.get(name);
  return v ? std::string(*v) : std::string();
}

// The user of a Basic Authorization header, for actor.name.
std::string basicUser(const Request& r) {
  auto auth = r.headers.get("Authorization");
  if (!auth || auth->size() < 6 || !equalsIgnoreCase(auth->substr(0, 6), "basic ")) return "";
  auto decoded = base64Decode(auth->substr(6));
  if (!decoded) return "";
  return decoded->substr(0, decoded->find(':'));
}

uint64_t parseSize(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 19)
    return 0;
  return std::stoull(s);
}

}  // namespace

std::optional<NotificationEvent> eventFor(
    const Exchange& x, const std::string& externalHost,
    const std::function<uint64_t(const std::string&)>& blobSize) {
  const Request& req = x.request;
  const Response& res = x.response;
  int status = res.status;
  // A blob GET answered by a redirect to storage (storage.redirect) is a pull for
  // distribution too: its ServeBlob succeeded.
  bool redirected = status == 307;
  if ((status < 200 || status >= 300) && !redirected) return std::nullopt;
  auto route = parseRoute(req.path);
  if (!route) return std::nullopt;
  const std::string& m = req.method;
  NotificationEvent e;
  e.repository = route->name;
  std::string base = externalHost;
  if (base.empty()) base = "http://" + requestHeader(req, "Host");
  while (!base.empty() && base.back() == '/') base.pop_back();

  switch (route->resource) {
    case Resource::kManifest:
      if ((m == "GET" || m == "HEAD") && status == 200) {
        e.action = "pull";
      } else if (m == "PUT" && status == 201) {
        e.action = "push";
      } else if (m == "DELETE" && status == 202) {
        e.action = "delete";
      } else {
        return std::nullopt;
      }
      if (e.action == "delete") {
        // By digest: the manifest; by tag: the tag (distribution's TagDeleted).
        if (isDigest(route->reference)) {
          e.digest = route->reference;
        } else {
          e.tag = route->reference;
        }
        break;
      }
      e.digest = header(res, "Docker-Content-Digest");
      if (!isDigest(route->reference)) e.tag = route->reference;
      if (e.action == "push") {
        e.mediaType = requestHeader(req, "Content-Type");
        e.size = req.contentLength.value_or(x.bytesIn);
        if (req.chunked) e.size = x.bytesIn;
      } else {
        e.mediaType = header(res, "Content-Type");
        e.size = parseSize(header(res, "Content-Length"));
      }
      e.url = base + manifestPath(route->name, e.digest);
      break;
    case Resource::kBlob:
      if (m == "GET" && (status == 200 || status == 206 || redirected)) {
        e.action = "pull";
        e.digest = header(res, "Docker-Content-Digest");
        if (e.digest.empty()) e.digest = route->reference;
        e.mediaType = "application/octet-stream";
        std::string range = header(res, "Content-Range");
        size_t slash = range.rfind('/');
        if (redirected) {
          e.size = blobSize(e.digest);
        } else {
          e.size = slash != std::string::npos ? parseSize(range.substr(slash + 1))
                                              : parseSize(header(res, "Content-Length"));
        }
        e.url = base + blobPath(route->name, e.digest);
      } else if (m == "DELETE" && status == 202) {
        e.action = "delete";
        e.digest = route->reference;
      } else {
        return std::nullopt;
      }
      break;
    case Resource::kUploadStart:
    case Resource::kUpload:
      if (status != 201 || (m != "POST" && m != "PUT")) return std::nullopt;
      e.action = "push";
      if (m == "POST") {
        if (auto from = queryValue(req.query, "from"); from && queryValue(req.query, "mount")) {
          e.action = "mount";
          e.fromRepository = *from;
        }
      }
      e.digest = header(res, "Docker-Content-Digest");
      if (e.digest.empty()) return std::nullopt;
      e.mediaType = "application/octet-stream";
      e.size = blobSize(e.digest);
      e.url = base + blobPath(route->name, e.digest);
      break;
    default:
      return std::nullopt;
  }
  e.requestId = newUuid();
  e.addr = std::string(x.remote);
  e.host = requestHeader(req, "Host");
  e.method = m;
  e.userAgent = requestHeader(req, "User-Agent");
  e.actor = basicUser(req);
  return e;
}

Operations::Operations(std::shared_ptr<Registry> registry, std::shared_ptr<Metrics> metrics,
                       std::shared_ptr<HealthChecks> health, std::shared_ptr<Notifier> notifier,
                       OperationsOptions options)
    : registry_(std::move(registry)),
      metrics_(std::move(metrics)),
      health_(std::move(health)),
      notifier_(std::move(notifier)),
      options_(std::move(options)) {}

std::optional<Response> Operations::admit(const Request&) {
  if (health_ && !health_->healthy()) return unavailableResponse();
  return std::nullopt;
}

void Operations::completed(const Exchange& x) {
  if (metrics_) {
    metrics_->observe(classifyHandler(x.request.path), x.request.method, x.response.status,
                      x.bytesIn, x.bytesOut, x.duration);
  }
  if (options_.accessLog) {
    double seconds = std::chrono::duration<double>(x.duration).count();
    std::string msg = x.request.method + " " + loggableTarget(x.request.target) + " " +
                      std::to_string(x.response.status);
    logWithFields(msg, {LogField::str("method", x.request.method),
                        LogField::str("path", loggableTarget(x.request.target)),
                        LogField::num("status", x.response.status),
                        LogField::num("bytes", static_cast<double>(x.bytesOut)),
                        LogField::num("duration", seconds), LogField::str("remote", x.remote)});
  }
  if (notifier_ && !notifier_->empty()) notify(x);
}

void Operations::notify(const Exchange& x) {
  try {
    auto event = eventFor(x, options_.externalHost, [this](const std::string& digest) -> uint64_t {
      try {
        auto info = registry_->store().statBlob(Digest::parse(digest));
        return info ? info->size : 0;
      } catch (const std::exception&) {
        return 0;
      }
    });
    if (event) notifier_->publish(*event);
  } catch (const std::exception& e) {
    spdlog::warn("notifications: cannot build an event for {} {}: {}", x.request.method,
                 loggableTarget(x.request.target), e.what());
  }
}

}  // namespace regfs::api
