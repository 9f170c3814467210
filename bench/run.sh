#!/usr/bin/env bash
# The side-by-side benchmark: regfs-server, the reference registry (Debian's docker-registry)
# and nginx on loopback, the same work against each, interleaved; prints the table and writes
# bench/results/latest.md and latest.json (a run of some sections, or --quick, writes
# latest-SECTIONS[-quick].{md,json} beside them).
#
#   bench/run.sh [--quick] [--regfs-bin DIR] [--mount-bin FILE] [--rounds N] [--seconds S]
#                [--only api,catalog,blob,upload,docker,view,contents,s3,ui-api,ui,retention,
#                        mirror]
#                [--workdir DIR]
#
# Installs what is missing (as scripts/setup.sh does) and builds regfs (Release) unless
# --regfs-bin names a directory holding regfs-server and regfs-mount. Everything runs in fresh
# temporary directories (BENCH_TMPDIR, default /var/tmp, for what must be on disk; /dev/shm for
# the generated stores) and every process it starts is stopped by PID when it ends, even on
# failure or Ctrl-C; the servers' logs of the last run are kept in bench/results/logs (not
# tracked). Docker, the cold-cache read, the view and S3 (Ceph) need root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

regfs_bin=""
pass=()
command="bench/run.sh"
while [ $# -gt 0 ]; do
  command+=" $1"
  case "$1" in
    --regfs-bin) regfs_bin=$2; command+=" DIR"; shift 2 ;;
    --mount-bin|--rounds|--seconds|--only)
      pass+=("$1" "$2")
      if [ "$1" = --mount-bin ]; then command+=" FILE"; else command+=" $2"; fi
      shift 2 ;;
    --quick) pass+=("$1"); shift ;;
    --workdir) export BENCH_TMPDIR=$2; command+=" $2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The load generators, clients and servers come from Debian, like every other tool here.
scripts/setup.sh --no-build
if ! command -v python3 >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends python3 >/dev/null
fi
if [ -z "$regfs_bin" ]; then
  scripts/setup.sh --build-dir build
  regfs_bin=$repo/build/bin
fi
regfs_bin=$(cd "$regfs_bin" && pwd)
[ -x "$regfs_bin/regfs-server" ] || { echo "run.sh: no regfs-server in $regfs_bin" >&2; exit 2; }

work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/regfs-bench.XXXXXX")
memroot=/dev/shm
[ -d "$memroot" ] && [ -w "$memroot" ] || memroot=$work
mem=$(mktemp -d "$memroot/regfs-bench.XXXXXX")
# nginx workers run as nobody: they must be able to read the stores.
chmod 755 "$work" "$mem"

# What bench.py started and left behind (it stops everything itself unless it is killed):
# mounts first, then each PID, but only while it still names the program we started.
cleanup() {
  status=$?
  trap - EXIT INT TERM
  if [ -f "$work/mounts" ]; then
    while read -r m; do
      [ -n "$m" ] && { fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true; }
    done <"$work/mounts"
  fi
  if [ -f "$work/pids" ]; then
    while read -r pid comm; do
      [ -n "$pid" ] || continue
      if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
          [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || break
          sleep 0.2
        done
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] && kill -KILL "$pid" 2>/dev/null
      fi
    done <"$work/pids"
  fi
  # The servers' logs of the last run stay (untracked) for a look at what went wrong.
  if [ -d "$work/logs" ]; then
    rm -rf "$repo/bench/results/logs"
    cp -r "$work/logs" "$repo/bench/results/logs" 2>/dev/null || true
  fi
  rm -rf "$mem" "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export PYTHONDONTWRITEBYTECODE=1
python3 bench/bench.py --workdir "$work" --memdir "$mem" --regfs-bin "$regfs_bin" \
  --command "$command" ${pass[@]+"${pass[@]}"}
