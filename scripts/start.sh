#!/usr/bin/env bash
# Sets up regfs and runs it: the registry on :5000 over a local store, with the read-only
# view of that store mounted. Ctrl-C (or SIGTERM) stops both and unmounts.
# Defaults (override with environment variables):
#   REGFS_HOME=./var   store in $REGFS_HOME/registry, view at $REGFS_HOME/view,
#                      config at $REGFS_HOME/config.yml (written on first start)
# Every REGISTRY_* variable overrides the config as in distribution (REGISTRY_HTTP_ADDR=...).
set -euo pipefail
cd "$(dirname "$0")/.."

# What running needs, no more: the test stack (clients, Ceph, a second Docker) is test.sh's.
scripts/setup.sh --build-dir build --runtime --target regfs-server --target regfs-mount --target regfsctl

home=${REGFS_HOME:-$PWD/var}
mkdir -p "$home/registry" "$home/view"
home=$(cd "$home" && pwd)
config=$home/config.yml
if [ ! -f "$config" ]; then
  cat >"$config" <<YAML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $home/registry
  delete:
    enabled: true
http:
  addr: :5000
YAML
fi

# A mount left behind by a crash answers ENOTCONN; clear it before mounting again.
if ! ls "$home/view" >/dev/null 2>&1; then fusermount3 -uz "$home/view" 2>/dev/null || true; fi

build/bin/regfs-server "$config" &
server=$!
build/bin/regfs-mount "$config" "$home/view" -f &
mount=$!

stop() {
  kill -TERM "$server" 2>/dev/null || true
  kill -TERM "$mount" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  wait "$mount" 2>/dev/null || true
  fusermount3 -u "$home/view" 2>/dev/null || true
}
trap stop INT TERM EXIT

echo "regfs: registry on $(grep -m1 'addr:' "$config" | awk '{print $2}'), store $home/registry, view $home/view"
port=$(grep -m1 'addr:' "$config" | awk '{print $2}' | sed 's/.*://')
echo "regfs: try  scripts/push-example.sh 127.0.0.1:$port example/hello:1.0 && ls -l $home/view/example/hello/"
echo "regfs: or   docker tag IMAGE 127.0.0.1:$port/NAME:TAG && docker push 127.0.0.1:$port/NAME:TAG"
# Runs until either process exits or the user stops it.
wait -n "$server" "$mount"
