#!/usr/bin/env bash
# Sets up and runs every test: unit and integration tests on the Release build, the unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and each fuzz target
# briefly over its seed corpus (scripts/fuzz.sh SECONDS runs them longer). ctest prints each
# test that ran; the script exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --build-dir build
scripts/setup.sh --build-dir build-asan --sanitize

echo "== Release: unit tests"
ctest --test-dir build --output-on-failure --timeout 300 -j"$(nproc)" -L unit
echo "== Release: integration tests (real clients, servers and mounts)"
ctest --test-dir build --output-on-failure --timeout 900 -L integration
echo "== ASan+UBSan: unit tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure --timeout 300 -j"$(nproc)" -L unit
echo "== Fuzz targets, briefly (clang, ASan+UBSan)"
scripts/fuzz.sh 5
