#pragma once
// Test support: the kind of regfs::Error a call throws, and its message.

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "common/error.h"

namespace regfs::testing {

// The kind of the Error `f` throws; a test failure (and kInternal) if it throws none.
template <typename F>
ErrorKind kindOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no error thrown";
  return ErrorKind::kInternal;
}

// The message of the Error of `kind` that `f` throws; a test failure if it throws another
// kind or none.
template <typename F>
std::string errorMessage(ErrorKind kind, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

// The message of the Error(kConfigInvalid) that `f` throws.
template <typename F>
std::string configError(F&& f) {
  return errorMessage(ErrorKind::kConfigInvalid, std::forward<F>(f));
}

}  // namespace regfs::testing
