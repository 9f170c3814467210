#!/usr/bin/env bash
# Sets up and runs every test: unit and integration tests on the Release build, then under
# AddressSanitizer + UndefinedBehaviorSanitizer (clang) the unit tests and the integration tests that
# drive regfs-server and regfs-mount the most (servers and mounts built with the sanitizers
# too), and each fuzz target briefly over its seed corpus (scripts/fuzz.sh SECONDS runs them
# longer). ctest prints each test that ran; the script exits non-zero on any failure.
#   scripts/test.sh [--long]
# --long (on demand, not in CI: it doubles the time) adds every integration test under the
# sanitizers, crash safety included, and the concurrency and hostile-input tests against a
# regfs-server built with ThreadSanitizer (build-tsan/).
set -euo pipefail
cd "$(dirname "$0")/.."

long=0
case "${1:-}" in
  --long) long=1 ;;
  "") ;;
  *) echo "test.sh: unknown argument $1 (only --long)" >&2; exit 2 ;;
esac

# Each section's wall time, printed at the end (also when a section fails): where the suite's
# time goes on the CI machine.
timings=()
current=""
current_start=$SECONDS
section() {
  [ -z "$current" ] || timings+=("$(printf '%5ds  %s' $((SECONDS - current_start)) "$current")")
  current=$1
  current_start=$SECONDS
  [ -z "$current" ] || echo "== $current"
}
report_timings() {
  section ""
  echo "== Time per section (total ${SECONDS}s)"
  printf '%s\n' "${timings[@]}"
}
trap report_timings EXIT

section "Rooms: includes and CMake links point one way"
scripts/check-deps.sh
section "Release build"
scripts/setup.sh --build-dir build
# The S3 tests spend most of their two minutes waiting on Ceph (0.6 of a core on average):
# they run beside the style check and the ASan build, which run at a lower priority so the
# tests see the machine as if alone. Their output follows the ASan build.
s3_log=$(mktemp)
ctest --test-dir build --output-on-failure --timeout 900 -R "^s3_tests$" >"$s3_log" 2>&1 &
s3_pid=$!
s3_start=$SECONDS
trap 'kill "$s3_pid" 2>/dev/null || true; report_timings' EXIT
section "Style: clang-format and clang-tidy"
nice -n 10 scripts/check-style.sh build
# Only what runs under the sanitizers below: the unit test executables and the programs the
# tests start. The integration tests are clients in other processes: the Release build's run
# against these programs (REGFS_PROGRAMS_DIR). s3_tests is Release-only.
asan_targets=()
for target in api_tests common_tests fs_tests tools_tests \
              regfs-server regfs-mount regfsctl regfs-faultfs; do
  asan_targets+=(--target "$target")
done
section "ASan+UBSan build"
nice -n 10 scripts/setup.sh --build-dir build-asan --sanitize "${asan_targets[@]}"
section "Release: S3 tests (Ceph), run beside the two sections above"
s3_status=0
wait "$s3_pid" || s3_status=$?
cat "$s3_log"
rm -f "$s3_log"
echo "S3 tests: $((SECONDS - s3_start)) s from their start"
[ "$s3_status" -eq 0 ] || { echo "S3 tests failed" >&2; exit 1; }

sanitizers=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
section "Release: unit tests"
ctest --test-dir build --output-on-failure --timeout 300 -j"$(nproc)" -L unit
section "Release: integration tests (real clients, servers and mounts)"
ctest --test-dir build --output-on-failure --timeout 900 -L integration -E "^s3_tests$"
section "ASan+UBSan: unit tests"
env "${sanitizers[@]}" ctest --test-dir build-asan --output-on-failure --timeout 300 -j"$(nproc)" -L unit
# Tests fail on any sanitizer report in a server's or a mount's log (tests/support).
asan_integration='IoErrorTest|DiskFull|ViewGoldenTree|ViewLiveUpdate|ViewRead|ViewRootfs|ViewPrefetch|ViewRsyncBackupRestore|RegistryClients|FsckRepair|GcWhilePushingTest.ThroughRegfsServer|Mirror|RepositoryDeleteWhilePushing|Lifecycle|WebUiBrowser'
if [ "$long" -eq 1 ]; then asan_integration='.'; fi
section "ASan+UBSan: integration tests ($asan_integration)"
env "${sanitizers[@]}" REGFS_PROGRAMS_DIR="$PWD/build-asan/bin" \
  ctest --test-dir build --output-on-failure --timeout 1800 -L integration -R "$asan_integration" \
  -E "^s3_tests$"
if [ "$long" -eq 1 ]; then
  # Only regfs-server is built with ThreadSanitizer: the tests are clients in other processes.
  scripts/setup.sh --build-dir build-tsan --tsan --target regfs-server
  # The API tests (concurrency, hostile input, drain, ...) drive it; a ThreadSanitizer report
  # in its log fails the test (tests/support). The resident-memory bound is Release-only.
  section "TSan: the API tests against a ThreadSanitizer regfs-server"
  TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp" REGFS_BIN_DIR="$PWD/build-tsan/bin" \
    build/bin/api_tests --gtest_filter='-ServerTest.LargeUploadsStreamAndAbortedDownloadsLeakNothing'
fi
section "Fuzz targets, briefly (clang, ASan+UBSan)"
scripts/fuzz.sh 5
