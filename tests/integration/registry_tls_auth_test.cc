// User story: the classic registry:2 setup (TLS from a self-signed certificate, htpasswd
// from `htpasswd -B`, configured with REGISTRY_* variables) with regfs-server in place of
// the reference binary: skopeo and a real Docker engine log in, push and pull. And token
// auth: Docker logs in through a token server; a pull-only token cannot push, and an
// expired token is refused.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/dockerd.h"
#include "support/image.h"
#include "support/server.h"
#include "support/tls.h"

namespace regfs {
namespace {

using namespace regfs::testing;
namespace fs = std::filesystem;

constexpr char kUser[] = "registry";
constexpr char kPassword[] = "LSR1142.registry";

// The CA of a registry in dockerd's certs.d (dockerd 20.10 reads only /etc/docker/certs.d),
// removed again when the test ends.
class DockerCertsDir {
 public:
  DockerCertsDir(const std::string& host, const fs::path& ca)
      : dir_(fs::path("/etc/docker/certs.d") / host) {
    fs::create_directories(dir_);
    fs::copy_file(ca, dir_ / "ca.crt", fs::copy_options::overwrite_existing);
  }
  ~DockerCertsDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

 private:
  fs::path dir_;
};

std::unique_ptr<RegfsServer> classicRegistry(const TempDir& dir, const ServerCertificate& cert) {
  fs::create_directories(dir / "auth");
  CommandResult h = run({"htpasswd", "-Bbn", kUser, kPassword});
  if (h.status != 0) throw std::runtime_error("htpasswd failed: " + h.err);
  writeFile(dir / "auth/htpasswd", h.out);
  RegfsServerOptions o;
  o.env = {{"REGISTRY_HTTP_TLS_CERTIFICATE", cert.cert.string()},
           {"REGISTRY_HTTP_TLS_KEY", cert.key.string()},
           {"REGISTRY_AUTH", "htpasswd"},
           {"REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm"},
           {"REGISTRY_AUTH_HTPASSWD_PATH", (dir / "auth/htpasswd").string()}};
  return std::make_unique<RegfsServer>(fs::path(), o);
}

TEST(RegistryTlsAuth, SkopeoWithCredentialsAndCertDir) {
  TempDir dir;
  ServerCertificate cert = makeServerCertificate(dir / "certs");
  auto server = classicRegistry(dir, cert);
  fs::create_directories(dir / "skopeo-certs");
  fs::copy_file(cert.cert, dir / "skopeo-certs/ca.crt");
  OciLayout layout(dir / "oci");
  Blob image = layout.addImage({layout.addLayer({{"hello.txt", "hello over tls\n"}})});
  layout.tag("v1", image);
  std::string dest = "docker://" + server->host() + "/skopeo/tls:v1";
  std::string certDir = (dir / "skopeo-certs").string();

  CommandResult anonymous = run({"skopeo", "--insecure-policy", "copy", "--quiet",
                                 "--dest-cert-dir", certDir, layout.ref("v1"), dest});
  EXPECT_NE(anonymous.status, 0);
  EXPECT_NE(anonymous.err.find("authentication required"), std::string::npos) << anonymous.err;

  CommandResult pushed = run({"skopeo", "--insecure-policy", "copy", "--quiet", "--dest-creds",
                              std::string(kUser) + ":" + kPassword, "--dest-cert-dir", certDir,
                              layout.ref("v1"), dest});
  ASSERT_EQ(pushed.status, 0) << pushed.err << server->log();
  CommandResult inspected =
      run({"skopeo", "inspect", "--raw", "--creds", std::string(kUser) + ":" + kPassword,
           "--cert-dir", certDir, dest});
  ASSERT_EQ(inspected.status, 0) << inspected.err;
  EXPECT_EQ(inspected.out, image.bytes);
  CommandResult back = run({"skopeo", "--insecure-policy", "copy", "--quiet", "--src-creds",
                            std::string(kUser) + ":" + kPassword, "--src-cert-dir", certDir, dest,
                            "oci:" + (dir / "back").string() + ":v1"});
  EXPECT_EQ(back.status, 0) << back.err;
}

TEST(RegistryTlsAuth, DockerLoginPushPullLogout) {
  TempDir dir;
  ServerCertificate cert = makeServerCertificate(dir / "certs");
  auto server = classicRegistry(dir, cert);
  DockerCertsDir certs(server->host(), cert.cert);
  DockerDaemon& docker = sharedDockerDaemon();
  std::string ref = server->host() + "/tls/busybox:1";
  importBusyboxImage(docker, ref);

  CommandResult bad = docker.docker({"login", "-u", kUser, "-p", "wrong", server->host()});
  EXPECT_NE(bad.status, 0) << bad.out;
  CommandResult login = docker.docker({"login", "-u", kUser, "-p", kPassword, server->host()});
  ASSERT_EQ(login.status, 0) << login.err << server->log();
  EXPECT_NE(login.out.find("Login Succeeded"), std::string::npos) << login.out;
  CommandResult push = docker.docker({"push", ref});
  ASSERT_EQ(push.status, 0) << push.err << push.out << server->log();
  ASSERT_EQ(docker.docker({"rmi", ref}).status, 0);
  CommandResult pull = docker.docker({"pull", ref});
  ASSERT_EQ(pull.status, 0) << pull.err << pull.out;
  EXPECT_EQ(docker.docker({"run", "--rm", "--network", "none", ref, "echo", "ran"}).out, "ran\n");
  EXPECT_EQ(docker.docker({"logout", server->host()}).status, 0);
  // Without credentials, the registry refuses.
  CommandResult anonymous = docker.docker({"push", ref});
  EXPECT_NE(anonymous.status, 0) << anonymous.out;
  docker.docker({"rmi", ref});
  Reply catalog =
      http("GET", "https://" + server->host() + "/v2/_catalog",
           {"--cacert", cert.cert.string(), "-u", std::string(kUser) + ":" + kPassword});
  EXPECT_EQ(catalog.body, "{\"repositories\":[\"tls/busybox\"]}\n");
}

TEST(RegistryTokenAuth, DockerWithPushPullAndExpiredTokens) {
  TokenServer tokens("regfs-test-issuer", "regfs-test");
  RegfsServerOptions o;
  o.extraConfig = tokens.registryConfig();
  RegfsServer server({}, o);
  DockerDaemon& docker = sharedDockerDaemon();
  std::string ref = server.host() + "/token/busybox:1";
  importBusyboxImage(docker, ref);

  CommandResult login =
      docker.docker({"login", "-u", "pusher", "-p", "push-secret", server.host()});
  ASSERT_EQ(login.status, 0) << login.err << server.log() << tokens.log();
  CommandResult push = docker.docker({"push", ref});
  ASSERT_EQ(push.status, 0) << push.err << push.out << server.log();
  ASSERT_EQ(docker.docker({"rmi", ref}).status, 0);
  CommandResult pull = docker.docker({"pull", ref});
  ASSERT_EQ(pull.status, 0) << pull.err << pull.out;

  // A pull-only user pulls, but cannot push.
  ASSERT_EQ(docker.docker({"login", "-u", "puller", "-p", "pull-secret", server.host()}).status, 0);
  ASSERT_EQ(docker.docker({"rmi", ref}).status, 0);
  EXPECT_EQ(docker.docker({"pull", ref}).status, 0);
  std::string other = server.host() + "/token/other:1";
  ASSERT_EQ(docker.docker({"tag", ref, other}).status, 0);
  CommandResult denied = docker.docker({"push", other});
  EXPECT_NE(denied.status, 0) << denied.out;

  // Expired tokens are refused, so the login fails.
  CommandResult late = docker.docker({"login", "-u", "late", "-p", "late-secret", server.host()});
  EXPECT_NE(late.status, 0) << late.out;
  EXPECT_EQ(docker.docker({"logout", server.host()}).status, 0);
  docker.docker({"rmi", ref, other});
}

}  // namespace
}  // namespace regfs
