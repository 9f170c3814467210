#include "api/net/connection_handler.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <utility>

#include "api/http/send_now.h"
#include "api/net/transport.h"
#include "api/registry/auth.h"
#include "api/registry/dispatch.h"
#include "api/registry/errors.h"
#include "common/error.h"

namespace regfs::api {
namespace {

constexpr const char* kConnKey = "regfs.conn";
// Input that arrives while a response is still being sent waits here, up to this much.
constexpr size_t kMaxPendingInput = 4 << 20;
// Read size while a request body streams in.
constexpr size_t kDrainSize = 256 << 10;

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

// What the access log, the metrics and the drain learn of a request once its response is
// complete: for a file body that is when its last byte is out, not when its head is.
void reportExchange(ServerState& state, const Request& request, const Response& r,
                    std::string_view client, uint64_t bytesIn, uint64_t bytesOut,
                    Clock::time_point started) {
  auto elapsed = Clock::now() - started;
  if (state.observer) {
    state.observer->completed(
        Exchange{request, r, client, bytesIn, bytesOut,
                 std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed)});
    return;
  }
  if (!state.options.accessLog) return;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  spdlog::info("{} \"{} {}\" {} {} {:.3f}ms", client, request.method,
               loggableTarget(request.target), r.status, bytesOut,
               static_cast<double>(us) / 1000.0);
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
  if (!receive(conn, peer, std::string_view(buffer, len))) return;
  drainBody(conn, peer);
  touch(*conn, *peer,
        !conn->request && !conn->waiting && conn->pending.empty() &&
            (!conn->tls || conn->tls->handshakeDone()));
}

bool ConnectionHandler::receive(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                std::string_view data) {
  if (!conn->tls) {
    process(conn, peer, data);
    return true;
  }
  if (conn->closing) return true;
  std::string plain;
  TlsSession::Result result = conn->tls->receive(data, plain);
  if (result == TlsSession::Result::kFailed) {
    tlsFailed(conn, peer);
    return false;
  }
  flushTls(conn, peer, nullptr);
  if (!plain.empty()) process(conn, peer, plain);
  return true;
}

void ConnectionHandler::drainBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
  thread_local std::string buf(kDrainSize, '\0');
  while (conn->request && conn->sink && !conn->waiting && !conn->closing && !conn->closed &&
         peer->ssl() == nullptr) {
    // A plain body of known length goes straight into the sink's memory when it has some.
    std::span<char> room =
        !conn->tls && !conn->chunked && conn->bodyLeft > 0 ? conn->sink->room() : std::span<char>();
    if (!room.empty()) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(conn->bodyLeft, room.size()));
      ssize_t n = ::recv(peer->fd(), room.data(), want, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      takeBody(conn, peer, [&] {
        conn->sink->received(static_cast<size_t>(n));
        bodyTaken(conn, peer, static_cast<size_t>(n));
      });
      continue;
    }
    ssize_t n = ::recv(peer->fd(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (!receive(conn, peer, std::string_view(buf.data(), static_cast<size_t>(n)))) return;
  }
}

std::shared_ptr<Conn> ConnectionHandler::connOf(const PeerPtr& peer) {
  return std::static_pointer_cast<Conn>(peer->tryGetData(kConnKey));
}

void ConnectionHandler::process(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                std::string_view data) {
  while (!data.empty() && !conn->waiting && !conn->closing && !conn->closed) {
    if (!conn->request) {
      size_t used = conn->head.feed(data);
      data.remove_prefix(used);
      if (conn->head.state() == RequestHeadParser::State::kError) {
        badRequest(conn, peer, conn->head.error(), conn->head.errorStatus());
        return;
      }
      if (conn->head.state() == RequestHeadParser::State::kDone) {
        conn->request = conn->head.take();
        conn->head.reset();
        begin(conn, peer);
      }
      continue;
    }
    takeBody(conn, peer, [&] {
      if (conn->chunked) {
        std::string decoded;
        size_t used = conn->chunked->feed(data, decoded);
        data.remove_prefix(used);
        conn->bytesIn += used;
        if (!decoded.empty()) conn->sink->write(decoded);
        if (conn->chunked->done()) end(conn, peer);
      } else {
        size_t n = static_cast<size_t>(std::min<uint64_t>(conn->bodyLeft, data.size()));
        conn->sink->write(data.substr(0, n));
        data.remove_prefix(n);
        bodyTaken(conn, peer, n);
      }
    });
  }
  if (!data.empty() && conn->waiting && !conn->closing && !conn->closed) {
    if (conn->pending.size() + data.size() > kMaxPendingInput) {
      conn->closing = true;
      ::shutdown(peer->fd(), SHUT_RDWR);
      return;
    }
    conn->pending.append(data);
  }
}

template <typename Take>
void ConnectionHandler::takeBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                 Take&& take) {
  try {
    take();
  } catch (const Error& e) {
    conn->sink.reset();
    respond(conn, peer, errorResponse(e), /*bodyUnread=*/true);
  } catch (const std::exception& e) {
    conn->sink.reset();
    respond(conn, peer, internalError(e), /*bodyUnread=*/true);
  }
}

