#!/usr/bin/env bash
# The house style, checked: every C++ source formatted by clang-format 14 with .clang-format
# (the version is pinned: another one formats differently), and the product code clean of
# the bug-finding checks in .clang-tidy. clang-tidy reads each source's compile command from
# BUILD_DIR's compile_commands.json, or, when BUILD_DIR is a unity build (whose commands
# name only the batch files), from BUILD_DIR-tidy, configured here file by file (seconds:
# nothing is built).
#   scripts/check-style.sh [BUILD_DIR]     (default: build)
# To format: git ls-files '*.cc' '*.h' | xargs clang-format-14 -i
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

echo "check-style: clang-format"
git ls-files '*.cc' '*.h' | xargs clang-format-14 --dry-run -Werror

commands_dir=$build_dir
if grep -q "^CMAKE_UNITY_BUILD:BOOL=ON$" "$build_dir/CMakeCache.txt"; then
  commands_dir=$build_dir-tidy
  cmake -S . -B "$commands_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DREGFS_BUILD_TESTS=OFF \
    -DCMAKE_UNITY_BUILD:BOOL=OFF >/dev/null
fi

echo "check-style: clang-tidy (.clang-tidy) on common/, api/, fs/ and tools/"
# -Wno-restrict in the compile commands is GCC's; clang does not know it.
git ls-files 'common/*.cc' 'api/*.cc' 'fs/*.cc' 'tools/*.cc' |
  xargs -P"$(nproc)" -n4 clang-tidy-14 -p "$commands_dir" --quiet --extra-arg=-Wno-unknown-warning-option
echo "check-style: clean"
