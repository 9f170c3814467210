#pragma once
// TLS for regfs-server, run by regfs itself beneath its HTTP layer: Pistache carries the raw
// bytes of each connection, and a TlsSession per connection decrypts what arrives and
// encrypts what goes back. The handshake is driven by the connection's own input on its
// reactor thread, so a client that connects and sends nothing (or dribbles its hello) holds
// only its own socket, never the accept thread or other connections. (Pistache's own TLS
// runs a blocking SSL_accept in its single accept thread.)
//
// Output: OpenSSL hands each encrypted record (16 KiB of plaintext at most) to the session,
// which collects the records of one write() in a buffer of the thread and sends them with
// one send(2): 256 KiB of a blob go out in one system call and a few large segments
// instead of sixteen of each. What the socket does not take stays in the session's
// backlog, in order, and every later record joins the backlog until the caller has sent it
// (through Pistache's write queue, which waits for the socket) and says so with
// setQueued(false).

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/config/config.h"
#include "common/handles.h"

namespace regfs::api {

using SslCtxPtr = CPtr<SSL_CTX, SSL_CTX_free>;

class TlsContext {
 public:
  // http.tls: the certificate chain and key (checked to match), client certificates
  // required and verified against `clientcas` when set, the minimum protocol version and
  // the TLS 1.2 cipher suites (IANA names, as distribution takes them). Throws
  // Error(kConfigInvalid) with one line naming the setting and the file.
  explicit TlsContext(const TlsConfig& config);
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_.get(); }

 private:
  SslCtxPtr ctx_;
};

class TlsSession {
 public:
  // A server-side session on the connected socket `fd` (used for sending only).
  TlsSession(const TlsContext& context, int fd);
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  enum class Result {
    kOk,      // all input consumed
    kClosed,  // the client sent close_notify
    kFailed,  // handshake or record error: error() says why; drop the connection
  };
  // Feeds bytes read from the socket; decrypted application data is appended to `plain`.
  Result receive(std::string_view cipher, std::string& plain);
  // Encrypts `plain` and sends what the socket takes (all of it backlogged while queued or
  // before the handshake is done). With `more`, the records wait for those of the next
  // write, which must follow on this thread before anything else is written on it. False if
  // the connection is broken.
  bool write(std::string_view plain, bool more = false);
  // Sends close_notify.
  void close();

  bool handshakeDone() const;
  // Ciphertext the socket did not take, oldest first; the caller sends it next.
  bool hasBacklog() const { return !backlog_.empty(); }
  std::string takeBacklog();
  // While the caller has ciphertext in flight, new records must queue behind it.
  void setQueued(bool queued) { queued_ = queued; }

  // Why the last call failed (no secrets).
  const std::string& error() const { return error_; }
  // True if the client spoke plain HTTP instead of starting a handshake.
  bool plainHttp() const { return plainHttp_; }

 private:
  friend struct TlsBio;
  int bioRead(char* out, int len);
  int bioWrite(const char* data, int len);
  // Sends what the socket takes of `staged` now, backlogs the rest; false if the
  // connection is broken.
  bool sendStaged(const std::string& staged);
  void fail(const char* what);

  int fd_;
  uint64_t id_;
  std::string_view input_;
  std::string backlog_;
  std::string* staging_ = nullptr;  // during write(): where records collect instead
  bool queued_ = false;
  bool broken_ = false;
  bool sawInput_ = false;
  bool plainHttp_ = false;
  std::string error_;
  // Last, so that it goes first: its BIO writes into the members above.
  CPtr<SSL, SSL_free> ssl_;
};

}  // namespace regfs::api
