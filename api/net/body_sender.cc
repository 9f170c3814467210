#include "api/net/body_sender.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "api/http/send_now.h"
#include "api/net/transport.h"
#include "api/registry/errors.h"
#include "common/error.h"

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

// The remote reader thread: hands `length` bytes from `offset` to `remote` in pieces of
// kRemotePiece, then says it is done, or why it failed.
void readRemote(const FileBody::Stream& stream, RemoteBody& remote, const RemoteBody::Wake& wake,
                uint64_t offset, uint64_t length) {
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
            !remote.push(std::exchange(piece, std::string()), wake)) {
          return false;
        }
      }
      return true;
    });
    if (!piece.empty()) remote.push(std::move(piece), wake);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  remote.finish(std::move(failure), wake);
}

}  // namespace

std::shared_ptr<FileSend> openFileBody(Response& r, bool head) {
  if (!r.file || head || r.file->length == 0) return nullptr;
  auto file = std::make_shared<FileSend>();
  file->offset = static_cast<off_t>(r.file->offset);
  file->left = r.file->length;
  if (r.file->stream) {
    file->remote = std::make_shared<RemoteBody>();
    return file;
  }
  if (r.file->growing) {
    // Still being written: neither its size nor its first byte can be checked yet.
    try {
      file->fd = r.file->open();
    } catch (const std::exception& e) {
      r = errorResponse(Error(ErrorKind::kIo, e.what()));
      return nullptr;
    }
    file->growing = std::move(r.file->growing);
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
    // further in can only cut the connection (BodySender::pumpFile).
    r = errorResponse(Error(ErrorKind::kIo, "reading " + r.file->path.string() + ": " +
                                                (errno ? std::strerror(errno) : "file shrank")));
    return nullptr;
  }
  return file;
}

BodySender::BodySender(std::shared_ptr<Conn> conn, const PeerPtr& peer,
                       std::shared_ptr<FileSend> file, Sent sent)
    : conn_(std::move(conn)), peer_(peer), file_(std::move(file)), sent_(std::move(sent)) {}

void BodySender::startRemoteRead(FileBody::Stream stream, RemoteReaders& readers) {
  // A parked reactor is woken by an empty write: Pistache resolves it on the peer's
  // reactor thread once what was queued before it is out, and the pump goes on there.
  RemoteBody::Wake wake = [self = shared_from_this()] {
    auto peer = self->peer_.lock();
    if (!peer) {
      self->file_->remote->cancel();
      return;
    }
    queueBytes(peer, std::string())
        .then([self](ssize_t) { self->pumpRemote(); }, Pistache::Async::IgnoreException);
  };
  readers.start(file_->remote,
                [stream = std::move(stream), remote = file_->remote, wake = std::move(wake),
                 offset = static_cast<uint64_t>(file_->offset),
                 length = file_->left] { readRemote(stream, *remote, wake, offset, length); });
}

void BodySender::send() {
  if (file_->remote) {
    pumpRemote();
  } else {
    pumpFile();
  }
}

void BodySender::pumpFile() {
  auto peer = peer_.lock();
  if (!peer || conn_->closed) return;
  touch(*conn_, *peer, false);
  std::string why;
  Pump pump;
  try {
    pump = conn_->tls ? pumpFileTls(peer, why) : pumpFilePlain(peer, why);
  } catch (const std::exception& e) {  // a growing file whose writing failed
    pump = Pump::kFailed;
    why = e.what();
  }
  switch (pump) {
    case Pump::kWaiting:
      return;  // resumes once the queue has drained
    case Pump::kFailed:
      abort(*peer, why);
      return;
    case Pump::kDone:
      break;
  }
  file_->fd.reset();
  done(peer);
}

BodySender::Pump BodySender::pumpFilePlain(const PeerPtr& peer, std::string& why) {
  // pread into a buffer of the reactor thread and send() it, which moves a blob faster than
  // sendfile() (docs/benchmarks.md, "Blob GET, plain HTTP"). What the socket does not take
  // now is read again on the next round.
  thread_local std::string buf(kFilePiece, '\0');
  while (file_->left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(file_->left, kFilePiece));
    if (!canRead(want)) return Pump::kWaiting;
    file_->readAhead();
    ssize_t got = ::pread(file_->fd.get(), buf.data(), want, file_->offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {  // an error, or the file shrank: the response cannot be completed
      why = errno ? std::strerror(errno) : "file shrank";
      return Pump::kFailed;
    }
    auto out = sendNow(peer->fd(), std::string_view(buf.data(), static_cast<size_t>(got)));
    if (!out) {
      why = errno ? std::strerror(errno) : "connection closed";
      return Pump::kFailed;
    }
    file_->offset += static_cast<off_t>(*out);
    file_->left -= *out;
    if (*out == static_cast<size_t>(got)) continue;
    // The socket is full. Send a small next piece through Pistache's queue, which waits
    // for the socket to drain, and go on once it is written.
    size_t piece = std::min(kWakePiece, static_cast<size_t>(got) - *out);
    std::string next(buf.data() + *out, piece);
    file_->offset += static_cast<off_t>(piece);
    file_->left -= piece;
    queuePlain(conn_, peer, std::move(next))
        .then([self = shared_from_this()](ssize_t) { self->pumpFile(); },
              Pistache::Async::IgnoreException);
    return Pump::kWaiting;
  }
  return Pump::kDone;
}

