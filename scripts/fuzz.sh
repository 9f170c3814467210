#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs each one in turn for
# SECONDS_PER_TARGET (default 30) over its seed corpus in tests/fuzz/corpus/. Exits non-zero if any
# target crashes or breaks an invariant; the input that did it is saved in build-fuzz/fuzz-artifacts/
# (replay it with build-fuzz/bin/NAME_fuzz FILE, then add it to tests/common/ as a regression).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS_PER_TARGET must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac
build_dir=build-fuzz

# The build dependencies, plus clang and its fuzzer runtime.
scripts/setup.sh --no-build --with clang --with libclang-rt-dev

if [ ! -f "$build_dir/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DREGFS_FUZZ=ON -DCMAKE_UNITY_BUILD=ON >/dev/null
fi
cmake --build "$build_dir" --target regfs-fuzz -j"$(nproc)"

artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"
# The targets run side by side, one per core (each is one thread); each one's exit status
# lands beside its log.
names=()
for source in tests/fuzz/*_fuzz.cc; do
  target=$(basename "$source" .cc)
  name=${target%_fuzz}
  found="$build_dir/tests/fuzz/corpus/$name"
  mkdir -p "$found"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/$name-")
  [ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
  log="$build_dir/fuzz-$name.log"
  rm -f "$log.status"
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do sleep 0.2; done
  ( status=0
    "$build_dir/bin/$target" "${args[@]}" "$found" "tests/fuzz/corpus/$name" >"$log" 2>&1 ||
      status=$?
    echo "$status" >"$log.status" ) &
  names+=("$name")
done
wait
failed=()
for name in "${names[@]}"; do
  log="$build_dir/fuzz-$name.log"
  echo "== ${name}_fuzz: ${seconds}s"
  if [ "$(cat "$log.status" 2>/dev/null)" = 0 ]; then
    grep -E '^stat::number_of_executed_units|^Done' "$log" || true
  else
    tail -n 40 "$log"
    failed+=("${name}_fuzz")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $artifacts/)" >&2
  exit 1
fi
echo "fuzz: every target ran ${seconds}s without a crash"
