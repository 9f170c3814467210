#include "api/ops/operations.h"

#include <spdlog/spdlog.h>

#include "api/registry/auth.h"
#include "api/registry/router.h"
#include "common/base64.h"
#include "common/digest.h"
#include "common/manifest.h"

namespace regfs::api {
namespace {

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

}  // namespace

std::optional<NotificationEvent> eventFor(const Exchange& x, const std::string& externalHost) {
  if (!x.response.event) return std::nullopt;
  const RegistryEvent& did = *x.response.event;
  const Request& req = x.request;
  NotificationEvent e;
  e.action = did.action;
  e.repository = did.repository;
  e.digest = did.digest;
  e.tag = did.tag;
  e.mediaType = did.mediaType;
  e.size = did.size;
  e.fromRepository = did.fromRepository;
  if (did.action != "delete") {
    std::string base = externalHost.empty() ? "http://" + requestHeader(req, "Host") : externalHost;
    while (!base.empty() && base.back() == '/') base.pop_back();
    e.url = base + (did.target == RegistryEvent::Target::kManifest
                        ? manifestPath(did.repository, did.digest)
                        : blobPath(did.repository, did.digest));
  }
  e.requestId = newUuid();
  e.addr = std::string(x.remote);
  e.host = requestHeader(req, "Host");
  e.method = req.method;
  e.userAgent = requestHeader(req, "User-Agent");
  e.actor = basicUser(req);
  return e;
}

Operations::Operations(std::shared_ptr<Metrics> metrics, std::shared_ptr<HealthChecks> health,
                       std::shared_ptr<Notifier> notifier, std::shared_ptr<LayerIndexer> indexer,
                       OperationsOptions options)
    : metrics_(std::move(metrics)),
      health_(std::move(health)),
      notifier_(std::move(notifier)),
      indexer_(std::move(indexer)),
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
  if (indexer_) queueForIndexing(x);
  if (notifier_ && !notifier_->empty()) notify(x);
}

void Operations::queueForIndexing(const Exchange& x) {
  const std::optional<RegistryEvent>& did = x.response.event;
  if (!did || did->action != "push" || did->target != RegistryEvent::Target::kManifest) return;
  // An index has no layers of its own: its children are pushed as manifests themselves.
  if (did->mediaType == media::kOciIndex || did->mediaType == media::kDockerManifestList) return;
  if (auto digest = Digest::tryParse(did->digest)) indexer_->manifestPushed(*digest);
}

void Operations::notify(const Exchange& x) {
  try {
    if (auto event = eventFor(x, options_.externalHost)) notifier_->publish(*event);
  } catch (const std::exception& e) {
    spdlog::warn("notifications: cannot build an event for {} {}: {}", x.request.method,
                 loggableTarget(x.request.target), e.what());
  }
}

}  // namespace regfs::api
