#pragma once
// Bytes to one connection's socket: encrypted first on https, and straight into the socket
// while it takes them; only what it does not take waits in Pistache's write queue (which
// wakes its reactor through an eventfd and waits for writability: six more system calls
// per answer). Reactor thread only.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "api/net/connection.h"

namespace regfs::api {

// Queues `bytes` in Pistache's write queue, resolved once they are written.
Pistache::Async::Promise<ssize_t> queueBytes(const PeerPtr& peer, std::string bytes);
// Plain bytes through Pistache's write queue, counted so that later writes wait their turn.
Pistache::Async::Promise<ssize_t> queuePlain(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
                                             std::string bytes);
// Queues the ciphertext the socket did not take behind what is already queued; `written`
// runs once it is out.
void flushTls(const std::shared_ptr<Conn>& conn, const PeerPtr& peer,
              std::function<void()> written);
// A TLS failure: the alert that says why (or, for plain HTTP on the https port, Go's
// answer), then the connection is shut.
void tlsFailed(const std::shared_ptr<Conn>& conn, const PeerPtr& peer);
// Sends `bytes` (encrypted on https); `written` runs once they are all on the socket.
void sendOut(const std::shared_ptr<Conn>& conn, const PeerPtr& peer, std::string bytes,
             std::function<void()> written);
// Ends the connection's writing side (after TLS's close_notify); the peer's reads then see
// the client's close and Pistache removes the connection.
void closeWrite(const std::shared_ptr<Conn>& conn, const std::weak_ptr<Pistache::Tcp::Peer>& weak);

}  // namespace regfs::api
