#include "api/ops/notifications.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <random>

#include "api/http/http_client.h"
#include "api/http/json.h"
#include "api/ops/metrics.h"
#include "common/worker.h"

namespace regfs::api {
namespace {

constexpr const char* kEventsMediaType = "application/vnd.docker.distribution.events.v1+json";

// Go's omitempty: the field is left out when empty.
void field(std::string& out, bool& first, std::string_view key, std::string_view value,
           bool always = false) {
  if (value.empty() && !always) return;
  if (!first) out += ',';
  first = false;
  out += jsonString(key);
  out += ':';
  out += jsonString(value);
}

std::string rfc3339Nano(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ns / 1000000000);
  struct tm tm;
  ::gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09lldZ", static_cast<long long>(ns % 1000000000));
  return buf;
}

// "" when the endpoint took the events: a 2xx or 3xx answer, as distribution counts it.
std::string deliveryError(const OutboundResult& r) {
  if (!r.error.empty()) return r.error;
  if (r.status >= 200 && r.status < 400) return "";
  return "response status " + std::to_string(r.status) + " unaccepted";
}

}  // namespace

std::string newUuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng();
  uint64_t b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(
      buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx",
      static_cast<unsigned long long>(a >> 32), static_cast<unsigned long long>((a >> 16) & 0xffff),
      static_cast<unsigned long long>(a & 0xffff), static_cast<unsigned long long>(b >> 48),
      static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string eventJson(const NotificationEvent& e, const NotificationSource& source,
                      std::chrono::system_clock::time_point when) {
  std::string out = "{";
  bool first = true;
  field(out, first, "id", newUuid());
  field(out, first, "timestamp", rfc3339Nano(when));
  field(out, first, "action", e.action);
  out += ",\"target\":{";
  bool t = true;
  field(out, t, "mediaType", e.mediaType);
  if (e.size > 0) {
    out += (t ? "" : ",");
    out += "\"size\":" + std::to_string(e.size);
    t = false;
  }
  field(out, t, "digest", e.digest);
  if (e.size > 0) out += ",\"length\":" + std::to_string(e.size);
  field(out, t, "repository", e.repository);
  field(out, t, "fromRepository", e.fromRepository);
  field(out, t, "url", e.url);
  field(out, t, "tag", e.tag);
  out += "},\"request\":{";
  bool r = true;
  field(out, r, "id", e.requestId, true);
  field(out, r, "addr", e.addr);
  field(out, r, "host", e.host);
  field(out, r, "method", e.method, true);
  field(out, r, "useragent", e.userAgent, true);
  out += "},\"actor\":{";
  bool a = true;
  field(out, a, "name", e.actor);
  out += "},\"source\":{";
  bool s = true;
  field(out, s, "addr", source.addr);
  field(out, s, "instanceID", source.instanceId);
  out += "}}";
  return out;
}

struct Notifier::Endpoint {
  Endpoint(NotificationEndpoint endpoint, const CaTrust& trust)
      : config(std::move(endpoint)), client(trust), sender("notify-" + config.name) {}
  NotificationEndpoint config;
  HttpClient client;  // used by the sender only
  std::mutex mu;
  std::condition_variable idle;                          // the queue emptied
  std::deque<std::shared_ptr<const std::string>> queue;  // under mu
  bool busy = false;  // under mu: the front event is being delivered
  std::atomic<uint64_t> events{0}, successes{0}, failures{0}, errors{0}, dropped{0};
  std::chrono::steady_clock::time_point lastDropWarning{};  // under mu
  Worker sender;  // last: stopped first; its stop flag abandons a delivery in progress

  bool ignores(const NotificationEvent& e) const {
    auto has = [](const std::vector<std::string>& list, const std::string& v) {
      return !v.empty() && std::find(list.begin(), list.end(), v) != list.end();
    };
    return has(config.ignoredMediaTypes, e.mediaType) ||
           has(config.ignoreMediaTypes, e.mediaType) || has(config.ignoreActions, e.action);
  }
};

Notifier::Notifier(const NotificationsConfig& config, NotificationSource source, size_t queueSize)
    : source_(std::move(source)), queueSize_(queueSize) {
  for (const auto& ep : config.endpoints) {
    if (ep.disabled) continue;
    if (!isHttpUrl(ep.url)) {
      spdlog::warn(
          "notifications: endpoint {}: {} is not an http:// or https:// URL; endpoint disabled",
          ep.name, ep.url);
      continue;
    }
    auto e = std::make_unique<Endpoint>(ep, config.trust);
    if (e->config.timeout <= std::chrono::nanoseconds(0))
      e->config.timeout = std::chrono::seconds(1);
    if (e->config.backoff <= std::chrono::nanoseconds(0))
      e->config.backoff = std::chrono::seconds(1);
    if (e->config.threshold <= 0) e->config.threshold = 10;
    endpoints_.push_back(std::move(e));
  }
  for (auto& e : endpoints_) {
    Endpoint* ep = e.get();
    ep->sender.start([this, ep] { runSender(*ep); });
    spdlog::info("notifications: sending events to {} ({})", ep->config.name, ep->config.url);
  }
}

Notifier::~Notifier() { stop(std::chrono::milliseconds(0)); }

void Notifier::publish(const NotificationEvent& event) {
  std::shared_ptr<const std::string> json;
  for (auto& ep : endpoints_) {
    if (ep->ignores(event)) continue;
    if (!json)
      json = std::make_shared<const std::string>(
          eventJson(event, source_, std::chrono::system_clock::now()));
    std::unique_lock lock(ep->mu);
    if (ep->sender.stopping()) continue;
    if (ep->queue.size() >= queueSize_) {
      ep->dropped++;
      auto now = std::chrono::steady_clock::now();
      if (now - ep->lastDropWarning > std::chrono::seconds(10)) {
        ep->lastDropWarning = now;
        lock.unlock();
        spdlog::warn("notifications: queue of endpoint {} is full ({} events); dropping events",
                     ep->config.name, queueSize_);
      }
      continue;
    }
    ep->queue.push_back(json);
    ep->events++;
    lock.unlock();
    ep->sender.wake();
  }
}

void Notifier::runSender(Endpoint& ep) {
  for (;;) {
    std::shared_ptr<const std::string> event;
    {
      std::lock_guard lock(ep.mu);
      if (!ep.queue.empty()) {
        event = ep.queue.front();
        ep.busy = true;
      }
    }
    if (!event) {
      if (!ep.sender.wait()) return;
      continue;
    }
    if (ep.sender.stopping()) return;
    deliver(ep, *event);
    {
      std::lock_guard lock(ep.mu);
      ep.queue.pop_front();
      ep.busy = false;
    }
    ep.idle.notify_all();
  }
}

void Notifier::deliver(Endpoint& ep, const std::string& event) {
  OutboundRequest post;
  post.url = ep.config.url;
  post.headers = ep.config.headers;
  post.contentType = kEventsMediaType;
  post.body = "{\"events\":[" + event + "]}";
  post.timeout = ep.config.timeout;
  int failuresInRow = 0;
  while (!ep.sender.stopping()) {
    std::string error = deliveryError(ep.client.send(post, &ep.sender.stopFlag()));
    if (error.empty()) {
      ep.successes++;
      return;
    }
    ep.failures++;
    failuresInRow++;
    if (failuresInRow == ep.config.threshold) {
      spdlog::warn(
          "notifications: endpoint {} failed {} times in a row ({}); retrying every {} ms",
          ep.config.name, failuresInRow, error,
          std::chrono::duration_cast<std::chrono::milliseconds>(ep.config.backoff).count());
    }
    auto wait = failuresInRow >= ep.config.threshold
                    ? ep.config.backoff
                    : std::chrono::nanoseconds(std::chrono::milliseconds(10 * failuresInRow));
    ep.sender.sleepFor(wait);
  }
}

void Notifier::stop(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& ep : endpoints_) {
    std::unique_lock lock(ep->mu);
    ep->idle.wait_until(lock, deadline, [&] { return ep->queue.empty() && !ep->busy; });
    if (!ep->queue.empty()) {
      spdlog::warn("notifications: {} events for endpoint {} not delivered at shutdown",
                   ep->queue.size(), ep->config.name);
    }
  }
  for (auto& ep : endpoints_) ep->sender.stop();
}

