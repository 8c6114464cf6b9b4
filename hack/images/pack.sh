#!/usr/bin/env bash
# Packs a root filesystem directory into an image archive that containerd imports,
# with no Docker and no registry: a docker-archive tar (manifest.json, the image
# config, one layer). Used for the real node's images (hack/real-node.sh) and the
# application/database images under hack/images/.
#
#   hack/images/pack.sh ROOTFS_DIR NAME:TAG CONFIG OUT.tar
#
#   ROOTFS_DIR  the image's whole filesystem (e.g. from mmdebstrap, or a dir with
#               one static binary). Ownership and modes are kept as they are in the
#               directory (numeric uid/gid), so run as root and chown there.
#   NAME:TAG    the image name, e.g. localhost/busybox:e2e. Use a `localhost/`
#               prefix: a pod then names the same string in `image:` (with
#               imagePullPolicy: Never or IfNotPresent) and nothing is ever pulled.
#   CONFIG      the image's run config: a JSON object, inline (starting with `{`)
#               or a file path, with any of the OCI/Docker config keys:
#                 {"Entrypoint": ["/bin/busybox"], "Cmd": ["sh"],
#                  "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "User": "1000:1000",
#                  "WorkingDir": "/", "ExposedPorts": {"8080/tcp": {}},
#                  "Volumes": {"/data": {}}, "Labels": {"k": "v"}, "StopSignal": "SIGTERM"}
#               `{}` is fine for an image whose pods always set command/args.
#               Env defaults to a standard PATH when not given.
#   OUT.tar     the archive to write (its directory must exist).
#
# Load it into the real node's containerd (namespace k8s.io, where the kubelet looks):
#   hack/real-node.sh import OUT.tar
# or by hand: ctr --address <state>/real-node/containerd/containerd.sock -n k8s.io images import OUT.tar
# Time: seconds for a static-binary rootfs; a Debian rootfs of ~100 MB takes ~5-15 s.
# Needs: tar, sha256sum, jq.
set -euo pipefail

usage() { echo "usage: $0 ROOTFS_DIR NAME:TAG CONFIG_JSON|CONFIG_FILE OUT.tar" >&2; exit 2; }
(( $# == 4 )) || usage
rootfs=$1 name=$2 config=$3 out=$4
[[ -d "$rootfs" ]] || { echo "pack.sh: $rootfs is not a directory" >&2; exit 1; }
[[ "$name" == *:* ]] || { echo "pack.sh: give NAME:TAG, e.g. localhost/app:dev" >&2; exit 1; }
if [[ "$config" != \{* ]]; then
  [[ -f "$config" ]] || { echo "pack.sh: $config is neither inline JSON nor a file" >&2; exit 1; }
  config=$(cat "$config")
fi
echo "$config" | jq -e 'type == "object"' >/dev/null || { echo "pack.sh: CONFIG must be a JSON object" >&2; exit 1; }

work=$(mktemp -d "$(dirname "$out")/.pack.XXXXXX")
trap 'rm -rf "$work"' EXIT

# One layer holding the whole tree, sorted so the same tree gives the same digest.
(cd "$rootfs" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
  tar --sort=name --numeric-owner --mtime=@0 -cf "$work/layer.tar" -T -)
layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir -p "$work/$layer_sha"
mv "$work/layer.tar" "$work/$layer_sha/layer.tar"

jq -n --argjson cfg "$config" --arg diff "sha256:$layer_sha" '{
  architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
  config: ({Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]} + $cfg),
  rootfs: {type: "layers", diff_ids: [$diff]},
  history: [{created: "1970-01-01T00:00:00Z", created_by: "hack/images/pack.sh"}]
}' > "$work/config.json"
config_sha=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/$config_sha.json"
jq -n --arg c "$config_sha.json" --arg t "$name" --arg l "$layer_sha/layer.tar" \
  '[{Config: $c, RepoTags: [$t], Layers: [$l]}]' > "$work/manifest.json"

tar -C "$work" --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$out.tmp" manifest.json "$config_sha.json" "$layer_sha"
mv "$out.tmp" "$out"
echo "pack.sh: $name -> $out ($(du -h "$out" | cut -f1), layer sha256:${layer_sha:0:12})" >&2
