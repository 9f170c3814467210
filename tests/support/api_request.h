#pragma once
// Test support: a request as regfs-server's own parser makes it from a request line and
// headers, for tests that hand requests to the registry without a connection, and handing
// one to the registry's dispatch.

#include <stdexcept>
#include <string>
#include <vector>

#include "api/http/http.h"
#include "api/registry/dispatch.h"

namespace regfs::testing {

// "METHOD TARGET HTTP/1.1" with `headers` ("Name: value"), parsed by RequestHeadParser;
// throws when the parser refuses it.
inline api::Request parsedRequest(const std::string& method, const std::string& target,
                                  const std::vector<std::string>& headers = {}) {
  std::string head = method + " " + target + " HTTP/1.1\r\n";
  for (const std::string& h : headers) head += h + "\r\n";
  head += "\r\n";
  api::RequestHeadParser parser;
  parser.feed(head);
  if (parser.state() != api::RequestHeadParser::State::kDone) {
    throw std::invalid_argument("not a request head: " + head + ": " + parser.error());
  }
  return parser.take();
}

// `method` `target` with a Host header, as a client sends it.
inline api::Request hostRequest(const std::string& method, const std::string& target) {
  return parsedRequest(method, target, {"Host: registry.example"});
}

// Dispatches `req`, feeding `body` to the sink when the handler reads one. Errors the
// handlers throw reach the caller.
inline api::Response dispatchWithBody(api::Registry& registry, api::Request req,
                                      const std::string& body = "") {
  if (!body.empty()) req.contentLength = body.size();
  api::Dispatch d = api::dispatch(registry, req);
  if (d.response) return std::move(*d.response);
  d.sink->write(body);
  return d.sink->finish();
}

}  // namespace regfs::testing