void Notifier::collect(std::string& out) const {
  appendMetricHeader(
      out, "registry_notifications_events_total", "counter",
      "Notification events by endpoint: queued (events), delivered (successes), failed "
      "attempts (failures), dropped because the queue was full (dropped).");
  for (const auto& ep : endpoints_) {
    const std::string& name = ep->config.name;
    appendSample(out, "registry_notifications_events_total",
                 {{"endpoint", name}, {"type", "events"}}, static_cast<double>(ep->events.load()));
    appendSample(out, "registry_notifications_events_total",
                 {{"endpoint", name}, {"type", "successes"}},
                 static_cast<double>(ep->successes.load()));
    appendSample(out, "registry_notifications_events_total",
                 {{"endpoint", name}, {"type", "failures"}},
                 static_cast<double>(ep->failures.load()));
    appendSample(out, "registry_notifications_events_total",
                 {{"endpoint", name}, {"type", "dropped"}},
                 static_cast<double>(ep->dropped.load()));
  }
  appendMetricHeader(out, "registry_notifications_pending", "gauge",
                     "Events waiting in an endpoint's queue.");
  for (const auto& ep : endpoints_) {
    size_t pending;
    {
      std::lock_guard lock(ep->mu);
      pending = ep->queue.size();
    }
    appendSample(out, "registry_notifications_pending", {{"endpoint", ep->config.name}},
                 static_cast<double>(pending));
  }
}

}  // namespace regfs::api