BodySender::Pump BodySender::pumpFileTls(const PeerPtr& peer, std::string& why) {
  thread_local std::string buf(kTlsPiece, '\0');
  for (int n = 1; file_->left > 0; ++n) {
    size_t piece = static_cast<size_t>(std::min<uint64_t>(file_->left, kTlsPiece));
    if (!canRead(piece)) {
      // Nothing is held back: the last write said no more was coming at once.
      return Pump::kWaiting;
    }
    file_->readAhead();
    if (::pread(file_->fd.get(), buf.data(), piece, file_->offset) != static_cast<ssize_t>(piece)) {
      why = "read or TLS error";
      return Pump::kFailed;
    }
    file_->offset += static_cast<off_t>(piece);
    file_->left -= piece;
    // Records are held for one send of several pieces only while more can be read at once.
    bool more = n % kTlsPiecesPerSend != 0 && file_->left > 0 &&
                (!file_->growing || static_cast<uint64_t>(file_->offset) < file_->grownTo);
    if (!conn_->tls->write(std::string_view(buf.data(), piece), more)) {
      why = "read or TLS error";
      return Pump::kFailed;
    }
    if (conn_->tls->hasBacklog()) {
      flushTls(conn_, peer, [self = shared_from_this()] { self->pumpFile(); });
      return Pump::kWaiting;
    }
  }
  return Pump::kDone;
}

bool BodySender::canRead(size_t& want) {
  if (!file_->growing) return true;
  auto offset = static_cast<uint64_t>(file_->offset);
  uint64_t readable = file_->growing->readable(offset, [self = shared_from_this()] {
    // On the fill's thread: back to the reactor, as a remote body's reader does.
    auto peer = self->peer_.lock();
    if (!peer) return;
    queueBytes(peer, std::string())
        .then([self](ssize_t) { self->pumpFile(); }, Pistache::Async::IgnoreException);
  });
  file_->grownTo = readable;
  if (readable <= offset) return false;
  want = static_cast<size_t>(std::min<uint64_t>(want, readable - offset));
  return true;
}

void BodySender::pumpRemote() {
  auto peer = peer_.lock();
  if (!peer || conn_->closed) {
    file_->remote->cancel();
    return;
  }
  touch(*conn_, *peer, false);
  while (true) {
    std::string piece, failure;
    switch (file_->remote->take(piece, failure)) {
      case RemoteBody::Next::kParked:
        return;
      case RemoteBody::Next::kPiece:
        if (!sendRemotePiece(peer, std::move(piece))) return;
        continue;
      case RemoteBody::Next::kEnd:
        if (!failure.empty() || file_->left > 0) {
          abort(*peer, failure.empty() ? "file shrank" : failure);
          return;
        }
        conn_->remote.reset();
        done(peer);
        return;
    }
  }
}

bool BodySender::sendRemotePiece(const PeerPtr& peer, std::string piece) {
  if (piece.size() > file_->left) {
    abort(*peer, "the storage sent more than the file holds");
    return false;
  }
  file_->left -= piece.size();
  auto resume = [self = shared_from_this()] { self->pumpRemote(); };
  if (conn_->tls) {
    sendOut(conn_, peer, std::move(piece), resume);
    return false;
  }
  // Straight into the socket while it takes it (nothing else is queued: this runs once the
  // previous write is out); the rest through Pistache's queue.
  auto out = sendNow(peer->fd(), piece);
  if (!out) {
    abort(*peer, errno ? std::strerror(errno) : "connection closed");
    return false;
  }
  if (size_t sent = *out; sent < piece.size()) {
    sendOut(conn_, peer, sent == 0 ? std::move(piece) : piece.substr(sent), resume);
    return false;
  }
  return true;
}

void BodySender::abort(Pistache::Tcp::Peer& peer, const std::string& why) {
  spdlog::warn("aborting a blob download: {}", why);
  if (conn_->remote) conn_->remote->cancel();
  conn_->closing = true;
  ::shutdown(peer.fd(), SHUT_RDWR);
}

void BodySender::done(const PeerPtr& peer) {
  file_->finish();
  sent_(peer);
}

}  // namespace regfs::api
