#include "support/ceph.h"

#include <signal.h>

#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/poll.h"
#include "support/tls.h"

namespace regfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Each check runs a ceph or curl process: every 100 ms is often enough.
constexpr std::chrono::milliseconds kPollInterval(100);

std::string uuid() {
  CommandResult r = run({"cat", "/proc/sys/kernel/random/uuid"});
  std::string id = r.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  if (id.size() != 36) throw std::runtime_error("no uuid from the kernel");
  return id;
}

}  // namespace

CephCluster::CephCluster() {
  auto started = Clock::now();
  const std::filesystem::path& d = dir_.path();
  std::filesystem::create_directories(d / "mon");
  std::filesystem::create_directories(d / "osd");
  std::filesystem::create_directories(d / "run");
  std::filesystem::create_directories(d / "rgw");
  int monV2 = freePort(), monV1 = freePort();
  rgwPort_ = freePort();
  rgwHttpsPort_ = freePort();
  ServerCertificate tls = makeServerCertificate(d / "tls");
  certificate_ = tls.cert;
  std::string fsid = uuid();
  std::string mon =
      "v2:127.0.0.1:" + std::to_string(monV2) + ",v1:127.0.0.1:" + std::to_string(monV1);
  conf_ = d / "ceph.conf";
  std::ostringstream c;
  c << "[global]\n"
    << "fsid = " << fsid << "\n"
    << "mon host = [" << mon << "]\n"
    << "public addr = 127.0.0.1\n"
    << "auth cluster required = none\nauth service required = none\nauth client required = none\n"
    << "ms mon client mode = crc\n"
    << "osd pool default size = 1\nosd pool default min size = 1\nosd pool default pg num = 8\n"
    << "osd pool default pgp num = 8\nosd pool default pg autoscale mode = off\n"
    << "osd crush chooseleaf type = 0\nmon allow pool size one = true\n"
    << "mon warn on pool no redundancy = false\n"
    << "run dir = " << (d / "run").string() << "\n"
    << "admin socket = " << (d / "run").string() << "/$name.asok\n"
    << "log file = " << d.string() << "/$name.log\n"
    << "keyring = " << d.string() << "/keyring\n"
    << "mon data = " << (d / "mon").string() << "/$id\n"
    << "osd data = " << (d / "osd").string() << "/$id\n"
    << "bluestore block create = true\nbluestore block size = 21474836480\n"
    << "osd objectstore = bluestore\n"
    << "rgw data = " << (d / "rgw").string() << "\n"
    << "rgw frontends = beast endpoint=127.0.0.1:" << rgwPort_
    << " ssl_endpoint=127.0.0.1:" << rgwHttpsPort_ << " ssl_certificate=" << tls.cert.string()
    << " ssl_private_key=" << tls.key.string() << " tcp_nodelay=1\n"
    << "rgw dns name = 127.0.0.1\n"
    << "mds data = " << d.string() << "/mds/$id\n"
    << "mds tick interval = 0.2\n";
  writeFile(conf_, c.str());

  auto monmap = d / "monmap";
  auto step = [&](const std::vector<std::string>& argv) {
    CommandResult r = run(argv);
    if (r.status != 0) {
      throw std::runtime_error(argv[0] + " failed (" + std::to_string(r.status) + "): " + r.err +
                               r.out);
    }
    return r.out;
  };
  step({"monmaptool", "--create", "--fsid", fsid, "--addv", "a", "[" + mon + "]", monmap.string()});
  step({"ceph-mon", "-c", conf_.string(), "--mkfs", "-i", "a", "--monmap", monmap.string()});
  mon_ = std::make_unique<Process>(
      std::vector<std::string>{"ceph-mon", "-c", conf_.string(), "-i", "a", "-f"},
      std::map<std::string, std::string>{}, d / "mon.out");
  if (!waitForPort(monV2)) throw std::runtime_error("ceph-mon did not listen: " + logs());

  std::string osdUuid = uuid();
  CommandResult created = ceph({"osd", "new", osdUuid});
  if (created.status != 0) throw std::runtime_error("ceph osd new failed: " + created.err + logs());
  std::string id = created.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  std::filesystem::create_directories(d / "osd" / id);
  step({"ceph-osd", "-c", conf_.string(), "-i", id, "--mkfs", "--osd-uuid", osdUuid});
  osd_ = std::make_unique<Process>(
      std::vector<std::string>{"ceph-osd", "-c", conf_.string(), "-i", id, "-f"},
      std::map<std::string, std::string>{}, d / "osd.out");
  waitForOsd();
  startGateway();
  step({"radosgw-admin", "-c", conf_.string(), "user", "create", "--uid=regfs",
        "--display-name=regfs", std::string("--access-key=") + kAccessKey,
        std::string("--secret=") + kSecretKey});
  startTime_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
}

