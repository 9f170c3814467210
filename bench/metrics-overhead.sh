#!/usr/bin/env bash
# What request metrics cost: wrk on a manifest GET by tag against two regfs-servers on one
# store, one without http.debug.addr (requests are not counted) and one with it (every
# request is counted in the Prometheus histograms), in alternating rounds (A B, then B A),
# printing every round and the medians.
#   bench/metrics-overhead.sh [--bin DIR] [--rounds N] [--seconds S] [--connections C]
# DIR holds regfs-server (default build/bin). Needs wrk and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=build/bin
rounds=6
seconds=10
connections=32
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "metrics-overhead.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
server="$bin/regfs-server"
[ -x "$server" ] || { echo "metrics-overhead.sh: no $server (build first)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "metrics-overhead.sh: nothing listens on port $1" >&2
  exit 1
}

port_plain=$(free_port)
port_metrics=$(free_port)
port_debug=$(free_port)
common=(REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$work/store" REGISTRY_LOG_LEVEL=error
        REGISTRY_LOG_ACCESSLOG_DISABLED=true)
env "${common[@]}" REGISTRY_HTTP_ADDR="127.0.0.1:$port_plain" "$server" >"$work/plain.log" 2>&1 &
pids+=($!)
env "${common[@]}" REGISTRY_HTTP_ADDR="127.0.0.1:$port_metrics" \
  REGISTRY_HTTP_DEBUG_ADDR="127.0.0.1:$port_debug" "$server" >"$work/metrics.log" 2>&1 &
pids+=($!)
wait_port "$port_plain"
wait_port "$port_metrics"

# One small image, pushed through the first server (both serve the same store).
base="http://127.0.0.1:$port_plain/v2/bench/app"
push_blob() {
  local file=$1 digest
  digest="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
  curl -sf -X POST --data-binary "@$file" -H "Content-Type: application/octet-stream" \
    "$base/blobs/uploads/?digest=$digest" >/dev/null
  echo "$digest"
}
printf '{"architecture":"amd64","os":"linux"}' >"$work/config.json"
head -c 4096 /dev/urandom >"$work/layer"
config=$(push_blob "$work/config.json")
layer=$(push_blob "$work/layer")
cat >"$work/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config","size":$(stat -c %s "$work/config.json")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$layer","size":4096}]}
EOF
curl -sf -X PUT --data-binary "@$work/manifest.json" \
  -H "Content-Type: application/vnd.oci.image.manifest.v1+json" "$base/manifests/latest" >/dev/null

accept="Accept: application/vnd.oci.image.manifest.v1+json"
measure() {  # port -> requests per second; every answer must be a 200
  local out
  out=$(wrk -t1 -c"$connections" -d"${seconds}s" -H "$accept" "http://127.0.0.1:$1/v2/bench/app/manifests/latest")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "metrics-overhead.sh: error answers from port $1:" >&2
    echo "$out" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

plain=()
counted=()
echo "round  without-debug-addr  with-debug-addr  (req/s, manifest GET by tag, wrk -t1 -c$connections, ${seconds}s)"
for r in $(seq "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then
    a=$(measure "$port_plain"); b=$(measure "$port_metrics")
  else
    b=$(measure "$port_metrics"); a=$(measure "$port_plain")
  fi
  plain+=("$a"); counted+=("$b")
  printf '%5d  %18s  %15s\n' "$r" "$a" "$b"
done
mp=$(printf '%s\n' "${plain[@]}" | median)
mc=$(printf '%s\n' "${counted[@]}" | median)
awk -v p="$mp" -v c="$mc" 'BEGIN {printf "median %18s  %15s  ratio with/without %.3f\n", p, c, c / p}'
requests=$(curl -s "http://127.0.0.1:$port_debug/metrics" |
  awk '/^registry_http_requests_total\{.*handler="manifest"/ {s += $2} END {print s + 0}')
echo "manifest requests counted by the server with the debug listener: $requests"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
