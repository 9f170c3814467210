#!/usr/bin/env bash
# Installs the Debian packages regfs and its tests need (only those missing; quiet when
# nothing is), then configures and builds. Idempotent.
#   scripts/setup.sh [--build-dir DIR] [--runtime] [--sanitize | --tsan] [--target TARGET]...
#                    [--no-build] [--no-unity] [--with PACKAGE]... [--list]
# --runtime: only what building and running the three programs needs (no test clients, no
# Ceph, no second Docker), and the build without the tests. --list: print the packages it
# would make sure of, one per line, and stop.
# Builds are unity builds (each batch of sources in one compiler run): on two cores the
# Release build takes 4 minutes instead of 6, the ASan build under 5 instead of 8.
# --no-unity: file by file, for a build dir rebuilt often after small changes.
# --sanitize: ASan+UBSan build with clang (it compiles the sanitizers' instrumentation in two
# thirds of GCC's time, and its UBSan checks more); --tsan: ThreadSanitizer build (both
# RelWithDebInfo, each in a build dir of its own); --target: build only these targets
# (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
runtime=0
sanitize=OFF
tsan=OFF
build_type=Release
unity=ON
targets=()
compiler=()
do_build=1
list=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --runtime) runtime=1; shift ;;
    --sanitize) sanitize=ON; build_type=RelWithDebInfo; compiler=(CC=clang CXX=clang++)
                extra+=(clang libclang-rt-dev); shift ;;
    --tsan) tsan=ON; build_type=RelWithDebInfo; shift ;;
    --no-unity) unity=OFF; shift ;;
    --target) targets+=(--target "$2"); shift 2 ;;
    --no-build) do_build=0; shift ;;
    --list) list=1; shift ;;
    --with) extra+=("$2"); shift 2 ;;
    *) echo "setup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

packages=(
  # build and run
  build-essential cmake ninja-build pkg-config
  libpistache-dev libfuse3-dev fuse3 libssl-dev rapidjson-dev libyaml-cpp-dev
  libcrypt-dev libspdlog-dev libcli11-dev libcurl4-openssl-dev libpugixml-dev ca-certificates curl
  zlib1g-dev libzstd-dev libisal-dev
)
tests=ON
if [ "$runtime" -eq 1 ]; then
  tests=OFF
else
  packages+=(
    libgtest-dev libgmock-dev
    # style: the formatter is pinned (scripts/check-style.sh)
    clang-format-14 clang-tidy-14
    # tests: real clients and the reference registry
    docker.io skopeo podman docker-registry apache2-utils curl rsync wrk nginx-light
    busybox-static openssl ca-certificates
    # tests: what established unpackers make of a layer (images as files), and the bench's
    umoci archivemount zstd buildah attr
    # tests: operations (metrics format, unit files)
    prometheus systemd
    # tests: single-node Ceph (radosgw for S3, CephFS through ceph-fuse)
    ceph-mon ceph-osd radosgw ceph-common ceph-mds ceph-fuse
    # tests: the web UI in headless Chromium, driven by playwright-core from npm (tests/browser)
    chromium nodejs
  )
  # npm ships inside other builds of nodejs; Debian's is a package of its own.
  command -v npm >/dev/null || packages+=(npm)
fi

packages+=("${extra[@]}")
if [ "$list" -eq 1 ]; then
  printf '%s\n' "${packages[@]}" | sort -u
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  # Debian's packaging starts services on install; nothing here needs them running.
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The browser tests' one npm package, at the version package-lock.json pins.
if [ "$tests" = ON ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

[ "$do_build" -eq 1 ] || exit 0
if [ ${#compiler[@]} -gt 0 ] && [ -f "$build_dir/CMakeCache.txt" ] &&
   ! grep -q "^CMAKE_CXX_COMPILER:.*clang++" "$build_dir/CMakeCache.txt"; then
  echo "setup: $build_dir was configured with another compiler; configuring it afresh"
  rm -rf "$build_dir"
fi
# Configured afresh, or again when the tests are to be built now and were not (or the other
# way), or the unity setting changed.
if [ ! -f "$build_dir/build.ninja" ] ||
   ! grep -q "^REGFS_BUILD_TESTS:BOOL=$tests\$" "$build_dir/CMakeCache.txt" ||
   ! grep -q "^CMAKE_UNITY_BUILD:BOOL=$unity\$" "$build_dir/CMakeCache.txt"; then
  env "${compiler[@]}" cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
    -DREGFS_SANITIZE="$sanitize" -DREGFS_TSAN="$tsan" -DREGFS_BUILD_TESTS="$tests" \
    -DCMAKE_UNITY_BUILD:BOOL="$unity" >/dev/null
fi
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
