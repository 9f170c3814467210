#include "api/net/server.h"

#include <fcntl.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/net.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "api/http/send_now.h"
#include "api/net/listening.h"
#include "api/net/tls.h"
#include "api/registry/auth.h"
#include "api/registry/dispatch.h"
#include "api/registry/errors.h"
#include "common/error.h"
#include "common/unique_fd.h"

namespace regfs::api {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kConnKey = "regfs.conn";
// Input that arrives while a response is still being sent waits here, up to this much.
constexpr size_t kMaxPendingInput = 4 << 20;
// How far ahead of what is sent a local file is read into the page cache.
constexpr off_t kReadAheadWindow = 16 << 20;
// A local file is sent in pieces of this size read into a buffer of the reactor thread; when
// the socket is full, the next kWakePiece bytes go through Pistache's write queue, which waits
// for writability.
constexpr size_t kFilePiece = 1 << 20;
constexpr size_t kWakePiece = 64 << 10;
// A file on remote storage arrives from one streamed read in pieces of this size, at most
// kRemoteQueued of them waiting to be sent.
constexpr size_t kRemotePiece = 1 << 20;
constexpr size_t kRemoteQueued = 4;
// Read size while a request body streams in.
constexpr size_t kDrainSize = 256 << 10;
// A file body over TLS is read and encrypted in pieces small enough to stay in the CPU's
// cache between the two, and sent to the socket in batches of several pieces.
constexpr size_t kTlsPiece = 64 << 10;
constexpr int kTlsPiecesPerSend = 4;

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

class RemoteBody;

// One client connection. Touched only on the reactor thread that owns the peer.
struct Conn {
  RequestHeadParser head;
  std::optional<Request> request;
  std::unique_ptr<BodySink> sink;
  std::optional<ChunkedDecoder> chunked;
  uint64_t bodyLeft = 0;
  bool waiting = false;  // a file body is being sent; input waits in `pending`
  bool closing = false;  // answered with "Connection: close"; input is dropped
  bool closed = false;   // the peer is gone
  std::string pending;
  Clock::time_point started;
  uint64_t bytesIn = 0;  // body bytes of the current request
  std::string client;
  // Pistache's idle-peer check reads the time of this (otherwise unused) parser: a peer
  // idle past the keep-alive timeout, or busy with no progress past the header timeout,
  // is dropped. Progress in either direction refreshes it.
  std::shared_ptr<Pistache::Http::RequestParser> clock;
  Clock::time_point lastTouch;
  std::unique_ptr<TlsSession> tls;     // https only
  int tlsQueued = 0;                   // ciphertext pieces waiting in Pistache's write queue
  int plainQueued = 0;                 // plain-HTTP writes waiting in Pistache's write queue
  int sendDepth = 0;                   // nested completions of writes that went out at once
  std::shared_ptr<RemoteBody> remote;  // the remote file being sent, if any
};

void touch(Conn& conn, Pistache::Tcp::Peer& peer, bool idle) {
  auto now = Clock::now();
  peer.setIdle(idle);
  if (now - conn.lastTouch < std::chrono::seconds(1)) return;
  conn.lastTouch = now;
  conn.clock->reset();
}

// A file on remote storage, read by a thread of its own into a small queue that the
// reactor sends from. Neither side waits for the other's thread: the reader blocks only
// when the queue is full, and a reactor that finds it empty parks; the reader's next piece
// wakes it.
class RemoteBody {
 public:
  // Called on the reader thread to get the reactor going again after it parked.
  using Wake = std::function<void()>;

