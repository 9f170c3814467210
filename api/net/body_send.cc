#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "api/http/send_now.h"
#include "api/net/connection_handler.h"
#include "api/net/transport.h"

// Sending file bodies, for ConnectionHandler (api/net/connection_handler.h).
namespace regfs::api {
namespace {

// A local file is sent in pieces of this size read into a buffer of the reactor thread; when
// the socket is full, the next kWakePiece bytes go through Pistache's write queue, which waits
// for writability.
constexpr size_t kFilePiece = 1 << 20;
constexpr size_t kWakePiece = 64 << 10;
// A file body over TLS is read and encrypted in pieces small enough to stay in the CPU's
// cache between the two, and sent to the socket in batches of several pieces.
constexpr size_t kTlsPiece = 64 << 10;
constexpr int kTlsPiecesPerSend = 4;

}  // namespace

ConnectionHandler::Pump ConnectionHandler::pumpFileTls(const std::shared_ptr<Conn>& conn,
                                                       const PeerPtr& peer,
                                                       const std::shared_ptr<FileSend>& file,
                                                       std::function<void()> resume) {
  thread_local std::string buf(kTlsPiece, '\0');
  for (int n = 1; file->left > 0; ++n) {
    size_t piece = static_cast<size_t>(std::min<uint64_t>(file->left, kTlsPiece));
    file->readAhead();
    ssize_t got = ::pread(file->fd.get(), buf.data(), piece, file->offset);
    if (got != static_cast<ssize_t>(piece)) return Pump::kFailed;
    file->offset += static_cast<off_t>(piece);
    file->left -= piece;
    bool more = n % kTlsPiecesPerSend != 0 && file->left > 0;
    if (!conn->tls->write(std::string_view(buf.data(), piece), more)) return Pump::kFailed;
    if (conn->tls->hasBacklog()) {
      flushTls(conn, peer, std::move(resume));
      return Pump::kWaiting;
    }
  }
  return Pump::kDone;
}

void ConnectionHandler::pumpFile(const std::shared_ptr<Conn>& conn,
                                 const std::weak_ptr<Pistache::Tcp::Peer>& weak,
                                 const std::shared_ptr<FileSend>& file, bool keepAlive) {
  auto peer = weak.lock();
  if (!peer || conn->closed) return;
  touch(*conn, *peer, false);
  const char* failure = nullptr;
  if (conn->tls) {
    switch (pumpFileTls(conn, peer, file, [this, conn, weak, file, keepAlive] {
      pumpFile(conn, weak, file, keepAlive);
    })) {
      case Pump::kWaiting:
        return;  // resumes once the queue has drained
      case Pump::kFailed:
        failure = "read or TLS error";
        break;
      case Pump::kDone:
        break;
    }
  }
  // Plain HTTP: pread into a buffer of the reactor thread and send() it, which moves a blob
  // faster than sendfile() (docs/benchmarks.md, "Blob GET, plain HTTP"). What the socket
  // does not take now is read again on the next round.
  thread_local std::string buf(kFilePiece, '\0');
  while (!failure && file->left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(file->left, kFilePiece));
    file->readAhead();
    ssize_t got = ::pread(file->fd.get(), buf.data(), want, file->offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // an error, or the file shrank: the response cannot be completed
    auto out = sendNow(peer->fd(), std::string_view(buf.data(), static_cast<size_t>(got)));
    if (!out) {
      failure = errno ? std::strerror(errno) : "connection closed";
      break;
    }
    file->offset += static_cast<off_t>(*out);
    file->left -= *out;
    if (*out == static_cast<size_t>(got)) continue;
    // The socket is full. Send a small next piece through Pistache's queue, which waits
    // for the socket to drain, and go on once it is written.
    size_t piece = std::min(kWakePiece, static_cast<size_t>(got) - *out);
    std::string next(buf.data() + *out, piece);
    file->offset += static_cast<off_t>(piece);
    file->left -= piece;
    queuePlain(conn, peer, std::move(next))
        .then(
            [this, conn, weak, file, keepAlive](ssize_t) { pumpFile(conn, weak, file, keepAlive); },
            Pistache::Async::IgnoreException);
    return;
  }
  if (failure || file->left > 0) {
    abortBody(conn, *peer, failure ? failure : errno ? std::strerror(errno) : "file shrank");
    return;
  }
  file->fd.reset();
  file->finish();
  bodySent(conn, weak, peer, keepAlive);
}

void ConnectionHandler::abortBody(const std::shared_ptr<Conn>& conn, Pistache::Tcp::Peer& peer,
                                  const std::string& why) {
  spdlog::warn("aborting a blob download: {}", why);
  if (conn->remote) conn->remote->cancel();
  conn->closing = true;
  ::shutdown(peer.fd(), SHUT_RDWR);
}

void ConnectionHandler::startRemoteRead(FileBody::Stream stream, const std::shared_ptr<Conn>& conn,
                                        const std::weak_ptr<Pistache::Tcp::Peer>& weak,
                                        const std::shared_ptr<FileSend>& file, bool keepAlive) {
  // A parked reactor is woken by an empty write: Pistache resolves it on the peer's
  // reactor thread once what was queued before it is out, and the pump goes on there.
  RemoteBody::Wake wake = [this, conn, weak, file, keepAlive] {
    auto peer = weak.lock();
    if (!peer) {
      file->remote->cancel();
      return;
    }
    queueBytes(peer, std::string())
        .then([this, conn, weak, file,
               keepAlive](ssize_t) { pumpRemote(conn, weak, file, keepAlive); },
              Pistache::Async::IgnoreException);
  };
  // The thread belongs to the server (ServerState::remoteReaders), which joins it before
  // the handlers go: `wake` calls into this handler.
  state_->remoteReaders.start(
      file->remote, [stream = std::move(stream), remote = file->remote, wake = std::move(wake),
                     offset = static_cast<uint64_t>(file->offset), length = file->left] {
        std::string piece;
        std::string failure;
        try {
          stream(offset, length, [&](std::string_view data) {
            while (!data.empty()) {
              if (piece.empty()) piece.reserve(kRemotePiece);
              size_t take = std::min(data.size(), kRemotePiece - piece.size());
              piece.append(data.data(), take);
              data.remove_prefix(take);
              if (piece.size() == kRemotePiece &&
                  !remote->push(std::exchange(piece, std::string()), wake)) {
                return false;
              }
            }
            return true;
          });
          if (!piece.empty()) remote->push(std::move(piece), wake);
        } catch (const std::exception& e) {
          failure = e.what();
        }
        remote->finish(std::move(failure), wake);
      });
}

void ConnectionHandler::pumpRemote(const std::shared_ptr<Conn>& conn,
                                   const std::weak_ptr<Pistache::Tcp::Peer>& weak,
                                   const std::shared_ptr<FileSend>& file, bool keepAlive) {
  auto peer = weak.lock();
  if (!peer || conn->closed) {
    file->remote->cancel();
    return;
  }
  touch(*conn, *peer, false);
  auto resume = [this, conn, weak, file, keepAlive] { pumpRemote(conn, weak, file, keepAlive); };
  while (true) {
    std::string piece, failure;
    switch (file->remote->take(piece, failure)) {
      case RemoteBody::Next::kParked:
        return;
      case RemoteBody::Next::kPiece: {
        if (piece.size() > file->left) {
          abortBody(conn, *peer, "the storage sent more than the file holds");
          return;
        }
        file->left -= piece.size();
        if (conn->tls) {
          sendOut(conn, peer, std::move(piece), resume);
          return;
        }
        // Straight into the socket while it takes it (nothing else is queued: this runs
        // once the previous write is out); the rest through Pistache's queue.
        auto out = sendNow(peer->fd(), piece);
        if (!out) {
          abortBody(conn, *peer, errno ? std::strerror(errno) : "connection closed");
          return;
        }
        if (size_t sent = *out; sent < piece.size()) {
          sendOut(conn, peer, sent == 0 ? std::move(piece) : piece.substr(sent), resume);
          return;
        }
        continue;
      }
      case RemoteBody::Next::kEnd:
        if (!failure.empty() || file->left > 0) {
          abortBody(conn, *peer, failure.empty() ? "file shrank" : failure);
          return;
        }
        conn->remote.reset();
        file->finish();
        bodySent(conn, weak, peer, keepAlive);
        return;
    }
  }
}

}  // namespace regfs::api
