#pragma once
// A response body sent from a file, after the response head: opened and checked before the
// head is written, then sent in pieces on the connection's reactor thread. A local file is
// read there (plain: straight into the socket while it takes it; https: encrypted in small
// pieces), also one still being written, as far as it has grown; a remote one arrives from a
// reader thread of its own (api/net/remote_body.h).
// What the socket does not take waits in Pistache's write queue, and the sending goes on
// once it is written. Reactor thread only, but for the remote reader.

#include <functional>
#include <memory>
#include <string>

#include "api/http/response.h"
#include "api/net/connection.h"
#include "api/net/file_send.h"
#include "api/net/remote_body.h"

namespace regfs::api {

// Opens what `r` sends from a file, checked before any header is out: nullptr for a body in
// memory (or none: a HEAD, an empty file), or when `r` became the error to answer instead
// (the file vanished, or cannot be read). A remote file is only checked when it is read.
std::shared_ptr<FileSend> openFileBody(Response& r, bool head);

// Sends one file body. Made with std::make_shared: each step that waits for the socket or
// the remote reader holds the sender, and with it the FileSend, whose `finished` runs when
// the body is out, is cut short, or nothing waits any more (the connection is gone).
class BodySender : public std::enable_shared_from_this<BodySender> {
 public:
  // Runs on the reactor thread once the last byte is out: the connection goes on.
  using Sent = std::function<void(const PeerPtr& peer)>;

  BodySender(std::shared_ptr<Conn> conn, const PeerPtr& peer, std::shared_ptr<FileSend> file,
             Sent sent);

  // A remote file: starts reading it on a thread owned by `readers`, which the server joins
  // before its connection handlers go (`sent` calls into one). From the moment the head is
  // queued, so the first piece is on its way while the head goes out.
  void startRemoteRead(FileBody::Stream stream, RemoteReaders& readers);

  // Sends the body; call once the head is out. A failure (the file cannot be read, the
  // storage fails, the client is gone) cuts the connection: the head promised a length.
  void send();

 private:
  enum class Pump { kDone, kWaiting, kFailed };

  void pumpFile();
  // Sending a local file until the socket is full: kWaiting when the rest goes on once the
  // write queue is out, kFailed with `why`.
  Pump pumpFilePlain(const PeerPtr& peer, std::string& why);
  Pump pumpFileTls(const PeerPtr& peer, std::string& why);
  // Whether the next bytes of the file can be read now: always, unless it is still being
  // written; then as far as it has grown (`want` shrinks to that), and when not at all, the
  // pump goes on once it grows. Throws when its writing failed.
  bool canRead(size_t& want);

  // Sends a remote file's pieces as its reader queues them (through TLS when on): the
  // download holds at most kRemoteQueued pieces, the one being filled and the one out.
  void pumpRemote();
  // One piece of it; false when the pump stops here (it resumes once the piece is out, or
  // the body was cut short).
  bool sendRemotePiece(const PeerPtr& peer, std::string piece);

  void abort(Pistache::Tcp::Peer& peer, const std::string& why);
  void done(const PeerPtr& peer);

  std::shared_ptr<Conn> conn_;
  std::weak_ptr<Pistache::Tcp::Peer> peer_;
  std::shared_ptr<FileSend> file_;
  Sent sent_;
};

}  // namespace regfs::api
