#pragma once
// What the connection layer tells the rest of the server about each request: a gate
// before dispatch (a failing health check answers 503) and one call per finished
// exchange (metrics, access log, notifications), once the last byte of the response is
// out. Implemented by api/ops/operations.h.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "api/http/http.h"
#include "api/http/response.h"

namespace regfs::api {

struct Exchange {
  const Request& request;
  const Response& response;  // as sent (headers complete; body may be a file)
  std::string_view remote;
  uint64_t bytesIn = 0;   // request body bytes read
  uint64_t bytesOut = 0;  // response body bytes sent (a file body: when it ended or was cut)
  std::chrono::nanoseconds duration{0};
};

class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  // An answer that replaces dispatch, or nullopt to go on.
  virtual std::optional<Response> admit(const Request& request) = 0;
  virtual void completed(const Exchange& exchange) = 0;
};

}  // namespace regfs::api
