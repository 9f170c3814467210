#include "api/net/request_reader.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <span>
#include <utility>

#include "api/net/transport.h"

namespace regfs::api {
namespace {

// Input that arrives while a response is still being sent waits here, up to this much.
constexpr size_t kMaxPendingInput = 4 << 20;
// Read size while a request body streams in.
constexpr size_t kDrainSize = 256 << 10;

}  // namespace

bool RequestReader::receive(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
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

void RequestReader::drainBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
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

void RequestReader::expectBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
  const Request& request = *conn->request;
  if (request.expectContinue) sendOut(conn, peer, "HTTP/1.1 100 Continue\r\n\r\n", nullptr);
  if (request.chunked) {
    conn->chunked.emplace();
  } else {
    conn->bodyLeft = *request.contentLength;
  }
}

void RequestReader::readPending(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
  if (conn->pending.empty()) return;
  std::string pending = std::move(conn->pending);
  conn->pending.clear();
  process(conn, peer, pending);
}

void RequestReader::process(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                            std::string_view data) {
  while (!data.empty() && !conn->waiting && !conn->closing && !conn->closed) {
    if (!conn->request) {
      if (!readHead(conn, peer, data)) return;
    } else {
      readBody(conn, peer, data);
    }
  }
  if (!data.empty() && conn->waiting && !conn->closing && !conn->closed) hold(*conn, *peer, data);
}

bool RequestReader::readHead(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                             std::string_view& data) {
  size_t used = conn->head.feed(data);
  data.remove_prefix(used);
  if (conn->head.state() == RequestHeadParser::State::kError) {
    events_.headInvalid(conn, peer, conn->head.error(), conn->head.errorStatus());
    return false;
  }
  if (conn->head.state() == RequestHeadParser::State::kDone) {
    conn->request = conn->head.take();
    conn->head.reset();
    events_.headRead(conn, peer);
  }
  return true;
}

void RequestReader::readBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                             std::string_view& data) {
  takeBody(conn, peer, [&] {
    if (conn->chunked) {
      std::string decoded;
      size_t used = conn->chunked->feed(data, decoded);
      data.remove_prefix(used);
      conn->bytesIn += used;
      if (!decoded.empty()) conn->sink->write(decoded);
      if (conn->chunked->done()) bodyDone(conn, peer);
    } else {
      size_t n = static_cast<size_t>(std::min<uint64_t>(conn->bodyLeft, data.size()));
      conn->sink->write(data.substr(0, n));
      data.remove_prefix(n);
      bodyTaken(conn, peer, n);
    }
  });
}

void RequestReader::hold(Conn& conn, Pistache::Tcp::Peer& peer, std::string_view data) {
  if (conn.pending.size() + data.size() > kMaxPendingInput) {
    conn.closing = true;
    ::shutdown(peer.fd(), SHUT_RDWR);
    return;
  }
  conn.pending.append(data);
}

template <typename Take>
void RequestReader::takeBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Take&& take) {
  try {
    take();
  } catch (const std::exception& e) {
    conn->sink.reset();
    events_.bodyFailed(conn, peer, e);
  }
}

void RequestReader::bodyTaken(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, size_t n) {
  conn->bodyLeft -= n;
  conn->bytesIn += n;
  if (conn->bodyLeft == 0) bodyDone(conn, peer);
}

void RequestReader::bodyDone(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
  conn->chunked.reset();
  conn->bodyLeft = 0;
  events_.bodyRead(conn, peer);
}

}  // namespace regfs::api
