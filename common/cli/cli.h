#pragma once
// Shared command-line conventions of the three programs: --version text and the
// one-line error on bad arguments (exit status 2).

#include <CLI/CLI.hpp>

#include <string>

namespace regfs {

// Adds --version to `app`, printing "<program> <version>".
void addVersionFlag(CLI::App& app, const std::string& program);

// Parses argv; on a parse error prints one line to stderr and returns 2; on --help
// prints the help and returns 0; otherwise returns -1 and the caller goes on.
int parseCommandLine(CLI::App& app, int argc, char** argv);

}  // namespace regfs
