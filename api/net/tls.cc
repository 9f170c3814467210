#include "api/net/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "api/http/send_now.h"
#include "common/error.h"

namespace regfs::api {
namespace {

// The reason of the most recent OpenSSL error on this thread, and an empty queue after.
std::string takeOpensslError() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(last);
  return reason ? reason : "error " + std::to_string(last);
}

[[noreturn]] void configError(const std::string& message) {
  ERR_clear_error();
  throw Error(ErrorKind::kConfigInvalid, message);
}

// Fails with the system's reason when `path` cannot be opened for reading.
void requireReadable(const char* setting, const std::string& path) {
  if (path.empty()) configError(std::string(setting) + " is not set");
  CPtr<std::FILE, std::fclose> f(std::fopen(path.c_str(), "rb"));
  if (!f) configError(std::string(setting) + ": cannot read " + path + ": " + std::strerror(errno));
}

int protocolVersion(const std::string& name) {
  if (name.empty() || name == "tls1.2") return TLS1_2_VERSION;
  if (name == "tls1.3") return TLS1_3_VERSION;
  if (name == "tls1.1") return TLS1_1_VERSION;
  if (name == "tls1.0") return TLS1_VERSION;
  configError("http.tls.minimumtls: unknown version \"" + name +
              "\" (tls1.0, tls1.1, tls1.2 or tls1.3)");
}

// IANA cipher suite names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, as Go and distribution
// take them) become OpenSSL's names; TLS 1.3 suites are configured separately.
void setCipherSuites(SSL_CTX* ctx, const std::vector<std::string>& names) {
  if (names.empty()) return;
  SslCtxPtr all(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_set_cipher_list(all.get(), "ALL:@SECLEVEL=0");
  STACK_OF(SSL_CIPHER)* known = SSL_CTX_get_ciphers(all.get());
  std::string tls12, tls13;
  for (const auto& name : names) {
    const SSL_CIPHER* found = nullptr;
    for (int i = 0; i < sk_SSL_CIPHER_num(known); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(known, i);
      const char* standard = SSL_CIPHER_standard_name(c);
      if (standard && name == standard) found = c;
    }
    if (!found) configError("http.tls.ciphersuites: unknown cipher suite " + name);
    std::string& list = std::strcmp(SSL_CIPHER_get_version(found), "TLSv1.3") == 0 ? tls13 : tls12;
    list += (list.empty() ? "" : ":") + std::string(SSL_CIPHER_get_name(found));
  }
  if (!tls12.empty() && SSL_CTX_set_cipher_list(ctx, tls12.c_str()) != 1) {
    configError("http.tls.ciphersuites: " + takeOpensslError());
  }
  if (!tls13.empty() && SSL_CTX_set_ciphersuites(ctx, tls13.c_str()) != 1) {
    configError("http.tls.ciphersuites: " + takeOpensslError());
  }
}

// regfs speaks HTTP/1.1 only; clients that offer h2 as well are told so.
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

// The BIO between OpenSSL and a session: reads from the input being fed, writes to the
// socket or the backlog. Its method is made once and kept for the life of the process.
struct TlsBio {
  static BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "regfs-conn");
      BIO_meth_set_write(bm, [](BIO* b, const char* data, int len) {
        return static_cast<TlsSession*>(BIO_get_data(b))->bioWrite(data, len);
      });
      BIO_meth_set_read(bm, [](BIO* b, char* out, int len) {
        BIO_clear_retry_flags(b);
        int n = static_cast<TlsSession*>(BIO_get_data(b))->bioRead(out, len);
        if (n < 0) BIO_set_retry_read(b);
        return n;
      });
      BIO_meth_set_ctrl(
          bm, [](BIO*, int cmd, long, void*) -> long { return cmd == BIO_CTRL_FLUSH ? 1 : 0; });
      BIO_meth_set_create(bm, [](BIO* b) {
        BIO_set_init(b, 1);
        return 1;
      });
      return bm;
    }();
    return m;
  }
};

TlsContext::TlsContext(const TlsConfig& config) {
  requireReadable("http.tls.certificate", config.certificate);
  requireReadable("http.tls.key", config.key);
  ERR_clear_error();
  ctx_.reset(SSL_CTX_new(TLS_server_method()));
  SSL_CTX* ctx = ctx_.get();
  if (!ctx) configError("http.tls: cannot create a TLS context: " + takeOpensslError());
  if (SSL_CTX_use_certificate_chain_file(ctx, config.certificate.c_str()) != 1) {
    configError("http.tls.certificate: " + config.certificate +
                " holds no usable PEM certificate (" + takeOpensslError() + ")");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, config.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::string why = takeOpensslError();
    if (why == "key values mismatch") {
      configError("http.tls.key: " + config.key + " does not match the certificate " +
                  config.certificate);
    }
    configError("http.tls.key: " + config.key + " holds no usable PEM private key (" + why + ")");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    configError("http.tls.key: " + config.key + " does not match the certificate " +
                config.certificate);
  }
  SSL_CTX_set_min_proto_version(ctx, protocolVersion(config.minimumTls));
  setCipherSuites(ctx, config.cipherSuites);
  if (!config.clientCas.empty()) {
    auto freeNames = [](STACK_OF(X509_NAME) * names) {
      sk_X509_NAME_pop_free(names, X509_NAME_free);
    };
    std::unique_ptr<STACK_OF(X509_NAME), decltype(freeNames)> names(sk_X509_NAME_new_null(),
                                                                    freeNames);
    for (const auto& ca : config.clientCas) {
      requireReadable("http.tls.clientcas", ca);
      if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1 ||
          SSL_add_file_cert_subjects_to_stack(names.get(), ca.c_str()) != 1) {
        configError("http.tls.clientcas: " + ca + " holds no usable PEM certificate (" +
                    takeOpensslError() + ")");
      }
    }
    SSL_CTX_set_client_CA_list(ctx, names.release());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
  ERR_clear_error();
}

