#include "api/net/connection_handler.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <optional>
#include <utility>

#include "api/net/body_sender.h"
#include "api/net/transport.h"
#include "api/registry/auth.h"
#include "api/registry/dispatch.h"
#include "api/registry/errors.h"
#include "common/error.h"

namespace regfs::api {
namespace {

constexpr const char* kConnKey = "regfs.conn";

std::string httpDate() {
  thread_local time_t cachedAt = 0;
  thread_local std::string cached;
  time_t now = ::time(nullptr);
  if (now != cachedAt) {
    struct tm tm;
    ::gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = buf;
    cachedAt = now;
  }
  return cached;
}

Response internalError(const std::exception& e) {
  spdlog::error("internal error: {}", e.what());
  return errorResponse(ErrorKind::kInternal, e.what());
}

// The answer to what handling a request threw: its error, or a 500 that is logged.
Response answerFor(const std::exception& e) {
  if (const auto* error = dynamic_cast<const Error*>(&e)) return errorResponse(*error);
  return internalError(e);
}

// What the observer (the access log, the metrics, events) learns of a request once its
// response is complete: for a file body that is when its last byte is out, not when its
// head is.
void reportExchange(ServerState& state, const Request& request, const Response& r,
                    std::string_view client, uint64_t bytesIn, uint64_t bytesOut,
                    Clock::time_point started) {
  auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started);
  state.observer->completed(Exchange{request, r, client, bytesIn, bytesOut, elapsed});
}

}  // namespace

void ConnectionHandler::onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  auto conn = connOf(peer);
  if (!conn) return;
  conn->closed = true;
  if (conn->remote) conn->remote->cancel();
  if (conn->request) finishRequestCount(*conn);
  conn->sink.reset();
  conn->pending.clear();
  conn->tls.reset();
}

void ConnectionHandler::onConnection(const PeerPtr& peer) {
  auto conn = std::make_shared<Conn>();
  conn->client = peer->address().host();
  conn->clock = std::make_shared<Pistache::Http::RequestParser>(4096);
  conn->lastTouch = Clock::now();
  peer->setIdle(true);
  if (state_->tls) {
    conn->tls = std::make_unique<TlsSession>(*state_->tls, peer->fd());
    // Busy until the handshake is done, so the header timeout bounds it.
    peer->setIdle(false);
  }
  peer->putData(Pistache::Http::Handler::ParserData, conn->clock);
  peer->putData(kConnKey, conn);
}

void ConnectionHandler::onInput(const char* buffer, size_t len, const PeerPtr& peer) {
  auto conn = connOf(peer);
  if (!conn || conn->closed) return;
  if (!reader_.receive(conn, peer, std::string_view(buffer, len))) return;
  reader_.drainBody(conn, peer);
  touch(*conn, *peer,
        !conn->request && !conn->waiting && conn->pending.empty() &&
            (!conn->tls || conn->tls->handshakeDone()));
}

std::shared_ptr<Conn> ConnectionHandler::connOf(const PeerPtr& peer) {
  return std::static_pointer_cast<Conn>(peer->tryGetData(kConnKey));
}

void ConnectionHandler::headRead(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
  conn->started = Clock::now();
  conn->bytesIn = 0;
  state_->inFlight++;
  Request& request = *conn->request;  // route() records who authenticated
  Dispatch d = route(request, conn->client);
  if (d.response) {
    respond(conn, peer, std::move(*d.response), request.hasBody());
    return;
  }
  conn->sink = std::move(d.sink);
  if (!request.hasBody()) {
    bodyRead(conn, peer);
    return;
  }
  reader_.expectBody(conn, peer);
}

void ConnectionHandler::headInvalid(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                    const std::string& why, int status) {
  conn->request = Request();
  conn->request->method = "-";
  conn->request->target = "-";
  conn->started = Clock::now();
  state_->inFlight++;
  respond(conn, peer, errorResponse(ErrorKind::kInvalidArgument, why, status),
          /*bodyUnread=*/true);
}

void ConnectionHandler::bodyRead(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
  std::unique_ptr<BodySink> sink = std::move(conn->sink);
  Response r;
  try {
    r = sink->finish();
  } catch (const std::exception& e) {
    r = answerFor(e);
    sink.reset();  // what a failed upload leaves is gone before the client hears of it
  }
  // The sink goes once the answer is on the socket: an upload of a blob the store already
  // held closes the last descriptor of its (already unlinked) file then, and freeing a
  // large file takes a while that the client need not wait for.
  respond(conn, peer, std::move(r), false, std::shared_ptr<BodySink>(std::move(sink)));
}

void ConnectionHandler::bodyFailed(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                   const std::exception& error) {
  respond(conn, peer, answerFor(error), /*bodyUnread=*/true);
}

