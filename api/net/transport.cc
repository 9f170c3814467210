#include "api/net/transport.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <utility>

#include "api/http/send_now.h"

namespace regfs::api {

Pistache::Async::Promise<ssize_t> queueBytes(const PeerPtr& peer, std::string bytes) {
  size_t n = bytes.size();
  return peer->send(Pistache::RawBuffer(std::move(bytes), n));
}

Pistache::Async::Promise<ssize_t> queuePlain(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                             std::string bytes) {
  conn->plainQueued++;
  return queueBytes(peer, std::move(bytes))
      .then(
          [conn](ssize_t n) {
            conn->plainQueued--;
            return n;
          },
          [conn](std::exception_ptr) { conn->plainQueued--; });
}

void flushTls(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
              std::function<void()> written) {
  if (!conn->tls->hasBacklog()) {
    if (written) written();
    return;
  }
  conn->tlsQueued++;
  conn->tls->setQueued(true);
  queueBytes(peer, conn->tls->takeBacklog())
      .then(
          [conn, written](ssize_t) {
            if (conn->closed || !conn->tls) return;
            if (--conn->tlsQueued == 0) conn->tls->setQueued(false);
            if (written) written();
          },
          Pistache::Async::IgnoreException);
}

void tlsFailed(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
  conn->closing = true;
  if (conn->tls->plainHttp() && !conn->tls->handshakeDone()) {
    // What Go's servers answer to the same mistake; the client gets a reason, not a hang.
    static constexpr std::string_view kAnswer =
        "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    ::send(peer->fd(), kAnswer.data(), kAnswer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    spdlog::info("{}: plain HTTP on the https port, refused", conn->client);
  } else {
    flushTls(conn, peer, nullptr);  // the alert that says why
    spdlog::info("TLS {} error from {}: {}",
                 conn->tls->handshakeDone() ? "connection" : "handshake", conn->client,
                 conn->tls->error());
  }
  ::shutdown(peer->fd(), SHUT_RDWR);
}

void sendOut(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string bytes,
             std::function<void()> written) {
  if (!conn->tls) {
    // Completions run at once only a few levels deep: a chain of them goes through the
    // queue instead of growing the stack.
    if (conn->plainQueued == 0 && conn->sendDepth < 4 && !conn->closed) {
      auto out = sendNow(peer->fd(), bytes);
      if (!out) return;  // the peer is gone; Pistache reports the disconnection
      if (*out == bytes.size()) {
        if (written) {
          ++conn->sendDepth;
          written();
          --conn->sendDepth;
        }
        return;
      }
      bytes.erase(0, *out);
    }
    auto sent = queuePlain(conn, peer, std::move(bytes));
    if (written) sent.then([written](ssize_t) { written(); }, Pistache::Async::IgnoreException);
    return;
  }
  if (conn->closed) return;
  if (!conn->tls->write(bytes)) {
    tlsFailed(conn, peer);
    return;
  }
  flushTls(conn, peer, std::move(written));
}

void closeWrite(const std::shared_ptr<Conn>& conn, const std::weak_ptr<Pistache::Tcp::Peer>& weak) {
  auto p = weak.lock();
  if (!p || conn->closed) return;
  if (conn->tls) {
    conn->tls->close();
    if (conn->tls->hasBacklog()) {
      flushTls(conn, p, [weak] {
        if (auto q = weak.lock()) ::shutdown(q->fd(), SHUT_WR);
      });
      return;
    }
  }
  // The peer's reads then see the client's close and Pistache removes the connection.
  ::shutdown(p->fd(), SHUT_WR);
}

}  // namespace regfs::api
