#pragma once
// One client connection of regfs-server, as every part of its handling sees it: the state
// the reactor thread that owns the peer keeps for it (api/net/request_reader.h reads
// requests into it, api/net/connection_handler.h answers them, api/net/transport.h writes
// to its socket, api/net/body_sender.h streams files through it).

#include <pistache/http.h>
#include <pistache/peer.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "api/http/http.h"
#include "api/net/tls.h"
#include "api/registry/registry.h"

namespace regfs::api {

using Clock = std::chrono::steady_clock;
using PeerPtr = std::shared_ptr<Pistache::Tcp::Peer>;

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

// Progress on the connection, for Pistache's idle-peer check (Conn::clock): `idle` when it
// waits for the next request, not in the middle of one.
inline void touch(Conn& conn, Pistache::Tcp::Peer& peer, bool idle) {
  auto now = Clock::now();
  peer.setIdle(idle);
  if (now - conn.lastTouch < std::chrono::seconds(1)) return;
  conn.lastTouch = now;
  conn.clock->reset();
}

}  // namespace regfs::api
