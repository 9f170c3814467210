// Replicas behind a load balancer: two regfs-servers on one bucket behind nginx, which sends
// each request to the next replica in turn (no sticky sessions), so the requests of one
// push and one pull are spread over both. docs/storage.md ("Replicas behind a load balancer")
// shows the same nginx settings.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "shared_ceph.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/server.h"

namespace regfs::testing {
namespace {

// nginx on a free loopback port, round-robin over `upstreams`, streaming request and
// response bodies as a registry needs; stopped by PID with the object.
class RoundRobinProxy {
 public:
  explicit RoundRobinProxy(const std::vector<const RegfsServer*>& upstreams) : port_(freePort()) {
    std::string servers;
    for (const RegfsServer* s : upstreams) servers += "    server " + s->host() + ";\n";
    std::filesystem::create_directories(dir_ / "tmp");
    std::string d = dir_.path().string();
    std::ofstream(dir_ / "nginx.conf")
        << "user root;\n"
           "daemon off;\n"
           // One process: stopping it by PID leaves no worker behind.
           "master_process off;\n"
           "pid "
        << d
        << "/nginx.pid;\n"
           "error_log "
        << d
        << "/error.log warn;\n"
           "events {}\n"
           "http {\n"
           "  log_format upstreams '$request_method $uri $status $upstream_addr';\n"
           "  access_log "
        << d
        << "/access.log upstreams;\n"
           "  client_body_temp_path "
        << d
        << "/tmp/body;\n"
           "  proxy_temp_path "
        << d
        << "/tmp/proxy;\n"
           "  fastcgi_temp_path "
        << d
        << "/tmp/fastcgi;\n"
           "  uwsgi_temp_path "
        << d
        << "/tmp/uwsgi;\n"
           "  scgi_temp_path "
        << d
        << "/tmp/scgi;\n"
           "  upstream registry {\n"
        << servers
        << "    keepalive 8;\n  }\n"
           "  server {\n"
           "    listen 127.0.0.1:"
        << port_
        << ";\n"
           "    client_max_body_size 0;\n"
           "    proxy_request_buffering off;\n"
           "    proxy_buffering off;\n"
           "    proxy_http_version 1.1;\n"
           "    proxy_read_timeout 900s;\n"
           "    location /v2/ {\n"
           "      proxy_pass http://registry;\n"
           "      proxy_set_header Host $http_host;\n"
           "      proxy_set_header Connection \"\";\n"
           "    }\n"
           "  }\n"
           "}\n";
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"nginx", "-c", (dir_ / "nginx.conf").string(), "-p", d},
        std::map<std::string, std::string>{}, dir_ / "nginx.log");
    if (!waitForPort(port_)) {
      ADD_FAILURE() << "nginx did not start: " << process_->log() << readFile(dir_ / "error.log");
    }
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

  // "METHOD URI STATUS UPSTREAM" for each request so far.
  std::vector<std::string> requests() const {
    std::vector<std::string> lines;
    std::istringstream in(readFile(dir_ / "access.log"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

TEST(S3LoadBalancerTest, ReplicasBehindRoundRobinServeOneRegistry) {
  ASSERT_TRUE(haveProgram("nginx")) << "nginx is required (scripts/setup.sh installs nginx-light)";
  ASSERT_TRUE(haveProgram("skopeo")) << "skopeo is required (scripts/setup.sh installs it)";
  RegfsServerOptions options;
  options.storage = sharedCeph().storageYaml(newBucket());
  options.env["REGISTRY_STORAGE_S3_CHUNKSIZE"] = std::to_string(5 << 20);
  RegfsServer a({}, options);
  RegfsServer b({}, options);
  RoundRobinProxy proxy({&a, &b});

  TempDir work;
  OciLayout oci(work / "oci");
  Blob small = oci.addLayer({{"etc/hello", "hello through the balancer"}});
  Blob big = oci.addLayer({{"opt/big.bin", randomBytes(12 << 20, 21)}});
  Blob image = oci.addImage({small, big});
  oci.tag("v1", image);
  auto pushed = skopeoCopy(oci.ref("v1"), "docker://" + proxy.host() + "/library/balanced:v1");
  ASSERT_EQ(pushed.status, 0) << pushed.err << a.log() << b.log();

  // Every blob upload took several requests; round-robin sent them to both replicas.
  std::set<std::string> uploadReplicas, allReplicas;
  for (const std::string& line : proxy.requests()) {
    std::string upstream = line.substr(line.rfind(' ') + 1);
    if (upstream == "-") continue;  // answered by nginx itself (skopeo tries https first)
    allReplicas.insert(upstream);
    if (line.find("/blobs/uploads/") != std::string::npos) uploadReplicas.insert(upstream);
  }
  EXPECT_EQ(uploadReplicas.size(), 2u)
      << "upload requests reached only " << uploadReplicas.size() << " replica(s)";

  OciLayout back(work / "back");
  auto pulled = skopeoCopy("docker://" + proxy.host() + "/library/balanced:v1", back.ref("v1"));
  ASSERT_EQ(pulled.status, 0) << pulled.err << a.log() << b.log();
  for (const Blob& blob : {small, big, image}) {
    std::string hex = blob.digest.substr(7);
    EXPECT_TRUE(readFile(back.dir() / "blobs" / "sha256" / hex) == blob.bytes)
        << blob.digest << " differs";
  }
  // Each replica on its own serves what went in through the balancer.
  for (const RegfsServer* s : {&a, &b}) {
    Reply manifest = http("GET", s->url() + "/v2/library/balanced/manifests/v1",
                          {"-H", "Accept: application/vnd.oci.image.manifest.v1+json"});
    EXPECT_EQ(manifest.status, 200) << s->log();
    EXPECT_TRUE(manifest.body == image.bytes);
  }
  EXPECT_EQ(allReplicas, (std::set<std::string>{a.host(), b.host()}));
}

}  // namespace
}  // namespace regfs::testing
