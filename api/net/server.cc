#include "api/net/server.h"

#include <pistache/endpoint.h>

#include <thread>

#include "api/net/connection_handler.h"
#include "api/net/listening.h"
#include "api/net/tls.h"

namespace regfs::api {
namespace {

// The observer of a server that was given none.
class Unobserved : public RequestObserver {
 public:
  std::optional<Response> admit(const Request&) override { return std::nullopt; }
  void completed(const Exchange&) override {}
};

}  // namespace

int defaultThreads(unsigned cores) {
  if (cores == 0) cores = 1;
  return static_cast<int>(std::max(4u, cores * 2));
}

Server::Server(std::shared_ptr<Registry> registry, ServerOptions options)
    : options_(std::move(options)),
      state_(std::make_shared<ServerState>(std::move(registry), options_)) {
  state_->observer = std::make_shared<Unobserved>();
}

Server::~Server() {
  if (!endpoint_) return;
  // A mirror's fills wake the connections sending what they fetch: they stop first.
  if (auto* mirror = state_->registry ? state_->registry->mirror() : nullptr) mirror->stopFills();
  state_->remoteReaders.stopAll();
  endpoint_->shutdown();
}

void Server::setObserver(std::shared_ptr<RequestObserver> observer) {
  if (observer) state_->observer = std::move(observer);
}

void Server::start() {
  if (!options_.tls.certificate.empty()) state_->tls = std::make_shared<TlsContext>(options_.tls);
  threads_ =
      options_.threads > 0 ? options_.threads : defaultThreads(std::thread::hardware_concurrency());
  Pistache::Address addr(options_.host.empty() ? std::string("0.0.0.0") : options_.host,
                         Pistache::Port(static_cast<uint16_t>(options_.port)));
  endpoint_ = std::make_unique<Pistache::Http::Endpoint>(addr);
  auto opts = Pistache::Http::Endpoint::options()
                  .threads(threads_)
                  .flags(Pistache::Tcp::Options::ReuseAddr | Pistache::Tcp::Options::NoDelay)
                  .backlog(1024);
  endpoint_->init(opts);
  endpoint_->setHandler(std::make_shared<ConnectionHandler>(state_));
  endpoint_->serveThreaded();
}

bool Server::drainAndStop(std::chrono::milliseconds timeout) {
  state_->draining = true;
  if (endpoint_) stopListening(static_cast<uint16_t>(endpoint_->getPort()));
  auto deadline = Clock::now() + timeout;
  while (state_->inFlight.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  bool drained = state_->inFlight.load() == 0;
  if (endpoint_) {
    // A mirror's clients of a blob still being fetched wait on the fetch, which wakes their
    // connections: it stops first.
    if (auto* mirror = state_->registry ? state_->registry->mirror() : nullptr) {
      mirror->stopFills();
    }
    state_->remoteReaders.stopAll();  // before the handlers their wakes call into go
    endpoint_->shutdown();
    endpoint_.reset();
  }
  return drained;
}

int Server::port() const { return endpoint_ ? static_cast<uint16_t>(endpoint_->getPort()) : 0; }

}  // namespace regfs::api
