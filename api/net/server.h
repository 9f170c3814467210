#pragma once
// The network side of regfs-server: Pistache's listener and reactor threads with regfs's
// own HTTP/1.1 connection handling on top (Pistache's request parser buffers whole bodies
// and mishandles keep-alive, so it is bypassed): request bodies stream into BodySinks,
// blob bodies go out from their files in pieces, keep-alive and pipelining follow the client,
// "Expect: 100-continue" is answered, and every finished request is reported to the
// server's RequestObserver (api/http/observer.h), which keeps the access log and the metrics.
// With http.tls, each connection runs TLS beneath all of that (api/net/tls.h); with auth.*,
// each request is authorised before it is dispatched (api/registry/auth.h).

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/http/observer.h"
#include "api/net/remote_body.h"
#include "api/registry/options.h"
#include "api/registry/registry.h"

namespace Pistache::Http {
class Endpoint;
}

namespace regfs::api {

class TlsContext;

// State shared by every connection handler (Pistache clones the handler per thread).
struct ServerState {
  ServerState(std::shared_ptr<Registry> r, ServerOptions o)
      : registry(std::move(r)), options(std::move(o)) {}
  std::shared_ptr<Registry> registry;
  ServerOptions options;
  std::atomic<int> inFlight{0};               // requests whose response is not yet on the wire
  std::atomic<bool> draining{false};          // answer "Connection: close" from now on
  std::shared_ptr<TlsContext> tls;            // set when serving https
  std::shared_ptr<RequestObserver> observer;  // never null: metrics, access log, events, gate
  RemoteReaders remoteReaders;                // threads reading remote blob bodies
};

class Server {
 public:
  Server(std::shared_ptr<Registry> registry, ServerOptions options);
  ~Server();
  // Set before start(). Without one, every request is admitted and none is reported: no
  // access log, no metrics, no events.
  void setObserver(std::shared_ptr<RequestObserver> observer);
  // Binds and serves on background threads. Throws std::runtime_error when it cannot bind.
  void start();
  // Requests whose response is not yet on the wire.
  int inFlight() const { return state_->inFlight.load(); }
  // Stops accepting connections, answers "Connection: close" from then on, waits up to
  // `timeout` for requests in flight, then stops. True if none was left in flight.
  bool drainAndStop(std::chrono::milliseconds timeout);
  int port() const;
  int threads() const { return threads_; }

 private:
  ServerOptions options_;
  int threads_ = 0;
  std::shared_ptr<ServerState> state_;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
};

// Reactor threads for `cores` CPUs: more threads than cores, so one connection busy
// hashing an upload does not stall the others on its thread.
int defaultThreads(unsigned cores);

}  // namespace regfs::api