void ConnectionHandler::bodyTaken(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                  size_t n) {
  conn->bodyLeft -= n;
  conn->bytesIn += n;
  if (conn->bodyLeft == 0) end(conn, peer);
}

Response ConnectionHandler::internalError(const std::exception& e) {
  spdlog::error("internal error: {}", e.what());
  return errorResponse(ErrorKind::kInternal, e.what());
}

void ConnectionHandler::badRequest(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                   const std::string& why, int status) {
  conn->request = Request();
  conn->request->method = "-";
  conn->request->target = "-";
  conn->started = Clock::now();
  state_->inFlight++;
  respond(conn, peer, errorResponse(ErrorKind::kInvalidArgument, why, status),
          /*bodyUnread=*/true);
}

void ConnectionHandler::begin(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
  conn->started = Clock::now();
  conn->bytesIn = 0;
  state_->inFlight++;
  const Request& request = *conn->request;
  if (const auto& authenticator = state_->options.authenticator) {
    std::optional<Response> refused;
    try {
      refused = checkAccess(*authenticator, request, conn->client);
    } catch (const std::exception& e) {
      refused = internalError(e);
    }
    if (refused) {
      respond(conn, peer, std::move(*refused), request.hasBody());
      return;
    }
  }
  Dispatch d;
  try {
    std::optional<Response> gate;
    if (state_->observer) gate = state_->observer->admit(request);
    d = gate ? Dispatch::respond(std::move(*gate)) : dispatch(*state_->registry, request);
  } catch (const Error& e) {
    d = Dispatch::respond(errorResponse(e));
  } catch (const std::exception& e) {
    d = Dispatch::respond(internalError(e));
  }
  if (d.response) {
    respond(conn, peer, std::move(*d.response), request.hasBody());
    return;
  }
  conn->sink = std::move(d.sink);
  if (!request.hasBody()) {
    end(conn, peer);
    return;
  }
  if (request.expectContinue) sendOut(conn, peer, "HTTP/1.1 100 Continue\r\n\r\n", nullptr);
  if (request.chunked) {
    conn->chunked.emplace();
  } else {
    conn->bodyLeft = *request.contentLength;
  }
}

void ConnectionHandler::end(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
  std::unique_ptr<BodySink> sink = std::move(conn->sink);
  Response r;
  try {
    r = sink->finish();
  } catch (const Error& e) {
    r = errorResponse(e);
    sink.reset();  // what a failed upload leaves is gone before the client hears of it
  } catch (const std::exception& e) {
    r = internalError(e);
    sink.reset();
  }
  conn->chunked.reset();
  conn->bodyLeft = 0;
  // The sink goes once the answer is on the socket: an upload of a blob the store already
  // held closes the last descriptor of its (already unlinked) file then, and freeing a
  // large file takes a while that the client need not wait for.
  respond(conn, peer, std::move(r), false, std::shared_ptr<BodySink>(std::move(sink)));
}

