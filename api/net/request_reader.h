#pragma once
// Reading requests off a connection: the bytes that arrive (decrypted first on https)
// become a request head (RequestHeadParser), then its body streams into the request's sink,
// by Content-Length or chunked. What the reader finds it hands to its Events, which
// dispatch and answer. While a response is being sent, further input (a pipelined request)
// waits, up to kMaxPendingInput; past that the connection is shut. Reactor thread only.

#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "api/net/connection.h"

namespace regfs::api {

class RequestReader {
 public:
  // What the reader hands on (the connection handler). Each may answer at once; the reader
  // then reads on only if the connection is still open and not sending a file body.
  class Events {
   public:
    virtual ~Events() = default;
    // A head was read into conn->request: dispatch it; a body follows only after
    // expectBody().
    virtual void headRead(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) = 0;
    // The head cannot be read: answer `status` (with `why`) and close.
    virtual void headInvalid(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                             const std::string& why, int status) = 0;
    // The sink has the whole body: finish it and answer.
    virtual void bodyRead(const std::shared_ptr<Conn>& conn, const PeerPtr& peer) = 0;
    // The sink failed with `error` and is gone: answer now; the rest of the body is not read.
    virtual void bodyFailed(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                            const std::exception& error) = 0;
  };

  explicit RequestReader(Events& events) : events_(events) {}

  // Bytes from the socket. False once the connection is dropped (a TLS failure).
  bool receive(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string_view data);

  // Pistache reads 4 KiB per call; while a request body streams in, read the socket
  // directly in large pieces until it would block. The peer's events are edge-triggered
  // and Pistache reads until EAGAIN itself, so nothing is missed: its next read finds the
  // socket drained (or the end of the stream, which it then handles as usual).
  void drainBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer);

  // The request in conn->request has a body for conn->sink: asks for it on
  // "Expect: 100-continue", then reads it as the request frames it.
  void expectBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer);

  // The response is out: reads what arrived meanwhile.
  void readPending(const std::shared_ptr<Conn>& conn, const PeerPtr& peer);

 private:
  void process(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string_view data);
  // Feeds the head parser; false once the head was refused.
  bool readHead(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string_view& data);
  void readBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string_view& data);
  // Input that arrived while a response is being sent.
  void hold(Conn& conn, Pistache::Tcp::Peer& peer, std::string_view data);

  // Runs `take`, which hands body bytes to the request's sink; a failure is answered at once
  // and the rest of the body is not read.
  template <typename Take>
  void takeBody(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, Take&& take);
  // `n` bytes of a body with a Content-Length went to the sink; the last one ends the request.
  void bodyTaken(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, size_t n);
  void bodyDone(const std::shared_ptr<Conn>& conn, const PeerPtr& peer);

  Events& events_;
};

}  // namespace regfs::api
