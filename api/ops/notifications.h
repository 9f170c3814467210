#pragma once
// notifications.endpoints: distribution's webhooks. Every push, pull, mount and delete
// of a manifest or blob becomes an event in distribution's envelope
// (application/vnd.docker.distribution.events.v1+json, {"events":[…]}) POSTed to each
// endpoint. Each endpoint has its own bounded queue and sender thread: publish() never
// blocks a request; when a queue is full the event is dropped with a warning and counted.
// A failed delivery is retried, at once up to `threshold` failures in a row, then every
// `backoff`, until it succeeds (as distribution's retrying sink); `timeout` bounds each
// attempt. Endpoints take http:// and https:// URLs (certificates are verified, see
// api/http/http_client.h).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/config/config.h"

namespace regfs::api {

struct NotificationEvent {
  std::string action;  // push | pull | mount | delete
  // target
  std::string mediaType;
  uint64_t size = 0;
  std::string digest;
  std::string repository;
  std::string fromRepository;
  std::string url;
  std::string tag;
  // request
  std::string requestId;
  std::string addr;
  std::string host;
  std::string method;
  std::string userAgent;
  std::string actor;  // authenticated user, if any
};

struct NotificationSource {
  std::string addr;        // hostname:port of this server
  std::string instanceId;  // new at every start
};

// The JSON of one event (the elements of the envelope's "events" array).
std::string eventJson(const NotificationEvent& e, const NotificationSource& source,
                      std::chrono::system_clock::time_point when);
// A random RFC 4122 version 4 UUID.
std::string newUuid();

class Notifier {
 public:
  static constexpr size_t kDefaultQueueSize = 1024;
  Notifier(const NotificationsConfig& config, NotificationSource source,
           size_t queueSize = kDefaultQueueSize);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  bool empty() const { return endpoints_.empty(); }
  // Queues `event` for every endpoint that does not ignore it. Never blocks on delivery.
  void publish(const NotificationEvent& event);
  // Waits up to `timeout` for queues to empty, then stops the senders.
  void stop(std::chrono::milliseconds timeout);
  // Prometheus samples: registry_notifications_events_total{endpoint,type}, …_pending.
  void collect(std::string& out) const;

 private:
  struct Endpoint;
  void runSender(Endpoint& ep);
  // Posts `event` to the endpoint, retrying with its backoff until it is taken or the
  // sender stops.
  static void deliver(Endpoint& ep, const std::string& event);
  NotificationSource source_;
  size_t queueSize_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

}  // namespace regfs::api
