#!/usr/bin/env bash
# Imports the images built by hack/images/build.sh into a containerd, namespace
# k8s.io (where the kubelet's CRI looks), under the names the operator renders.
#
#   hack/images/import.sh --address SOCK [--snapshotter NAME] [DIR]
#
#   SOCK   containerd's socket, e.g. the real node's
#          .local-cluster/real-node/.../containerd.sock (see hack/real-node.sh)
#   NAME   snapshotter to unpack for (default: $CONTAINERD_SNAPSHOTTER, else
#          containerd's default, overlayfs); must be the CRI plugin's snapshotter
#   DIR    a folder printed by build.sh (IMAGE.tar files and images.txt);
#          default: the folder for the current inputs (`build.sh dir`), which
#          must have been built
#
# An image already there with the same config digest (the image ID) is skipped:
# that costs one `ctr images ls` and one small `ctr content get` per image.
# Needs: ctr (containerd 1.6+), jq, tar.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
address='' snapshotter=${CONTAINERD_SNAPSHOTTER:-} dir='' ns=k8s.io
while (($#)); do
	case "$1" in
		--address) address=$2; shift 2 ;;
		--address=*) address=${1#*=}; shift ;;
		--snapshotter) snapshotter=$2; shift 2 ;;
		--snapshotter=*) snapshotter=${1#*=}; shift ;;
		-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
		-*) echo "import.sh: unknown option $1" >&2; exit 2 ;;
		*) dir=$1; shift ;;
	esac
done
[[ -n "$address" ]] || { echo "import.sh: give --address <containerd socket>" >&2; exit 2; }
[[ -S "$address" ]] || { echo "import.sh: $address is not a socket (is the node's containerd running?)" >&2; exit 1; }
[[ -n "$dir" ]] || dir=$("$here/build.sh" dir)
[[ -f "$dir/images.txt" ]] || { echo "import.sh: $dir/images.txt is missing: run hack/images/build.sh first" >&2; exit 1; }

ctr_() { ctr --address "$address" --namespace "$ns" "$@"; }

# The image's config digest as containerd knows it, or nothing.
present_config() {
	local ref=$1 manifest
	manifest=$(ctr_ images ls "name==$ref" 2>/dev/null | awk -v r="$ref" '$1 == r {print $3}')
	[[ -n "$manifest" ]] || return 0
	ctr_ content get "$manifest" 2>/dev/null | jq -r '.config.digest // empty' 2>/dev/null || true
}

import_args=()
[[ -n "$snapshotter" ]] && import_args+=(--snapshotter "$snapshotter")

status=0
while read -r file ref; do
	[[ -n "$file" ]] || continue
	tarball=$dir/$file
	want=sha256:$(tar -xOf "$tarball" manifest.json | jq -r '.[0].Config' | sed 's/\.json$//')
	have=$(present_config "$ref")
	if [[ "$have" == "$want" ]]; then
		echo "import.sh: $ref is already there (${want:0:19})"
		continue
	fi
	start=$SECONDS
	if ctr_ images import "${import_args[@]}" "$tarball" >/dev/null; then
		have=$(present_config "$ref")
		if [[ "$have" == "$want" ]]; then
			echo "import.sh: imported $ref (${want:0:19}) in $((SECONDS - start)) s"
		else
			echo "import.sh: imported $tarball but $ref has config ${have:-nothing}, not $want" >&2
			status=1
		fi
	else
		echo "import.sh: ctr images import $tarball failed" >&2
		status=1
	fi
done <"$dir/images.txt"
exit $status
