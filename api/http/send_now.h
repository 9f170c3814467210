#pragma once
// Writing to a non-blocking socket without waiting for it.

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <optional>
#include <string_view>

namespace regfs::api {

// Sends as much of `data` as the socket takes now (no SIGPIPE): the number of bytes sent,
// fewer than all when the socket is full; nullopt when the connection failed (errno says
// why; 0 when the peer is gone).
inline std::optional<size_t> sendNow(int fd, std::string_view data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      if (n == 0) errno = 0;
      return std::nullopt;
    }
  }
  return sent;
}

}  // namespace regfs::api
