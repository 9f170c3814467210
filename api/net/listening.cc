#include "api/net/listening.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/handles.h"
#include "common/unique_fd.h"

namespace regfs::api {

bool stopListening(uint16_t port) {
  CPtr<DIR, ::closedir> dir(::opendir("/proc/self/fd"));
  if (!dir) return false;
  bool found = false;
  while (dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    int fd = std::atoi(entry->d_name);
    if (fd == ::dirfd(dir.get())) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage ss{};
    socklen_t sslen = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sslen) != 0) continue;
    uint16_t p = 0;
    if (ss.ss_family == AF_INET) p = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) p = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    if (p != port) continue;
    // Put an unbound socket in its place: the listening socket closes (its last
    // descriptor is gone, so epoll forgets it too) and the number stays owned.
    UniqueFd dummy(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!dummy) continue;
    ::dup2(dummy.get(), fd);
    found = true;
  }
  return found;
}

}  // namespace regfs::api
