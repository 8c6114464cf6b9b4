#!/usr/bin/env bash
# Builds the local control plane's binaries from Go modules and caches them outside
# the repo, keyed by version. A second run builds nothing. Prints the bin folder last.
#
#   hack/build-tools.sh            build what is missing, print the bin folder
#   hack/build-tools.sh --print    print the bin folder without building
#
# Binaries already on hand are used instead of building, looked up per binary in:
#   $BACKENDAPP_TOOLS_DIR   a folder holding any of the binaries below
#   $KUBEBUILDER_ASSETS     envtest's folder (etcd, kube-apiserver, kubectl)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools_mod="$here/tools"

K8S_VERSION=v1.35.4
ETCD_VERSION=v3.6.5
KWOK_VERSION=v0.7.0
HELM_VERSION=v3.19.0

# The cache key includes the wrapper module, so changing a pinned version rebuilds.
key=$(cat "$tools_mod/go.mod" "$tools_mod/go.sum" "$tools_mod/etcd/main.go" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
cache_root=${BACKENDAPP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/backendapp-operator}
bin="$cache_root/$K8S_VERSION-$key/bin"

if [[ "${1:-}" == "--print" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
log() { printf '[build-tools] %s\n' "$*" >&2; }

# found NAME: links NAME from a user-supplied folder into $bin, if it is there.
found() {
  local name=$1 dir
  [[ -x "$bin/$name" ]] && return 0
  for dir in "${BACKENDAPP_TOOLS_DIR:-}" "${KUBEBUILDER_ASSETS:-}"; do
    if [[ -n "$dir" && -x "$dir/$name" ]]; then
      ln -sf "$dir/$name" "$bin/$name"
      log "$name: using $dir/$name"
      return 0
    fi
  done
  return 1
}

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
-X k8s.io/component-base/version.gitMajor=$(echo "$K8S_VERSION" | cut -d. -f1 | tr -d v) \
-X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) \
-X k8s.io/component-base/version.gitTreeState=clean"

step=0
total=7
build() {
  local name=$1 how=$2 started
  step=$((step + 1))
  if found "$name"; then
    log "[$step/$total] $name: cached"
    return 0
  fi
  log "[$step/$total] $name: building (a cold build of the Kubernetes binaries takes 10-30 minutes on 2 cores)"
  started=$(date +%s)
  # Build into a temporary name and rename, so an interrupted build never leaves a
  # truncated binary that a later run would take for a finished one.
  case "$how" in
    k8s)
      (cd "$tools_mod" && go build -trimpath -ldflags "$ldflags" -o "$bin/.$name.tmp" "k8s.io/kubernetes/cmd/$name") ;;
    etcd)
      (cd "$tools_mod" && go build -trimpath -ldflags "-s -w" -o "$bin/.$name.tmp" ./etcd) ;;
    *)
      local gobin
      gobin=$(mktemp -d)
      GOBIN="$gobin" go install -trimpath -ldflags "-s -w" "$how"
      mv "$gobin/$name" "$bin/.$name.tmp"
      rm -rf "$gobin" ;;
  esac
  mv "$bin/.$name.tmp" "$bin/$name"
  log "[$step/$total] $name: built in $(( $(date +%s) - started ))s"
}

command -v go >/dev/null || { log "go is required to build the control plane (or set BACKENDAPP_TOOLS_DIR)"; exit 1; }

build etcd etcd
build kube-apiserver k8s
build kube-controller-manager k8s
build kube-scheduler k8s
build kubectl k8s
build kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
build helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

echo "k8s=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION helm=$HELM_VERSION" > "$bin/../versions"
echo "$bin"