Dispatch ConnectionHandler::route(Request& request, const std::string& client) {
  if (const auto& pages = state_->options.pages) {
    try {
      if (auto page = pages(request)) return Dispatch::respond(std::move(*page));
    } catch (const std::exception& e) {
      return Dispatch::respond(answerFor(e));
    }
  }
  if (const auto& authenticator = state_->options.authenticator) {
    std::optional<Response> refused;
    try {
      refused = checkAccess(*authenticator, request, client);
    } catch (const std::exception& e) {
      refused = internalError(e);
    }
    if (refused) return Dispatch::respond(std::move(*refused));
  }
  try {
    if (auto gate = state_->observer->admit(request)) return Dispatch::respond(std::move(*gate));
    return dispatch(*state_->registry, request);
  } catch (const std::exception& e) {
    return Dispatch::respond(answerFor(e));
  }
}

void ConnectionHandler::respond(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Response r,
                                bool bodyUnread, std::shared_ptr<void> keep) {
  const Request& request = *conn->request;
  bool head = request.method == "HEAD";
  bool keepAlive = request.keepAlive && !bodyUnread && !state_->draining.load();
  std::shared_ptr<FileSend> file = openFileBody(r, head);
  completeHead(r, request, keepAlive);
  std::string out = serializeHead(r.status, r.headers);
  if (file) {
    respondWithFile(conn, peer, std::move(r), std::move(out), file, keepAlive, std::move(keep));
    return;
  }
  uint64_t bodyBytes = 0;
  if (!head && !r.file) {
    out += r.body;
    bodyBytes = r.body.size();
  }
  finishRequest(*conn, r, bodyBytes);
  if (keepAlive) {
    sendOut(conn, peer, std::move(out), keep ? std::function<void()>([keep] {}) : nullptr);
    return;
  }
  conn->closing = true;
  std::weak_ptr<Pistache::Tcp::Peer> weak = peer;
  sendOut(conn, peer, std::move(out), [conn, weak, keep] { closeWrite(conn, weak); });
}

void ConnectionHandler::respondWithFile(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                        Response r, std::string head,
                                        const std::shared_ptr<FileSend>& file, bool keepAlive,
                                        std::shared_ptr<void> keep) {
  file->length = file->left;
  file->finished = finishRequestWhenSent(*conn, r);
  conn->waiting = true;
  if (!keepAlive) conn->closing = true;
  std::weak_ptr<Pistache::Tcp::Peer> weak = peer;
  auto sender = std::make_shared<BodySender>(
      conn, peer, file,
      [this, conn, weak, keepAlive](const PeerPtr& p) { bodySent(conn, weak, p, keepAlive); });
  if (file->remote) {
    conn->remote = file->remote;
    sender->startRemoteRead(std::move(r.file->stream), state_->remoteReaders);
  }
  sendOut(conn, peer, std::move(head), [sender, keep] { sender->send(); });
}

void ConnectionHandler::completeHead(Response& r, const Request& request, bool keepAlive) const {
  if (!r.header("Docker-Distribution-API-Version")) {
    r.set("Docker-Distribution-API-Version", "registry/2.0");
  }
  if (!r.header("Content-Length") && r.status != 204 && r.status != 304) {
    r.set("Content-Length", std::to_string(r.contentLength()));
  }
  for (const auto& [name, value] : state_->options.extraHeaders) {
    if (!r.header(name)) r.headers.emplace_back(name, value);
  }
  r.set("Date", httpDate());
  if (!keepAlive) {
    r.set("Connection", "close");
  } else if (request.versionMinor == 0) {
    r.set("Connection", "keep-alive");
  }
}

void ConnectionHandler::bodySent(const std::shared_ptr<Conn>& conn,
                                 const std::weak_ptr<Pistache::Tcp::Peer>& weak,
                                 const PeerPtr& peer, bool keepAlive) {
  conn->waiting = false;
  if (!keepAlive) {
    closeWrite(conn, weak);
    return;
  }
  reader_.readPending(conn, peer);
  touch(*conn, *peer, !conn->request && !conn->waiting);
}

void ConnectionHandler::finishRequest(Conn& conn, const Response& r, uint64_t bytesOut) {
  reportExchange(*state_, *conn.request, r, conn.client, conn.bytesIn, bytesOut, conn.started);
  finishRequestCount(conn);
}

std::function<void(uint64_t)> ConnectionHandler::finishRequestWhenSent(Conn& conn,
                                                                       const Response& r) {
  Response logged(r.status);
  logged.headers = r.headers;
  logged.event = r.event;
  auto finished = [state = state_, request = std::move(*conn.request), logged = std::move(logged),
                   client = conn.client, bytesIn = conn.bytesIn,
                   started = conn.started](uint64_t sent) {
    try {  // may run in FileSend's destructor: nothing may escape
      reportExchange(*state, request, logged, client, bytesIn, sent, started);
    } catch (const std::exception& e) {
      spdlog::warn("cannot report a finished download: {}", e.what());
    }
    state->inFlight--;
  };
  conn.request.reset();  // the connection reads on; this request ends with its body
  return finished;
}

void ConnectionHandler::finishRequestCount(Conn& conn) {
  conn.request.reset();
  state_->inFlight--;
}

}  // namespace regfs::api
