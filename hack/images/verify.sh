#!/usr/bin/env bash
# Runs hack/images/verify.py (see its docstring) in new mount, network and pid
# namespaces: the containers' mounts, their loopback-only network and their
# processes all end with it. No kubelet, no containerd.
#
#   hack/images/verify.sh [DIR]    DIR: a folder printed by hack/images/build.sh
#                                  (default: the one for the current inputs)
#   VERIFY_ONLY="redis app"        run only some checks (app needs postgres+redis)
#   VERIFY_KEEP=1                  keep the unpacked images and logs
# Needs root, unshare and setpriv (util-linux), ip (iproute2), python3.
# Time: about a minute, after the images are built.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:-$("$here/build.sh" dir)}
[[ -f "$dir/images.txt" ]] || { echo "verify.sh: $dir/images.txt is missing: run hack/images/build.sh first" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/backendapp-images-verify.XXXXXX")
# Removed from outside the namespaces, where none of the bind mounts exist.
cleanup() { if [[ -z "${VERIFY_KEEP:-}" ]]; then rm -rf --one-file-system "$work"; else echo "kept $work" >&2; fi; }
trap cleanup EXIT
VERIFY_WORK_DIR=$work unshare --mount --net --pid --uts --fork --kill-child --mount-proc \
	python3 "$here/verify.py" "$dir"
