#pragma once
// Invariant checks shared by the fuzz targets. A broken invariant prints what broke and aborts,
// which libFuzzer reports as a crash and saves the input for. Targets check what the contract
// in common/*.h promises, not only that nothing crashes.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/error.h"

namespace regfs::fuzz {

// Error messages reach the error JSON and the logs; echoing megabytes of input is a bug.
inline constexpr size_t kMaxErrorMessage = 2048;

[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "\n== fuzz invariant broken: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

// Checks `condition`; builds `message` only when it fails, so passing checks cost nothing.
#define FUZZ_CHECK(condition, message)              \
  do {                                              \
    if (!(condition)) ::regfs::fuzz::fail(message); \
  } while (0)

// A printable excerpt of `s` for failure messages.
inline std::string show(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 200)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  out += s.size() > 200 ? "\"..." : "\"";
  return out;
}

// Runs `fn`. Returns true when it returns normally and false when it throws a regfs::Error of
// one of the `allowed` kinds with a non-empty, bounded message. Anything else thrown — another
// kind, another exception type — breaks the contract "one error type from common/".
// With `apiFacing`, the kind must also have an OCI error code the API can answer with.
template <class Fn>
bool throwsOnly(std::string_view what, std::initializer_list<ErrorKind> allowed, bool apiFacing,
                Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const Error& e) {
    bool known = false;
    for (ErrorKind k : allowed) known = known || k == e.kind();
    std::string message = e.what();
    FUZZ_CHECK(known, std::string(what) + " threw an Error of an unexpected kind (" +
                          std::string(errorCode(e.kind())) + "): " + message);
    FUZZ_CHECK(!apiFacing || errorCode(e.kind()) != "UNKNOWN",
               std::string(what) + " threw an Error the API cannot map: " + message);
    FUZZ_CHECK(!message.empty(), std::string(what) + " threw an Error without a message");
    FUZZ_CHECK(message.size() <= kMaxErrorMessage, std::string(what) + " threw an Error with a " +
                                                       std::to_string(message.size()) +
                                                       "-byte message: " + show(message));
    return false;
  } catch (const std::exception& e) {
    fail(std::string(what) + " let a non-regfs exception escape: " + e.what());
  } catch (...) {
    fail(std::string(what) + " let a non-exception object escape");
  }
}

}  // namespace regfs::fuzz
