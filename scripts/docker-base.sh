#!/usr/bin/env bash
# Makes the base image of Dockerfile from a local build, without pulling anything: a root
# file system holding regfs-server, the shared libraries it links (from ldd), the system
# CA bundle and the files a container expects, imported with `docker import`.
#   scripts/docker-base.sh [BUILD_DIR] [IMAGE]      (defaults: build, regfs-base:latest)
# DOCKER (default "docker") may carry options, e.g. DOCKER="docker -H unix:///…".
set -euo pipefail
build_dir=${1:-build}
image=${2:-regfs-base:latest}
docker=${DOCKER:-docker}
binary="$build_dir/bin/regfs-server"
[ -x "$binary" ] || { echo "docker-base.sh: no $binary (build first)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/local/bin" "$root/etc/docker/registry" "$root/var/lib/registry" "$root/tmp"
cp "$binary" "$root/usr/local/bin/"
for lib in $(ldd "$binary" | awk '/=>/ {print $3} /^\t\// {print $1}'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# The system CAs, for https:// notification endpoints and S3 storage (libcurl's default
# bundle path).
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$root/etc/ssl/certs"
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
echo "root:x:0:0:root:/root:/sbin/nologin" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
echo "hosts: files dns" > "$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"
tar -C "$root" -c . | $docker import - "$image" >/dev/null
echo "$image"
