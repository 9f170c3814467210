#include "support/tls.h"

#include "support/image.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace regfs::testing {

namespace fs = std::filesystem;

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = run(argv);
  if (r.status != 0) throw std::runtime_error("openssl " + args[0] + " failed: " + r.err);
}

ServerCertificate makeServerCertificate(const fs::path& dir) {
  fs::create_directories(dir);
  ServerCertificate c{dir / "tls.crt", dir / "tls.key"};
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2", "-subj",
           "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout",
           c.key.string(), "-out", c.cert.string()});
  return c;
}

namespace {

// A new CA in `dir` (ca.crt, ca.key) that signs a new `name`.crt/.key with subject `cn`;
// `requestExtra` adds to the request (its extensions are copied into the certificate).
IssuedCertificate issueFromNewCa(const fs::path& dir, const std::string& caCn,
                                 const std::string& name, const std::string& cn,
                                 const std::vector<std::string>& requestExtra) {
  fs::create_directories(dir);
  IssuedCertificate c{dir / "ca.crt", dir / (name + ".crt"), dir / (name + ".key")};
  fs::path caKey = dir / "ca.key";
  fs::path csr = dir / (name + ".csr");
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2", "-subj", caCn,
           "-keyout", caKey.string(), "-out", c.caCert.string()});
  std::vector<std::string> request = {"req",          "-newkey", "rsa:2048",  "-nodes",
                                      "-sha256",      "-subj",   cn,          "-keyout",
                                      c.key.string(), "-out",    csr.string()};
  request.insert(request.end(), requestExtra.begin(), requestExtra.end());
  openssl(request);
  openssl({"x509", "-req", "-sha256", "-days", "2", "-in", csr.string(), "-CA", c.caCert.string(),
           "-CAkey", caKey.string(), "-CAcreateserial", "-copy_extensions", "copy", "-out",
           c.cert.string()});
  return c;
}

}  // namespace

ClientCertificates makeClientCertificates(const fs::path& dir) {
  return issueFromNewCa(dir, "/CN=regfs test client CA", "client", "/CN=regfs test client", {});
}

IssuedCertificate makeCaSignedServerCertificate(const fs::path& dir,
                                                const std::string& subjectAltName) {
  return issueFromNewCa(dir, "/CN=regfs test server CA", "server", "/CN=localhost",
                        {"-addext", "subjectAltName=" + subjectAltName});
}

TokenServer::TokenServer(std::string issuer, std::string service)
    : issuer_(std::move(issuer)), service_(std::move(service)) {
  cert_ = dir_ / "token.crt";
  fs::path key = dir_ / "token.key";
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2", "-subj",
           "/CN=regfs test token issuer", "-keyout", key.string(), "-out", cert_.string()});
  port_ = freePort();
  fs::path script = fs::path(REGFS_TEST_SUPPORT_DIR) / "token_server.py";
  process_ = std::make_unique<Process>(
      std::vector<std::string>{"python3", script.string(), "--port", std::to_string(port_), "--key",
                               key.string(), "--cert", cert_.string(), "--issuer", issuer_,
                               "--service", service_},
      std::map<std::string, std::string>{}, dir_ / "token-server.log");
  if (!waitForPort(port_)) throw std::runtime_error("token server did not start: " + log());
}

std::string TokenServer::registryConfig(const std::string& realm) const {
  return "auth:\n  token:\n    realm: " + (realm.empty() ? this->realm() : realm) +
         "\n    service: " + service_ + "\n    issuer: " + issuer_ +
         "\n    rootcertbundle: " + cert_.string() + "\n";
}

std::string TokenServer::token(const std::string& user, const std::string& scope) const {
  CommandResult c = curl({"-s", "-u", user, realm() + "?service=" + service_ + "&scope=" + scope});
  size_t at = c.out.find("\"token\": \"");
  if (at == std::string::npos) {
    ADD_FAILURE() << c.out << c.err << log();
    return "";
  }
  at += 10;
  return c.out.substr(at, c.out.find('"', at) - at);
}

}  // namespace regfs::testing