CephCluster::~CephCluster() {
  // Mounts first (unmounted, then their clients stopped), then the MDS (it ignores TERM:
  // KILL after a moment), the gateway, the OSD and the monitor: each by its PID.
  for (auto& [mountpoint, client] : mounts_) {
    if (run({"fusermount3", "-u", "-z", mountpoint.string()}).status != 0) {
      run({"umount", "-l", mountpoint.string()});
    }
    client->stop(SIGTERM, std::chrono::seconds(5));
  }
  if (mds_) mds_->stop(SIGTERM, std::chrono::seconds(2));
  for (auto* p : {&rgw_, &osd_, &mon_}) {
    if (*p) (*p)->stop(SIGTERM, std::chrono::seconds(10));
  }
}

void CephCluster::startMds() {
  for (const char* pool : {"cephfs_metadata", "cephfs_data"}) {
    CommandResult r = ceph({"osd", "pool", "create", pool, "8"});
    if (r.status != 0)
      throw std::runtime_error(std::string("ceph osd pool create ") + pool + ": " + r.err);
  }
  CommandResult r = ceph({"fs", "new", "cephfs", "cephfs_metadata", "cephfs_data"});
  if (r.status != 0) throw std::runtime_error("ceph fs new: " + r.err);
  std::filesystem::create_directories(dir_ / "mds" / "a");
  mds_ = std::make_unique<Process>(
      std::vector<std::string>{"ceph-mds", "-c", conf_.string(), "-i", "a", "-f"},
      std::map<std::string, std::string>{}, dir_ / "mds.out");
  auto active = [&] {
    CommandResult s = ceph({"mds", "stat"});
    return s.status == 0 && s.out.find("up:active") != std::string::npos;
  };
  if (!waitUntil(active, std::chrono::seconds(60), kPollInterval))
    throw std::runtime_error("the MDS did not become active: " + readFile(dir_ / "mds.out") +
                             logs());
}

std::filesystem::path CephCluster::mountCephFs(const std::string& client) {
  if (!mds_) startMds();
  std::filesystem::path mountpoint = dir_ / ("mnt-" + client);
  std::filesystem::create_directories(mountpoint);
  auto log = dir_ / (client + ".out");
  auto process = std::make_unique<Process>(
      std::vector<std::string>{"ceph-fuse", "-c", conf_.string(), "-n", "client." + client, "-f",
                               mountpoint.string()},
      std::map<std::string, std::string>{}, log);
  auto isMounted = [&] {
    return readFile("/proc/self/mounts").find(" " + mountpoint.string() + " ") != std::string::npos;
  };
  bool mounted = waitUntil(isMounted, std::chrono::seconds(60), kPollInterval).has_value();
  mounts_.emplace_back(mountpoint, std::move(process));
  if (!mounted)
    throw std::runtime_error("ceph-fuse did not mount " + mountpoint.string() + ": " +
                             readFile(log));
  return mountpoint;
}

CommandResult CephCluster::ceph(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"ceph", "-c", conf_.string(), "--connect-timeout", "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

void CephCluster::waitForOsd() {
  auto up = [&] {
    CommandResult r = ceph({"osd", "stat"});
    return r.status == 0 && r.out.find("1 up") != std::string::npos;
  };
  if (!waitUntil(up, std::chrono::seconds(60), kPollInterval))
    throw std::runtime_error("the OSD did not come up: " + logs());
}

void CephCluster::startGateway() {
  rgw_ = std::make_unique<Process>(
      std::vector<std::string>{"radosgw", "-c", conf_.string(), "-n", "client.rgw.a", "-f"},
      std::map<std::string, std::string>{}, dir_ / "rgw.out");
  waitForGateway();
}

void CephCluster::stopGateway() {
  if (rgw_) rgw_->stop(SIGTERM, std::chrono::seconds(10));
  rgw_.reset();
}

void CephCluster::waitForGateway() {
  auto answers = [&](const std::string& endpoint) {
    CommandResult r = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
                           "--cacert", certificate_.string(), endpoint + "/"});
    return r.status == 0 && r.out == "200";
  };
  auto up = [&] { return rgw_->running() && answers(s3Endpoint()) && answers(s3HttpsEndpoint()); };
  if (!waitUntil(up, std::chrono::seconds(90), kPollInterval))
    throw std::runtime_error("radosgw did not answer: " + logs());
}

