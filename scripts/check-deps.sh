#!/usr/bin/env bash
# Checks that the rooms of the code depend on each other one way only: every
# `#include "ROOM/…"` in a source file names its own room or one the table below lets
# it use. Rooms are folders; a file belongs to the deepest room that holds it.
#   scripts/check-deps.sh        exit 1 and one line per include that goes the wrong way
set -euo pipefail
cd "$(dirname "$0")/.."

# room: the rooms it may include besides itself (lowest first).
declare -A allowed=(
  [common]=""
  [common/curl]="common"
  [common/view]="common"
  [common/cli]="common"
  [common/config]="common"
  [common/storage]="common common/curl common/config"
  [common/store]="common common/config common/storage"
  [common/layers]="common common/config common/storage common/store"
  [common/maintenance]="common common/config common/storage common/store common/layers"
  [common/auth]="common common/config"
  [api/http]="common common/curl common/config"
  [api/registry]="common common/config common/storage common/store common/layers common/auth api/http"
  [api/ops]="common common/config common/storage common/store common/layers common/maintenance common/auth api/http api/registry"
  [api/net]="common common/config common/storage common/store common/layers common/auth api/http api/registry"
  [api]="common common/cli common/config common/storage common/store common/layers common/maintenance common/auth api/http api/registry api/ops api/net"
  [fs]="common common/view common/cli common/config common/storage common/store common/layers"
  [tools]="common common/view common/cli common/config common/storage common/store common/layers common/maintenance"
)

roomOf() {  # the deepest room holding path $1 (a file or an include), or nothing
  local dir=${1%/*}
  while [ -n "$dir" ] && [ "$dir" != "$1" ]; do
    if [ -n "${allowed[$dir]+x}" ]; then echo "$dir"; return; fi
    [ "${dir%/*}" = "$dir" ] && break
    dir=${dir%/*}
  done
}

bad=0
while IFS= read -r file; do
  from=$(roomOf "$file")
  [ -n "$from" ] || continue
  while IFS=: read -r line include; do
    to=$(roomOf "$include")
    [ -n "$to" ] || continue  # generated headers (regfs/version.h), system headers
    [ "$to" = "$from" ] && continue
    case " ${allowed[$from]} " in *" $to "*) continue ;; esac
    echo "$file:$line: $from may not include $include ($to)"
    bad=1
  done < <(grep -no '^#include "[^"]*"' "$file" | sed 's/#include "\(.*\)"/\1/')
done < <(git ls-files 'common/*.h' 'common/*.cc' 'api/*.h' 'api/*.cc' 'fs/*.h' 'fs/*.cc' 'tools/*.h' 'tools/*.cc')
if [ "$bad" -eq 0 ]; then echo "check-deps: every include points down the rooms"; fi
exit "$bad"
