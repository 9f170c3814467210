#pragma once
// Test support: a request as regfs-server's own parser makes it from a request line and
// headers, for tests that hand requests to the registry without a connection.

#include <stdexcept>
#include <string>
#include <vector>

#include "api/http/http.h"

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

}  // namespace regfs::testing