void CephCluster::createBucket(const std::string& bucket) const {
  CommandResult r = run({"curl", "-sS", "-f", "-X", "PUT", "--aws-sigv4",
                         std::string("aws:amz:") + kRegion + ":s3", "--user",
                         std::string(kAccessKey) + ":" + kSecretKey, "-H",
                         "x-amz-content-sha256:UNSIGNED-PAYLOAD", s3Endpoint() + "/" + bucket});
  if (r.status != 0)
    throw std::runtime_error("could not create bucket " + bucket + ": " + r.err + r.out);
}

std::vector<std::string> CephCluster::listObjects(const std::string& bucket) const {
  CommandResult r = run({"radosgw-admin", "-c", conf_.string(), "bucket", "list",
                         "--bucket=" + bucket, "--max-entries=100000"});
  if (r.status != 0) throw std::runtime_error("radosgw-admin bucket list failed: " + r.err);
  // Entries are JSON objects with a "name" member; nothing else in them is a key.
  std::vector<std::string> keys;
  const std::string marker = "\"name\": \"";
  for (size_t p = r.out.find(marker); p != std::string::npos; p = r.out.find(marker, p)) {
    p += marker.size();
    size_t end = r.out.find('"', p);
    keys.push_back(r.out.substr(p, end - p));
  }
  return keys;
}

std::string CephCluster::storageYaml(const std::string& bucket, const std::string& rootdirectory,
                                     bool redirect) const {
  std::string pad = "  ";
  std::string in = pad + "  ";
  return pad + "s3:\n" + in + "region: " + kRegion + "\n" + in + "regionendpoint: " + s3Endpoint() +
         "\n" + in + "bucket: " + bucket + "\n" + in + "accesskey: " + kAccessKey + "\n" + in +
         "secretkey: " + kSecretKey + "\n" + in + "secure: false\n" + in + "v4auth: true\n" + in +
         "rootdirectory: " + rootdirectory + "\n" + pad + "redirect:\n" + in +
         "disable: " + (redirect ? "false" : "true") + "\n";
}

std::string CephCluster::logs() const {
  std::string out;
  for (const char* name : {"mon.out", "osd.out", "rgw.out", "mon.a.log", "client.rgw.a.log"}) {
    auto path = dir_ / name;
    if (!std::filesystem::exists(path)) continue;
    std::string text = readFile(path);
    if (text.size() > 3000) text = text.substr(text.size() - 3000);
    out += "\n--- " + std::string(name) + " ---\n" + text;
  }
  return out;
}

S3Relay::S3Relay(const CephCluster& ceph, const std::string& dropAnswerTo,
                 const std::string& holdFirst, double holdSeconds)
    : ceph_(ceph) {
  port_ = freePort();
  std::vector<std::string> argv = {"python3", std::string(REGFS_TEST_SUPPORT_DIR) + "/s3_proxy.py",
                                   std::to_string(port_), std::to_string(ceph.s3Port()),
                                   (dir_ / "requests.log").string()};
  if (!dropAnswerTo.empty()) argv.insert(argv.end(), {"--drop-answer", dropAnswerTo});
  if (!holdFirst.empty())
    argv.insert(argv.end(), {"--hold", holdFirst, std::to_string(holdSeconds)});
  process_ =
      std::make_unique<Process>(argv, std::map<std::string, std::string>{}, dir_ / "relay.out");
  if (!waitForPort(port_))
    throw std::runtime_error("the S3 relay did not start: " + process_->log());
}

S3Relay::~S3Relay() { process_->stop(); }

std::string S3Relay::storageYaml(const std::string& bucket) const {
  std::string yaml = ceph_.storageYaml(bucket);
  std::string direct = ceph_.s3Endpoint();
  yaml.replace(yaml.find(direct), direct.size(), endpoint());
  return yaml;
}

std::vector<std::string> S3Relay::requests() const {
  std::vector<std::string> lines;
  if (!std::filesystem::exists(dir_ / "requests.log")) return lines;
  std::istringstream in(readFile(dir_ / "requests.log"));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace regfs::testing
