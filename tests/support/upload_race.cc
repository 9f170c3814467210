#include "support/upload_race.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "support/http_client.h"

namespace regfs::testing {
namespace {

constexpr size_t kPiece = 16 * 1024;

// A request whose body its caller sends a piece at a time; it stops sending once the
// server has answered (a refused request is answered before its body is read).
class SlowRequest {
 public:
  SlowRequest(int port, const std::string& method, const std::string& target, std::string body,
              const std::vector<std::string>& headers)
      : body_(std::move(body)) {
    fd_ = connectLoopback(port);
    if (fd_ < 0) {
      stopped_ = true;
      return;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Only against a server that hangs: the test then fails instead of waiting forever.
    timeval timeout{120, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (!sendAll(requestHead(method, target, body_.size(), headers))) stopped_ = true;
  }
  ~SlowRequest() {
    if (fd_ >= 0) ::close(fd_);
  }
  SlowRequest(const SlowRequest&) = delete;
  SlowRequest& operator=(const SlowRequest&) = delete;

  // Sends the next piece of the body unless the server has answered already.
  void step() {
    if (!sending()) return;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      stopped_ = true;
      return;
    }
    size_t n = std::min(kPiece, body_.size() - sent_);
    if (!sendAll(std::string_view(body_).substr(sent_, n))) stopped_ = true;
    sent_ += n;
  }
  bool sending() const { return fd_ >= 0 && !stopped_ && sent_ < body_.size(); }

  // The answer (status 0 when there was none).
  Reply reply() {
    std::string in;
    char buf[65536];
    size_t end = std::string::npos;
    size_t length = 0;
    while (true) {
      if (end == std::string::npos) {
        end = in.find("\r\n\r\n");
        if (end != std::string::npos) {
          Reply head = parseReply(in.substr(0, end + 4));
          if (head.has("content-length")) length = std::stoull(head.header("content-length"));
        }
      }
      if (end != std::string::npos && in.size() >= end + 4 + length) break;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    if (end == std::string::npos) return Reply{};
    return parseReply(in.substr(0, end + 4 + length));
  }

 private:
  bool sendAll(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  int fd_ = -1;
  std::string body_;
  size_t sent_ = 0;
  bool stopped_ = false;
};

struct Racer {
  std::string method;
  std::string body;
  Reply reply;
};

std::string statusOf(const Racer& r) {
  return r.method + " " + std::to_string(r.reply.status) + " " + r.reply.body.substr(0, 300);
}

}  // namespace

std::string describe(UploadRace race) {
  switch (race) {
    case UploadRace::kTwoPuts:
      return "two PUTs";
    case UploadRace::kTwoPatches:
      return "two PATCHes";
    case UploadRace::kPutDuringPatch:
      return "a PUT during a PATCH";
  }
  return "?";
}

UploadRaceResult raceOnUpload(UploadRace race, int portA, int portB, const std::string& repo,
                              size_t size, uint64_t seed, const std::string& forbidden) {
  UploadRaceResult result;
  auto problem = [&](const std::string& what) {
    result.problems.push_back(describe(race) + ": " + what);
  };
  HttpConnection control(portA, std::chrono::seconds(120));
  auto started = control.request("POST", "/v2/" + repo + "/blobs/uploads/");
  if (!started || started->status != 202) {
    problem("cannot start a session");
    return result;
  }
  std::string location = started->header("location");

  Racer racers[2];
  racers[0].body = randomBytes(size, seed);
  racers[1].body = randomBytes(size, seed + 0x5eed);
  racers[0].method = race == UploadRace::kTwoPuts ? "PUT" : "PATCH";
  racers[1].method = race == UploadRace::kTwoPatches ? "PATCH" : "PUT";
  auto open = [&](int i) {
    const Racer& r = racers[i];
    std::vector<std::string> headers = {"Content-Type: application/octet-stream"};
    std::string target = location;
    if (r.method == "PATCH") {
      headers.push_back("Content-Range: 0-" + std::to_string(size - 1));
    } else {
      target += (location.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") +
                digestOf(r.body);
    }
    return std::make_unique<SlowRequest>(i == 0 ? portA : portB, r.method, target, r.body, headers);
  };

  // Both bodies go out interleaved, a piece of each in turn, so that each request is in
  // flight while the other is; a PUT during a PATCH starts a third of the way in.
  std::unique_ptr<SlowRequest> first = open(0);
  if (race == UploadRace::kPutDuringPatch) {
    for (size_t sent = 0; sent < size / 3; sent += kPiece) first->step();
  }
  std::unique_ptr<SlowRequest> second = open(1);
  while (first->sending() || second->sending()) {
    first->step();
    second->step();
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  racers[0].reply = first->reply();
  racers[1].reply = second->reply();

  const Racer* winner = nullptr;
  for (const Racer& r : racers) {
    int status = r.reply.status;
    if (!forbidden.empty() && r.reply.body.find(forbidden) != std::string::npos) {
      problem("the answer names a server path: " + statusOf(r));
    }
    if (status == 201 || status == 202) {
      result.accepted++;
      winner = &r;
      if (status != (r.method == "PUT" ? 201 : 202)) problem("unexpected answer " + statusOf(r));
    } else if (!(status == 416 || (status == 404 && r.reply.code() == "BLOB_UPLOAD_UNKNOWN"))) {
      problem("the request that lost got " + statusOf(r) +
              " (expected 416, or 404 once the session is gone)");
    }
  }
  if (result.accepted > 1)
    problem("both were accepted: " + statusOf(racers[0]) + " / " + statusOf(racers[1]));
  if (result.accepted == 0)
    problem("neither was accepted: " + statusOf(racers[0]) + " / " + statusOf(racers[1]));

  // What was accepted is exactly what the store holds.
  for (const Racer& r : racers) {
    if (r.reply.status == 202) {
      if (r.reply.header("range") != "0-" + std::to_string(size - 1)) {
        problem("a PATCH of " + std::to_string(size) + " bytes answered Range " +
                r.reply.header("range"));
      }
      std::string sep = location.find('?') == std::string::npos ? "?" : "&";
      auto commit = control.request("PUT", location + sep + "digest=" + digestOf(r.body), {},
                                    {"Content-Type: application/octet-stream"});
      if (!commit || commit->status != 201) {
        problem("the session does not hold what its accepted PATCH sent: the commit got " +
                (commit ? std::to_string(commit->status) + " " + commit->body
                        : std::string("no answer")));
      }
    }
  }
  for (const Racer& r : racers) {
    auto blob = control.request("GET", "/v2/" + repo + "/blobs/" + digestOf(r.body));
    if (!blob) {
      problem("no answer to a blob GET");
      continue;
    }
    bool committed = &r == winner;
    if (committed && (blob->status != 200 || blob->body != r.body)) {
      problem("the blob " + digestOf(r.body) + " answered for serves " +
              std::to_string(blob->status) + " with " + std::to_string(blob->body.size()) +
              " bytes that are not its digest's");
    }
    if (!committed && blob->status != 404) {
      problem("the refused request's bytes were stored (" + std::to_string(blob->status) + ")");
    }
  }
  return result;
}

}  // namespace regfs::testing
