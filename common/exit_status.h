#pragma once
// The exit statuses of regfs's command-line programs (regfsctl, regfs-mount): sysexits(3)'s
// codes by error kind, so a script can tell a bad argument (2) from missing input (66),
// malformed data (65), a configuration error (78), failed storage (74) and the rest
// (docs/tools.md has the table).

#include <exception>

#include "common/error.h"

namespace regfs {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;  // bad arguments, as the command-line parser answers them

// The exit status of a program that failed with `kind`.
int exitStatusFor(ErrorKind kind);
// exitStatusFor(its kind) for an Error; 70 (EX_SOFTWARE: a bug) for any other exception.
int exitStatusFor(const std::exception& e);

}  // namespace regfs
