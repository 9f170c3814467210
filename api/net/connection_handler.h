#pragma once
// regfs's own HTTP/1.1 on each of Pistache's connections (Pistache's request parser buffers
// whole bodies and mishandles keep-alive, so it is bypassed). Split by job:
//   connection_handler.cc  reading requests, streaming bodies into sinks, dispatching,
//                          and answering (the head, then the body or not);
//   body_send.cc           sending file bodies: local files in pieces, remote ones from
//                          their reader threads (api/net/remote_body.h);
//   transport.h            bytes to the socket, through TLS when it is on.
// Pistache clones the handler for each reactor thread; what they share is ServerState.

#include <pistache/http.h>
#include <pistache/peer.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/http/response.h"
#include "api/net/connection.h"
#include "api/net/file_send.h"
#include "api/net/server.h"

namespace regfs::api {

class ConnectionHandler : public Pistache::Http::Handler {
 public:
  HTTP_PROTOTYPE(ConnectionHandler)

  explicit ConnectionHandler(std::shared_ptr<ServerState> state) : state_(std::move(state)) {}

  void onRequest(const Pistache::Http::Request&, Pistache::Http::ResponseWriter) override {}
  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;

 private:
  enum class Pump { kDone, kWaiting, kFailed };

  void onConnection(const PeerPtr& peer) override;

  void onInput(const char* buffer, size_t len, const PeerPtr& peer) override;

  // Bytes from the socket: decrypted first on https. False once the connection is dropped.
  bool receive(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string_view data);

  // Pistache reads 4 KiB per call; while a request body streams in, read the socket
  // directly in large pieces until it would block. The peer's events are edge-triggered
  // and Pistache reads until EAGAIN itself, so nothing is missed: its next read finds the
  // socket drained (or the end of the stream, which it then handles as usual).
  void drainBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer);

  static std::shared_ptr<Conn> connOf(const PeerPtr& peer);

  void process(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string_view data);

  // Runs `take`, which hands body bytes to the request's sink; a failure is answered at once
  // and the rest of the body is not read.
  template <typename Take>
  void takeBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Take&& take);

  // `n` bytes of a body with a Content-Length went to the sink; the last one ends the request.
  void bodyTaken(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, size_t n);

  Response internalError(const std::exception& e);

  void badRequest(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, const std::string& why,
                  int status);

  void begin(const std::shared_ptr<Conn>& conn, const PeerPtr& peer);

  void end(const std::shared_ptr<Conn>& conn, const PeerPtr& peer);

  void finishRequestCount(Conn& conn);

  // Sends the response. `bodyUnread`: the request body was not consumed, so the
  // connection cannot carry another request and is closed after the answer. `keep` is
  // released once the response head is written.
  void respond(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Response r, bool bodyUnread,
               std::shared_ptr<void> keep = nullptr);

  Pump pumpFileTls(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                   const std::shared_ptr<FileSend>& file, std::function<void()> resume);

  void pumpFile(const std::shared_ptr<Conn>& conn, const std::weak_ptr<Pistache::Tcp::Peer>& weak,
                const std::shared_ptr<FileSend>& file, bool keepAlive);

  void abortBody(const std::shared_ptr<Conn>& conn, Pistache::Tcp::Peer& peer,
                 const std::string& why);

  // Reads a remote file on a thread of its own into the file's queue, in pieces of
  // kRemotePiece, from the moment the response head is queued.
  void startRemoteRead(FileBody::Stream stream, const std::shared_ptr<Conn>& conn,
                       const std::weak_ptr<Pistache::Tcp::Peer>& weak,
                       const std::shared_ptr<FileSend>& file, bool keepAlive);

  // Sends a remote file's pieces as its reader queues them (through TLS when on): the
  // download holds at most kRemoteQueued pieces, the one being filled and the one out.
  // Without TLS a piece goes straight into the socket while it has room, sparing Pistache's
  // copy of it.
  void pumpRemote(const std::shared_ptr<Conn>& conn, const std::weak_ptr<Pistache::Tcp::Peer>& weak,
                  const std::shared_ptr<FileSend>& file, bool keepAlive);

  // The body is out: the connection goes on with the next request, or closes.
  void bodySent(const std::shared_ptr<Conn>& conn, const std::weak_ptr<Pistache::Tcp::Peer>& weak,
                const PeerPtr& peer, bool keepAlive);

  // Opens what `r` sends from a file, checked before any header is out: nullptr for a body
  // in memory, or when `r` became the error to answer instead (the file vanished, or
  // cannot be read).
  std::shared_ptr<FileSend> openBody(Response& r, bool head);
  // The headers every answer carries (API version, length, http.headers, date, connection).
  void completeHead(Response& r, const Request& request, bool keepAlive) const;

  std::shared_ptr<ServerState> state_;
};

}  // namespace regfs::api