  // Queues a piece, waiting for room; false once cancelled.
  bool push(std::string piece, const Wake& wake) {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return pieces_.size() < kRemoteQueued || cancelled_; });
    if (cancelled_) return false;
    pieces_.push_back(std::move(piece));
    wakeIfParked(lock, wake);
    return true;
  }

  // The reader is done: all queued, or `failure` says why not.
  void finish(std::string failure, const Wake& wake) {
    std::unique_lock lock(mutex_);
    done_ = true;
    failure_ = std::move(failure);
    wakeIfParked(lock, wake);
  }

  // The download is over on the reactor's side: the reader stops at its next piece.
  void cancel() {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    pieces_.clear();
    room_.notify_all();
  }

  enum class Next { kPiece, kParked, kEnd };
  // On the reactor: the next piece, or kParked (the reader wakes it), or kEnd (then
  // `failure` says whether the reader failed).
  Next take(std::string& piece, std::string& failure) {
    std::lock_guard lock(mutex_);
    if (!pieces_.empty()) {
      piece = std::move(pieces_.front());
      pieces_.pop_front();
      room_.notify_one();
      return Next::kPiece;
    }
    if (done_) {
      failure = failure_;
      return Next::kEnd;
    }
    parked_ = true;
    return Next::kParked;
  }

 private:
  void wakeIfParked(std::unique_lock<std::mutex>& lock, const Wake& wake) {
    bool parked = std::exchange(parked_, false);
    lock.unlock();
    if (parked) wake();
  }

  std::mutex mutex_;
  std::condition_variable room_;
  std::deque<std::string> pieces_;
  bool done_ = false;
  bool cancelled_ = false;
  bool parked_ = false;
  std::string failure_;
};

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

struct FileSend {
  UniqueFd fd;
  off_t offset = 0;
  uint64_t left = 0;
  uint64_t length = 0;                 // the body's size
  std::shared_ptr<RemoteBody> remote;  // a file on remote storage instead of fd
  off_t readAheadTo = 0;               // where the read-ahead asked of the kernel ends
  // The request stays in flight until the body is out or cut short (or the connection is
  // gone and nothing holds this any more): then this runs, once, with the bytes sent.
  std::function<void(uint64_t sent)> finished;

  FileSend() = default;
  FileSend(const FileSend&) = delete;
  FileSend& operator=(const FileSend&) = delete;
  ~FileSend() { finish(); }

  void finish() {
    if (auto f = std::exchange(finished, nullptr)) f(length - left);
  }

  // Asks the kernel to read the file ahead of what is sent, in the background: without it
  // a file that is not in the page cache (a blob written by direct I/O, or long unread)
  // is read in the default read-ahead's small steps, each one blocking the reactor thread
  // inside pread. For a cached file this only checks the cache.
  void readAhead() {
    if (readAheadTo - offset >= kReadAheadWindow / 2) return;
    off_t end = offset + static_cast<off_t>(std::min<uint64_t>(left, kReadAheadWindow));
    if (end <= readAheadTo) return;
    off_t from = std::max(readAheadTo, offset);
    (void)::posix_fadvise(fd.get(), from, end - from, POSIX_FADV_WILLNEED);
    readAheadTo = end;
  }
};

class ConnectionHandler : public Pistache::Http::Handler {
 public:
  HTTP_PROTOTYPE(ConnectionHandler)

  explicit ConnectionHandler(std::shared_ptr<ServerState> state) : state_(std::move(state)) {}

