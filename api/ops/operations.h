#pragma once
// The operational side of regfs-server, behind the RequestObserver seam: request metrics,
// the access log (its only lines: one per request, text or JSON), notification events, the
// health gate, and the layers of pushed images handed to the indexer.

#include <memory>
#include <string>

#include "api/http/observer.h"
#include "api/ops/health.h"
#include "api/ops/layer_indexer.h"
#include "api/ops/logging.h"
#include "api/ops/metrics.h"
#include "api/ops/notifications.h"

namespace regfs::api {

struct OperationsOptions {
  bool accessLog = true;
  std::string externalHost;  // http.host: base of event target URLs (else the request's Host)
};

class Operations : public RequestObserver {
 public:
  // `indexer` may be null (regfs.indexing.enabled: false), like `metrics`.
  Operations(std::shared_ptr<Metrics> metrics, std::shared_ptr<HealthChecks> health,
             std::shared_ptr<Notifier> notifier, std::shared_ptr<LayerIndexer> indexer,
             OperationsOptions options);

  std::optional<Response> admit(const Request& request) override;
  void completed(const Exchange& exchange) override;

 private:
  void notify(const Exchange& exchange);
  void queueForIndexing(const Exchange& exchange);
  std::shared_ptr<Metrics> metrics_;
  std::shared_ptr<HealthChecks> health_;
  std::shared_ptr<Notifier> notifier_;
  std::shared_ptr<LayerIndexer> indexer_;
  OperationsOptions options_;
};

// The notification event of a finished exchange: what its handler said it did
// (Response::event), with who asked and how. Target URLs are based on `externalHost`
// (http.host), else on the request's Host.
std::optional<NotificationEvent> eventFor(const Exchange& exchange,
                                          const std::string& externalHost);

}  // namespace regfs::api
