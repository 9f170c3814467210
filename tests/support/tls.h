#pragma once
// Test support: TLS certificates made with the openssl CLI, and a small Bearer token server
// (tests/support/token_server.py, python3 standard library) for token auth.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace regfs::testing {

// A self-signed server certificate for IP:127.0.0.1 and DNS:localhost, as the classic
// registry setup makes one: `cert` is also the CA clients trust.
struct ServerCertificate {
  std::filesystem::path cert;  // tls.crt
  std::filesystem::path key;   // tls.key
};
ServerCertificate makeServerCertificate(const std::filesystem::path& dir);

// A new CA and a certificate it signs: peers trust `caCert`, not the certificate itself.
struct IssuedCertificate {
  std::filesystem::path caCert;
  std::filesystem::path cert;
  std::filesystem::path key;
};

// A CA (ca.crt, ca.key) and a client certificate it signs (client.crt, client.key).
using ClientCertificates = IssuedCertificate;
ClientCertificates makeClientCertificates(const std::filesystem::path& dir);

// A CA (ca.crt, ca.key) and a server certificate it signs for `subjectAltName`
// (server.crt, server.key): a private CA, as companies run them.
IssuedCertificate makeCaSignedServerCertificate(
    const std::filesystem::path& dir,
    const std::string& subjectAltName = "IP:127.0.0.1,DNS:localhost");

// Runs openssl with `args`; throws std::runtime_error with its stderr on failure.
void openssl(const std::vector<std::string>& args);

// A token server on a free loopback port. Users (Basic auth on GET /token):
//   pusher:push-secret  gets every action it asks for
//   puller:pull-secret  gets pull only
//   viewer:view-secret  gets pull on repositories and the catalog: it browses, it cannot
//                       push or delete
//   late:late-secret    gets every action, in a token that expired an hour ago
// Tokens are RS256 JWTs signed with `key()`, whose certificate `cert()` the registry trusts
// (auth.token.rootcertbundle); header "kid" is the key's libtrust id.
class TokenServer {
 public:
  TokenServer(std::string issuer, std::string service);
  int port() const { return port_; }
  std::string realm() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }
  const std::filesystem::path& cert() const { return cert_; }
  const std::string& issuer() const { return issuer_; }
  const std::string& service() const { return service_; }
  std::string log() const { return process_->log(); }
  // config.yml lines for auth.token pointing at this server, or at `realm` when given (this
  // server behind a proxy).
  std::string registryConfig(const std::string& realm = "") const;
  // A token for `user` ("name:password") asking for `scope`, from this server with curl; a
  // test failure (and "") when it gives none.
  std::string token(const std::string& user, const std::string& scope) const;

 private:
  TempDir dir_;
  std::string issuer_;
  std::string service_;
  std::filesystem::path cert_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace regfs::testing