namespace {
// Where the records of a write collect before they go out together, and the session whose
// records they are (after a write with `more`), on this thread. Sessions are told apart by
// a number never used twice, so a session cannot inherit what a finished one left here.
thread_local std::string staged;
thread_local uint64_t stagedBy = 0;
std::atomic<uint64_t> lastSessionId{0};
}  // namespace

TlsSession::TlsSession(const TlsContext& context, int fd)
    : fd_(fd), id_(++lastSessionId), ssl_(SSL_new(context.get())) {
  if (!ssl_) throw Error(ErrorKind::kInternal, "SSL_new failed: " + takeOpensslError());
  CPtr<BIO, BIO_free> bio(BIO_new(TlsBio::method()));
  if (!bio) throw Error(ErrorKind::kInternal, "BIO_new failed: " + takeOpensslError());
  BIO_set_data(bio.get(), this);
  SSL_set_bio(ssl_.get(), bio.get(), bio.get());
  static_cast<void>(bio.release());  // the session's now, for reading and writing
  SSL_set_accept_state(ssl_.get());
}

bool TlsSession::handshakeDone() const { return SSL_is_init_finished(ssl_.get()) == 1; }

int TlsSession::bioRead(char* out, int len) {
  if (input_.empty()) return -1;
  size_t n = std::min(input_.size(), static_cast<size_t>(len));
  if (!sawInput_) {
    sawInput_ = true;
    // A TLS record starts with a content type byte (20..24); a request line with a letter.
    plainHttp_ = input_[0] >= 'A' && input_[0] <= 'Z';
  }
  std::memcpy(out, input_.data(), n);
  input_.remove_prefix(n);
  return static_cast<int>(n);
}

int TlsSession::bioWrite(const char* data, int len) {
  if (broken_) return -1;
  (staging_ ? *staging_ : backlog_).append(data, static_cast<size_t>(len));
  return len;
}

bool TlsSession::sendStaged(const std::string& staged) {
  auto sent = sendNow(fd_, staged);
  if (!sent) {
    broken_ = true;
    error_ = std::string("send: ") + (errno ? std::strerror(errno) : "connection closed");
    return false;
  }
  backlog_.append(staged, *sent);
  return true;
}

void TlsSession::fail(const char* what) {
  if (!broken_) error_ = std::string(what) + ": " + takeOpensslError();
  ERR_clear_error();
}

TlsSession::Result TlsSession::receive(std::string_view cipher, std::string& plain) {
  ERR_clear_error();
  input_ = cipher;
  if (!handshakeDone()) {
    int r = SSL_do_handshake(ssl_.get());
    if (r != 1) {
      int e = SSL_get_error(ssl_.get(), r);
      input_ = {};
      if (e == SSL_ERROR_WANT_READ) return Result::kOk;
      fail("handshake");
      return Result::kFailed;
    }
  }
  thread_local std::string buf(64 << 10, '\0');
  while (true) {
    size_t got = 0;
    int r = SSL_read_ex(ssl_.get(), buf.data(), buf.size(), &got);
    if (r == 1) {
      plain.append(buf.data(), got);
      continue;
    }
    int e = SSL_get_error(ssl_.get(), r);
    input_ = {};
    if (e == SSL_ERROR_WANT_READ) return Result::kOk;
    if (e == SSL_ERROR_ZERO_RETURN) return Result::kClosed;
    fail("read");
    return Result::kFailed;
  }
}

bool TlsSession::write(std::string_view plain, bool more) {
  ERR_clear_error();
  // The records of this write (and of the writes just before it that had `more`) go out
  // together, unless they must queue behind ciphertext in flight. Handshake records always
  // go through the caller: a failed handshake may then send nothing.
  bool direct = !queued_ && backlog_.empty() && handshakeDone();
  if (stagedBy != id_) {
    staged.clear();  // keeps its capacity
  } else if (!direct) {
    backlog_.append(staged);  // in order, ahead of this write's records
    staged.clear();
  }
  stagedBy = direct ? id_ : 0;
  if (direct) staging_ = &staged;
  while (!plain.empty()) {
    size_t written = 0;
    if (SSL_write_ex(ssl_.get(), plain.data(), plain.size(), &written) != 1) {
      staging_ = nullptr;
      stagedBy = 0;
      fail("write");
      return false;
    }
    plain.remove_prefix(written);
  }
  staging_ = nullptr;
  if (!direct || more) return true;
  stagedBy = 0;
  bool sent = sendStaged(staged);
  staged.clear();
  if (!sent) {
    fail("write");
    return false;
  }
  return true;
}

void TlsSession::close() {
  ERR_clear_error();
  if (handshakeDone() && !broken_) SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

std::string TlsSession::takeBacklog() {
  std::string out = std::move(backlog_);
  backlog_.clear();
  return out;
}

}  // namespace regfs::api
