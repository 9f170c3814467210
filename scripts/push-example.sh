#!/usr/bin/env bash
# Pushes a small image that this script makes (one layer holding /hello.txt and
# /etc/os-release), with curl and
# the coreutils only, so a fresh machine has something to push:
#   scripts/push-example.sh [REGISTRY] [NAME:TAG]     (default 127.0.0.1:5000 example/hello:1.0)
# REGISTRY is host:port, spoken to over plain HTTP (as scripts/start.sh serves it); set
# REGFS_EXAMPLE_URL=https://host:port to use another scheme. The same content always makes the
# same digests.
set -euo pipefail

registry=${1:-127.0.0.1:5000}
reference=${2:-example/hello:1.0}
url=${REGFS_EXAMPLE_URL:-http://$registry}
name=${reference%:*}
tag=${reference##*:}
if [ "$name" = "$reference" ] || [ -z "$tag" ]; then
  echo "push-example.sh: NAME:TAG expected, not '$reference'" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/etc"
printf 'hello from regfs\n' >"$work/rootfs/hello.txt"
printf 'NAME="regfs example"\nID=regfs-example\nVERSION_ID=1.0\n' >"$work/rootfs/etc/os-release"
chmod 0755 "$work/rootfs/etc"
chmod 0644 "$work/rootfs/hello.txt" "$work/rootfs/etc/os-release"
tar --create --file="$work/layer.tar" --directory="$work/rootfs" --sort=name --mtime=@0 \
  --owner=0 --group=0 --numeric-owner --no-recursion etc etc/os-release hello.txt
gzip --no-name --keep --stdout "$work/layer.tar" >"$work/layer.tar.gz"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
diff_id=$(sha "$work/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$diff_id" >"$work/config.json"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$(sha "$work/config.json")" "$(size "$work/config.json")" \
  "$(sha "$work/layer.tar.gz")" "$(size "$work/layer.tar.gz")" >"$work/manifest.json"

# A blob: POST starts the upload, PUT ?digest= sends it whole.
push_blob() {
  local file=$1 digest
  digest=sha256:$(sha "$file")
  local location
  location=$(curl --fail --silent --show-error -X POST -D - -o /dev/null "$url/v2/$name/blobs/uploads/" |
    awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
  [ -n "$location" ] || { echo "push-example.sh: no upload location from $url" >&2; exit 1; }
  case "$location" in /*) location=$url$location ;; esac
  case "$location" in *\?*) location="$location&digest=$digest" ;; *) location="$location?digest=$digest" ;; esac
  curl --fail --silent --show-error -X PUT -H "Content-Type: application/octet-stream" \
    --data-binary "@$file" "$location" -o /dev/null
}
push_blob "$work/layer.tar.gz"
push_blob "$work/config.json"
curl --fail --silent --show-error -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" \
  --data-binary "@$work/manifest.json" "$url/v2/$name/manifests/$tag" -o /dev/null
echo "pushed $name:$tag sha256:$(sha "$work/manifest.json")"
