#!/usr/bin/env bash
# Builds hack/gopher-lua (Argo CD's health-check runner on gopher-lua, which
# test/unit/argocd-health.test.ts runs health.lua with besides lua5.1) and caches
# it outside the repo, keyed by its go.mod, go.sum and sources. hack/install-lua.sh
# (npm test's pretest) calls this, so a fresh clone needs no extra command. Needs Go;
# without it this fails rather than letting the tests skip gopher-lua.
#
#   hack/build-gopher-lua.sh           build if missing, print the binary's path
#   hack/build-gopher-lua.sh --print   print the binary's path without building
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mod="$here/gopher-lua"
cache_root=${BACKENDAPP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/backendapp-operator}
key=$(cd "$mod" && cat go.mod go.sum $(LC_ALL=C ls ./*.go) | sha256sum | cut -c1-12)
bin="$cache_root/gopher-lua-$key/gopher-lua-health"
log() { printf '[build-gopher-lua] %s\n' "$*" >&2; }

if [[ "${1:-}" == "--print" || -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null 2>&1 || {
  log "go is required to build hack/gopher-lua, the gopher-lua runner test/unit/argocd-health.test.ts needs"
  exit 1
}
log "building $bin"
started=$(date +%s)
mkdir -p "$(dirname "$bin")"
# Build into a temporary name and rename, so an interrupted build is never taken for a finished one.
(cd "$mod" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
log "built in $(( $(date +%s) - started ))s"
echo "$bin"
