#pragma once
// Test support: the kind of regfs::Error a call throws.

#include <gtest/gtest.h>

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

}  // namespace regfs::testing