void ConnectionHandler::finishRequestCount(Conn& conn) {
  conn.request.reset();
  state_->inFlight--;
}

void ConnectionHandler::respond(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Response r,
                                bool bodyUnread, std::shared_ptr<void> keep) {
  const Request& request = *conn->request;
  bool head = request.method == "HEAD";
  bool keepAlive = request.keepAlive && !bodyUnread && !state_->draining.load();
  std::shared_ptr<FileSend> file = openBody(r, head);
  completeHead(r, request, keepAlive);
  std::string out = serializeHead(r.status, r.headers);
  uint64_t bodyBytes = 0;
  if (!head && !r.file) {
    out += r.body;
    bodyBytes = r.body.size();
  }
  if (file) {
    file->length = file->left;
    Response logged(r.status);
    logged.headers = r.headers;
    logged.event = r.event;
    file->finished = [state = state_, request = std::move(*conn->request),
                      logged = std::move(logged), client = conn->client, bytesIn = conn->bytesIn,
                      started = conn->started](uint64_t sent) {
      try {  // may run in FileSend's destructor: nothing may escape
        reportExchange(*state, request, logged, client, bytesIn, sent, started);
      } catch (const std::exception& e) {
        spdlog::warn("cannot report a finished download: {}", e.what());
      }
      state->inFlight--;
    };
    conn->request.reset();  // the connection reads on; this request ends with its body
  } else {
    reportExchange(*state_, request, r, conn->client, conn->bytesIn, bodyBytes, conn->started);
    finishRequestCount(*conn);
  }

  std::weak_ptr<Pistache::Tcp::Peer> weak = peer;
  if (file) {
    conn->waiting = true;
    if (!keepAlive) conn->closing = true;
    if (file->remote) {
      conn->remote = file->remote;
      startRemoteRead(std::move(r.file->stream), conn, weak, file, keepAlive);
    }
    sendOut(conn, peer, std::move(out), [this, conn, weak, file, keepAlive, keep] {
      if (file->remote) {
        pumpRemote(conn, weak, file, keepAlive);
      } else {
        pumpFile(conn, weak, file, keepAlive);
      }
    });
    return;
  }
  if (keepAlive) {
    sendOut(conn, peer, std::move(out), keep ? std::function<void()>([keep] {}) : nullptr);
    return;
  }
  conn->closing = true;
  sendOut(conn, peer, std::move(out), [conn, weak, keep] { closeWrite(conn, weak); });
}

std::shared_ptr<FileSend> ConnectionHandler::openBody(Response& r, bool head) {
  if (!r.file || head || r.file->length == 0) return nullptr;
  auto file = std::make_shared<FileSend>();
  file->offset = static_cast<off_t>(r.file->offset);
  file->left = r.file->length;
  if (r.file->stream) {
    file->remote = std::make_shared<RemoteBody>();
    return file;
  }
  try {
    file->fd = r.file->open();
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kBlobUnknown) {
      r = errorResponse(e);
      return nullptr;
    }
  }
  struct stat st;
  if (!file->fd || ::fstat(file->fd.get(), &st) != 0 ||
      static_cast<uint64_t>(st.st_size) < r.file->offset + r.file->length) {
    // Deleted or replaced since it was looked at.
    r = errorResponse(ErrorKind::kBlobUnknown, "blob vanished while being served");
    return nullptr;
  }
  if (char probe; (errno = 0, ::pread(file->fd.get(), &probe, 1, file->offset)) != 1) {
    // A file the storage cannot read answers 500 before any header is out; an error
    // further in can only cut the connection (pumpFile).
    r = errorResponse(Error(ErrorKind::kIo, "reading " + r.file->path.string() + ": " +
                                                (errno ? std::strerror(errno) : "file shrank")));
    return nullptr;
  }
  return file;
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
  if (!conn->pending.empty()) {
    std::string pending = std::move(conn->pending);
    conn->pending.clear();
    process(conn, peer, pending);
  }
  touch(*conn, *peer, !conn->request && !conn->waiting);
}

}  // namespace regfs::api
