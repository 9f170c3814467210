#pragma once
// regfs's own HTTP/1.1 on each of Pistache's connections (Pistache's request parser buffers
// whole bodies and mishandles keep-alive, so it is bypassed). The handler wires each request
// of a connection through:
//   reading      api/net/request_reader.h: the head, then the body into the request's sink;
//   dispatching  authorisation (auth.*), the observer's gate, then the registry's dispatch;
//   answering    the head with the headers every answer carries, then the body: in memory,
//                or from a file (api/net/body_sender.h), all through api/net/transport.h;
//   accounting   requests in flight, and each finished exchange reported to the observer
//                once its last byte is out (for a file body, when it ends or is cut short).
// Keep-alive and pipelining follow the client; "Connection: close" once the server drains.
// Pistache clones the handler for each reactor thread; what they share is ServerState.

#include <pistache/http.h>
#include <pistache/peer.h>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/http/response.h"
#include "api/net/connection.h"
#include "api/net/file_send.h"
#include "api/net/request_reader.h"
#include "api/net/server.h"

namespace regfs::api {

class ConnectionHandler : public Pistache::Http::Handler, private RequestReader::Events {
 public:
  HTTP_PROTOTYPE(ConnectionHandler)

  explicit ConnectionHandler(std::shared_ptr<ServerState> state)
      : state_(std::move(state)), reader_(*this) {}
  // A clone's reader reports to the clone.
  ConnectionHandler(const ConnectionHandler& other)
      : Pistache::Http::Handler(other), state_(other.state_), reader_(*this) {}
  ConnectionHandler& operator=(const ConnectionHandler&) = delete;

  void onRequest(const Pistache::Http::Request&, Pistache::Http::ResponseWriter) override {}
  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;

 private:
  void onConnection(const PeerPtr& peer) override;
  void onInput(const char* buffer, size_t len, const PeerPtr& peer) override;
  static std::shared_ptr<Conn> connOf(const PeerPtr& peer);

  // RequestReader::Events
  void headRead(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) override;
  void headInvalid(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, const std::string& why,
                   int status) override;
  void bodyRead(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) override;
  void bodyFailed(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                  const std::exception& error) override;

  // Authorises the request, asks the observer's gate, then dispatches it: the answer, or
  // the sink its body goes to.
  Dispatch route(Request& request, const std::string& client);

  // Sends the response. `bodyUnread`: the request body was not consumed, so the
  // connection cannot carry another request and is closed after the answer. `keep` is
  // released once the response head is written.
  void respond(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Response r, bool bodyUnread,
               std::shared_ptr<void> keep = nullptr);
  // The head `head`, then `file`'s body: the request stays in flight until the body is out.
  void respondWithFile(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Response r,
                       std::string head, const std::shared_ptr<FileSend>& file, bool keepAlive,
                       std::shared_ptr<void> keep);
  // The headers every answer carries (API version, length, http.headers, date, connection).
  void completeHead(Response& r, const Request& request, bool keepAlive) const;
  // The body is out: the connection goes on with the next request, or closes.
  void bodySent(const std::shared_ptr<Conn>& conn, const std::weak_ptr<Pistache::Tcp::Peer>& weak,
                const PeerPtr& peer, bool keepAlive);

  // Reports the exchange of conn.request, answered by `r` with `bytesOut` body bytes, and
  // ends the request.
  void finishRequest(Conn& conn, const Response& r, uint64_t bytesOut);
  // The same, for a file body: what runs once it is out or cut short (FileSend::finished).
  // Takes conn.request.
  std::function<void(uint64_t sent)> finishRequestWhenSent(Conn& conn, const Response& r);
  void finishRequestCount(Conn& conn);

  std::shared_ptr<ServerState> state_;
  RequestReader reader_;
};

}  // namespace regfs::api
