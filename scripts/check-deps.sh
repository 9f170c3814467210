#!/usr/bin/env bash
# Checks that the rooms of the code depend on each other one way only, in the sources and in
# the build alike:
#  - every `#include "ROOM/…"` in a source file names its own room or one the table below lets
#    it use. Rooms are folders; a file belongs to the deepest room that holds it.
#  - every regfs library a room's library or program links (its CMakeLists.txt:
#    regfs_room, target_link_libraries) is its own room's or one the same table lets it use;
#    an INTERFACE library stands for the libraries it links.
#   scripts/check-deps.sh        exit 1 and one line per include or link that goes the wrong way
set -euo pipefail
cd "$(dirname "$0")/.."

# room: the rooms it may use besides itself (lowest first).
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
  [common/browse]="common common/config common/storage common/store common/layers common/maintenance"
  [common/lifecycle]="common common/config common/storage common/store"
  [common/auth]="common common/config"
  [api/http]="common common/curl common/config"
  [api/mirror]="common common/config common/storage common/store api/http"
  [api/registry]="common common/config common/storage common/store common/layers common/maintenance common/browse common/lifecycle common/auth api/http api/mirror"
  [api/ops]="common common/config common/storage common/store common/layers common/maintenance common/lifecycle common/auth api/http api/mirror api/registry"
  [api/net]="common common/config common/storage common/store common/layers common/lifecycle common/auth api/http api/mirror api/registry"
  [api/ui]="common api/http"
  [api]="common common/cli common/config common/storage common/store common/layers common/maintenance common/browse common/lifecycle common/auth api/http api/mirror api/registry api/ops api/net api/ui"
  [fs]="common common/view common/cli common/config common/storage common/store common/layers"
  [tools]="common common/view common/cli common/config common/storage common/store common/layers common/maintenance common/lifecycle"
)

roomOf() {  # the deepest room holding path $1 (a file or an include), or nothing
  local dir=${1%/*}
  while [ -n "$dir" ] && [ "$dir" != "$1" ]; do
    if [ -n "${allowed[$dir]+x}" ]; then echo "$dir"; return; fi
    [ "${dir%/*}" = "$dir" ] && break
    dir=${dir%/*}
  done
}

mayUse() {  # whether room $1 may use room $2
  [ "$1" = "$2" ] && return 0
  case " ${allowed[$1]} " in *" $2 "*) return 0 ;; esac
  return 1
}

bad=0

# --- Includes ---
while IFS= read -r file; do
  from=$(roomOf "$file")
  [ -n "$from" ] || continue
  while IFS=: read -r line include; do
    to=$(roomOf "$include")
    [ -n "$to" ] || continue  # generated headers (regfs/version.h), system headers
    mayUse "$from" "$to" && continue
    echo "$file:$line: $from may not include $include ($to)"
    bad=1
  done < <(grep -no '^#include "[^"]*"' "$file" | sed 's/#include "\(.*\)"/\1/')
done < <(git ls-files 'common/*.h' 'common/*.cc' 'api/*.h' 'api/*.cc' 'fs/*.h' 'fs/*.cc' 'tools/*.h' 'tools/*.cc')

# --- Links ---
# The rooms' CMake commands, one a line: "FOLDER COMMAND ARGUMENT…" (comments dropped, each
# command joined onto one line; their arguments hold no parentheses).
cmakeCommands() {
  local list
  while IFS= read -r list; do
    sed 's/#.*//' "$list" | tr '\n' ' ' | sed 's/)/)\n/g' | tr '()' '  ' |
      awk -v dir="${list%/CMakeLists.txt}" 'NF { $1 = $1; print dir, $0 }'
  done < <(git ls-files 'common/*CMakeLists.txt' 'api/*CMakeLists.txt' 'fs/*CMakeLists.txt' 'tools/*CMakeLists.txt')
}

declare -A roomOfTarget=()  # a room's library or program -> its room
declare -A linksOf=()       # a target -> the regfs libraries it links
declare -A interface=()     # INTERFACE libraries: they stand for what they link
while read -r dir command name rest; do
  [[ "$name" == *'$'* ]] && continue  # inside a function definition
  case "$command" in
    regfs_room)
      read -r sub links <<<"$rest"
      if [ "$sub" = . ]; then roomOfTarget[$name]=$dir; else roomOfTarget[$name]=$dir/$sub; fi
      ;;
    add_library)
      if [[ " $rest " == *" INTERFACE "* ]]; then interface[$name]=1; else roomOfTarget[$name]=$dir; fi
      continue
      ;;
    add_executable) roomOfTarget[$name]=$dir; continue ;;
    target_link_libraries) links=$rest ;;
    *) continue ;;
  esac
  for word in $links; do
    [[ "$word" == regfs-* ]] && linksOf[$name]+=" $word"
  done
done < <(cmakeCommands)

expand() {  # the room libraries target $1 links, INTERFACE libraries replaced by theirs
  local lib
  for lib in ${linksOf[$1]:-}; do
    if [ -n "${interface[$lib]+x}" ]; then expand "$lib"; else echo "$lib"; fi
  done
}

for target in "${!roomOfTarget[@]}"; do
  from=${roomOfTarget[$target]}
  if [ -z "${allowed[$from]+x}" ]; then
    echo "CMake: $target is in $from, which is no room of the table"
    bad=1
    continue
  fi
  while IFS= read -r lib; do
    [ -n "$lib" ] || continue
    to=${roomOfTarget[$lib]:-}
    if [ -z "$to" ]; then
      echo "CMake: $target ($from) links $lib, which is no room's library"
      bad=1
    elif ! mayUse "$from" "$to"; then
      echo "CMake: $from may not link $lib ($to), as $target does"
      bad=1
    fi
  done < <(expand "$target" | sort -u)
done

if [ "$bad" -eq 0 ]; then echo "check-deps: every include and every link points down the rooms"; fi
exit "$bad"