  void onRequest(const Pistache::Http::Request&, Pistache::Http::ResponseWriter) override {}

  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    auto conn = connOf(peer);
    if (!conn) return;
    conn->closed = true;
    if (conn->remote) conn->remote->cancel();
    if (conn->request) finishRequestCount(*conn);
    conn->sink.reset();
    conn->pending.clear();
    conn->tls.reset();
  }

 private:
  using PeerPtr = std::shared_ptr<Pistache::Tcp::Peer>;

  void onConnection(const PeerPtr& peer) override {
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

  void onInput(const char* buffer, size_t len, const PeerPtr& peer) override {
    auto conn = connOf(peer);
    if (!conn || conn->closed) return;
    if (!receive(conn, peer, std::string_view(buffer, len))) return;
    drainBody(conn, peer);
    touch(*conn, *peer,
          !conn->request && !conn->waiting && conn->pending.empty() &&
              (!conn->tls || conn->tls->handshakeDone()));
  }

  // Bytes from the socket: decrypted first on https. False once the connection is dropped.
  bool receive(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string_view data) {
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

  // Sends `bytes` (encrypted on https); `written` runs once they are all on the socket.
  // Plain HTTP goes straight into the socket when nothing waits in Pistache's write queue
  // (Pistache would first wake its own reactor through an eventfd and wait for writability:
  // six more system calls per answer); only what the socket does not take is queued.
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

  // Plain bytes through Pistache's write queue, counted so that later writes wait their turn.
  static Pistache::Async::Promise<ssize_t> queuePlain(const std::shared_ptr<Conn>& conn,
                                                      const PeerPtr& peer, std::string bytes) {
    conn->plainQueued++;
    return send(peer, std::move(bytes))
        .then(
            [conn](ssize_t n) {
              conn->plainQueued--;
              return n;
            },
            [conn](std::exception_ptr) { conn->plainQueued--; });
  }

  // Queues the ciphertext the socket did not take behind what is already queued.
  void flushTls(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                std::function<void()> written) {
    if (!conn->tls->hasBacklog()) {
      if (written) written();
      return;
    }
    conn->tlsQueued++;
    conn->tls->setQueued(true);
    send(peer, conn->tls->takeBacklog())
        .then(
            [conn, written](ssize_t) {
              if (conn->closed || !conn->tls) return;
              if (--conn->tlsQueued == 0) conn->tls->setQueued(false);
              if (written) written();
            },
            Pistache::Async::IgnoreException);
  }

  // Pistache reads 4 KiB per call; while a request body streams in, read the socket
  // directly in large pieces until it would block. The peer's events are edge-triggered
  // and Pistache reads until EAGAIN itself, so nothing is missed: its next read finds the
  // socket drained (or the end of the stream, which it then handles as usual).
  void drainBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
    thread_local std::string buf(kDrainSize, '\0');
    while (conn->request && conn->sink && !conn->waiting && !conn->closing && !conn->closed &&
           peer->ssl() == nullptr) {
      // A plain body of known length goes straight into the sink's memory when it has some.
      std::span<char> room = !conn->tls && !conn->chunked && conn->bodyLeft > 0 ? conn->sink->room()
                                                                                : std::span<char>();
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

  static std::shared_ptr<Conn> connOf(const PeerPtr& peer) {
    return std::static_pointer_cast<Conn>(peer->tryGetData(kConnKey));
  }

  void process(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string_view data) {
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

  // Runs `take`, which hands body bytes to the request's sink; a failure is answered at once
  // and the rest of the body is not read.
  template <typename Take>
  void takeBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Take&& take) {
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

  // `n` bytes of a body with a Content-Length went to the sink; the last one ends the request.
  void bodyTaken(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, size_t n) {
    conn->bodyLeft -= n;
    conn->bytesIn += n;
    if (conn->bodyLeft == 0) end(conn, peer);
  }

  Response internalError(const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return errorResponse(ErrorKind::kInternal, e.what());
  }

  void badRequest(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, const std::string& why,
                  int status) {
    conn->request = Request();
    conn->request->method = "-";
    conn->request->target = "-";
    conn->started = Clock::now();
    state_->inFlight++;
    respond(conn, peer, errorResponse(ErrorKind::kInvalidArgument, why, status),
            /*bodyUnread=*/true);
  }

  void begin(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
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

  void end(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) {
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

  void finishRequestCount(Conn& conn) {
    conn.request.reset();
    state_->inFlight--;
  }

  static Pistache::Async::Promise<ssize_t> send(const PeerPtr& peer, std::string bytes) {
    size_t n = bytes.size();
    return peer->send(Pistache::RawBuffer(std::move(bytes), n));
  }

  // Sends the response. `bodyUnread`: the request body was not consumed, so the
  // connection cannot carry another request and is closed after the answer. `keep` is
  // released once the response head is written.
  void respond(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Response r, bool bodyUnread,
               std::shared_ptr<void> keep = nullptr) {
    const Request& request = *conn->request;
    bool head = request.method == "HEAD";
    bool keepAlive = request.keepAlive && !bodyUnread && !state_->draining.load();

    auto file = std::make_shared<FileSend>();
    if (r.file && !head && r.file->length > 0 && r.file->stream) {
      file->remote = std::make_shared<RemoteBody>();
      file->offset = static_cast<off_t>(r.file->offset);
      file->left = r.file->length;
    } else if (r.file && !head && r.file->length > 0) {
      std::optional<Error> openError;
      try {
        file->fd = r.file->open();
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kBlobUnknown) openError = e;  // gone: answered below
      }
      struct stat st;
      if (openError) {
        r = errorResponse(*openError);
        file.reset();
      } else if (!file->fd || ::fstat(file->fd.get(), &st) != 0 ||
                 static_cast<uint64_t>(st.st_size) < r.file->offset + r.file->length) {
        // Deleted or replaced since it was looked at.
        r = errorResponse(ErrorKind::kBlobUnknown, "blob vanished while being served");
        file.reset();
      } else if (char probe; (errno = 0, ::pread(file->fd.get(), &probe, 1,
                                                 static_cast<off_t>(r.file->offset))) != 1) {
        // A file the storage cannot read answers 500 before any header is out; an error
        // further in can only cut the connection (pumpFile).
        r = errorResponse(
            Error(ErrorKind::kIo, "reading " + r.file->path.string() + ": " +
                                      (errno ? std::strerror(errno) : "file shrank")));
        file.reset();
      } else {
        file->offset = static_cast<off_t>(r.file->offset);
        file->left = r.file->length;
      }
    } else {
      file.reset();
    }

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
    sendOut(conn, peer, std::move(out), [this, conn, weak, keep] { closeWrite(conn, weak); });
  }

  void closeWrite(const std::shared_ptr<Conn>& conn,
                  const std::weak_ptr<Pistache::Tcp::Peer>& weak) {
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

  // A file body over TLS: read and encrypt in large pieces while the socket takes them,
  // then wait for Pistache's queue to drain the rest before going on.
  enum class Pump { kDone, kWaiting, kFailed };
  Pump pumpFileTls(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                   const std::shared_ptr<FileSend>& file, std::function<void()> resume) {
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

  void pumpFile(const std::shared_ptr<Conn>& conn, const std::weak_ptr<Pistache::Tcp::Peer>& weak,
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
          .then([this, conn, weak, file,
                 keepAlive](ssize_t) { pumpFile(conn, weak, file, keepAlive); },
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

  void abortBody(const std::shared_ptr<Conn>& conn, Pistache::Tcp::Peer& peer,
                 const std::string& why) {
    spdlog::warn("aborting a blob download: {}", why);
    if (conn->remote) conn->remote->cancel();
    conn->closing = true;
    ::shutdown(peer.fd(), SHUT_RDWR);
  }

  // Reads a remote file on a thread of its own into the file's queue, in pieces of
  // kRemotePiece, from the moment the response head is queued.
  void startRemoteRead(FileBody::Stream stream, const std::shared_ptr<Conn>& conn,
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
      send(peer, std::string())
          .then([this, conn, weak, file,
                 keepAlive](ssize_t) { pumpRemote(conn, weak, file, keepAlive); },
                Pistache::Async::IgnoreException);
    };
    std::thread([stream = std::move(stream), remote = file->remote, wake = std::move(wake),
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
    }).detach();
  }

  // Sends a remote file's pieces as its reader queues them (through TLS when on): the
  // download holds at most kRemoteQueued pieces, the one being filled and the one out.
  // Without TLS a piece goes straight into the socket while it has room, sparing Pistache's
  // copy of it.
  void pumpRemote(const std::shared_ptr<Conn>& conn, const std::weak_ptr<Pistache::Tcp::Peer>& weak,
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

  // The body is out: the connection goes on with the next request, or closes.
  void bodySent(const std::shared_ptr<Conn>& conn, const std::weak_ptr<Pistache::Tcp::Peer>& weak,
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

  std::shared_ptr<ServerState> state_;
};

}  // namespace

int defaultThreads(unsigned cores) {
  if (cores == 0) cores = 1;
  return static_cast<int>(std::max(4u, cores * 2));
}

Server::Server(std::shared_ptr<Registry> registry, ServerOptions options)
    : options_(std::move(options)),
      state_(std::make_shared<ServerState>(std::move(registry), options_)) {}

Server::~Server() {
  if (endpoint_) endpoint_->shutdown();
}

void Server::start() {
  if (!options_.tls.certificate.empty()) {
    state_->tls = std::make_shared<TlsContext>(options_.tls);
    spdlog::debug("TLS records are encrypted {}",
                  TlsContext::kernelTlsAvailable()
                      ? "in user space (kernel TLS is available but unused)"
                      : "in user space (this kernel offers no kernel TLS)");
  }
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
    endpoint_->shutdown();
    endpoint_.reset();
  }
  return drained;
}

int Server::port() const { return endpoint_ ? static_cast<uint16_t>(endpoint_->getPort()) : 0; }

}  // namespace regfs::api
