#include "api/net/debug_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "api/registry/options.h"
#include "api/registry/settings.h"
#include "common/error.h"
#include "common/handles.h"
#include "common/worker.h"

namespace regfs::api {

DebugServer::DebugServer(const std::string& addr, std::map<std::string, Route> routes)
    : routes_(std::move(routes)) {
  ServerOptions where;
  parseAddr(addr, where);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(where.port);
  const char* host = where.host == "0.0.0.0" ? nullptr : where.host.c_str();
  if (int rc = ::getaddrinfo(host, port.c_str(), &hints, &res); rc != 0) {
    throw Error(ErrorKind::kConfigInvalid, "http.debug.addr " + addr + ": " + gai_strerror(rc));
  }
  CPtr<addrinfo, ::freeaddrinfo> addresses(res);
  std::string error = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) continue;
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd.get(), 64) == 0) {
      listen_ = std::move(fd);
      break;
    }
    error = std::strerror(errno);
  }
  if (!listen_) throw Error(ErrorKind::kConfigInvalid, "http.debug.addr " + addr + ": " + error);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throwErrno("pipe", "for the debug listener", errno);
  stopRead_.reset(pipefd[0]);
  stopWrite_.reset(pipefd[1]);
  thread_ = namedThread("debug-listener", [this] { run(); });
}

DebugServer::~DebugServer() {
  char c = 0;
  (void)!::write(stopWrite_.get(), &c, 1);
  if (thread_.joinable()) thread_.join();
}

void DebugServer::run() {
  while (true) {
    pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {stopRead_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN)) return;
    if (fds[0].revents & POLLIN) {
      UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn) serve(conn.get());
    }
  }
}

void DebugServer::serve(int fd) {
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  RequestHeadParser parser;
  char buf[4096];
  while (parser.state() == RequestHeadParser::State::kIncomplete) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    parser.feed(std::string_view(buf, static_cast<size_t>(n)));
  }
  Response r(400);
  if (parser.state() == RequestHeadParser::State::kDone) {
    Request request = parser.take();
    auto it = routes_.find(request.path);
    if (it == routes_.end()) {
      r = Response(404);
      r.body = "404 page not found\n";
      r.set("Content-Type", "text/plain; charset=utf-8");
    } else if (request.method != "GET" && request.method != "HEAD") {
      r = Response(405);
      r.set("Allow", "GET, HEAD");
    } else {
      try {
        r = it->second(request);
      } catch (const std::exception& e) {
        spdlog::error("debug server: {}: {}", request.path, e.what());
        r = Response(500);
      }
    }
    if (request.method == "HEAD") {
      r.set("Content-Length", std::to_string(r.body.size()));
      r.body.clear();
    }
  }
  if (!r.header("Content-Length")) r.set("Content-Length", std::to_string(r.body.size()));
  r.set("Connection", "close");
  std::string out = serializeHead(r.status, r.headers) + r.body;
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
}

}  // namespace regfs::api
