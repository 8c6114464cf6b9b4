#!/usr/bin/env bash
# Installs Lua 5.1, which test/unit/argocd-health.test.ts uses to run the Argo CD
# health check (Argo CD embeds gopher-lua, a Lua 5.1). Debian's lua5.1 package is
# the reference interpreter; this script gets it the simplest way the machine allows:
#
#   1. already there (lua5.1 on PATH, or a previous local install): nothing to do;
#   2. root, or passwordless sudo: apt-get install lua5.1;
#   3. otherwise: apt-get download the .debs (no root needed) and unpack them into
#      ${BACKENDAPP_CACHE_DIR:-~/.cache/backendapp-operator}/lua5.1, with a
#      wrapper at lua5.1/bin/lua5.1 that the test finds by itself.
#
#   hack/install-lua.sh           as above
#   hack/install-lua.sh --local   always step 3: touch nothing outside the cache
#
# Prints the interpreter's path last.
#
# It first builds hack/gopher-lua (hack/build-gopher-lua.sh, needs Go), the test's
# second interpreter: gopher-lua itself, set up as Argo CD sets it up.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/build-gopher-lua.sh" >/dev/null

cache_root=${BACKENDAPP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/backendapp-operator}
local_dir="$cache_root/lua5.1"
local_bin="$local_dir/bin/lua5.1"
log() { printf '[install-lua] %s\n' "$*" >&2; }

is_lua51() { "$1" -v 2>&1 | grep -q '^Lua 5\.1'; }

local_only=false
[[ "${1:-}" == "--local" ]] && local_only=true

if ! $local_only && command -v lua5.1 >/dev/null 2>&1 && is_lua51 lua5.1; then
  command -v lua5.1
  exit 0
fi
if [[ -x "$local_bin" ]] && is_lua51 "$local_bin"; then
  echo "$local_bin"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
fi

if ! $local_only && [[ $(id -u) -eq 0 || ${#sudo[@]} -gt 0 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get install lua5.1"
  # A fresh machine may have no package lists yet; update only when needed.
  if ! "${sudo[@]}" apt-get install -y --no-install-recommends lua5.1 >/dev/null; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y --no-install-recommends lua5.1 >/dev/null
  fi
  command -v lua5.1
  exit 0
fi

# No root: fetch the packages as files and unpack them; dpkg is not involved.
for tool in apt-get dpkg-deb; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "cannot install Lua 5.1: no root or sudo, and no $tool to fetch Debian's lua5.1 package."
    log "Install Lua 5.1 yourself and set LUA=/path/to/lua5.1 for the tests."
    exit 1
  fi
done
log "no root or sudo: unpacking Debian's lua5.1 into $local_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download lua5.1 liblua5.1-0 >/dev/null) || {
  log "apt-get download failed; the package lists may be missing (apt-get update needs root)."
  log "Install Lua 5.1 yourself and set LUA=/path/to/lua5.1 for the tests."
  exit 1
}
rm -rf "$local_dir"
mkdir -p "$local_dir/root" "$local_dir/bin"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$local_dir/root"
done
libdir=$(dirname "$(find "$local_dir/root" -name 'liblua5.1.so.0' | head -n 1)")
cat >"$local_bin" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$local_dir/root/usr/bin/lua5.1" "\$@"
EOF
chmod +x "$local_bin"
is_lua51 "$local_bin" || { log "the unpacked lua5.1 does not run"; exit 1; }
echo "$local_bin"
