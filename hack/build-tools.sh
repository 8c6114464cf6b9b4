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
COREDNS_VERSION=v1.14.7
KUBECONFORM_VERSION=v0.7.0

# The Kubernetes and etcd binaries are keyed by the wrapper module and the version
# they are stamped with; each tool installed by `go install MODULE@VERSION` is cached
# by its own version and linked into the bin folder, so adding or bumping one tool
# never rebuilds the others.
key=$(cat "$tools_mod/go.mod" "$tools_mod/go.sum" "$tools_mod/etcd/main.go" <(echo "$K8S_VERSION") | sha256sum | cut -c1-12)
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

# installed MODULE@VERSION: where `go install` of that version is cached.
installed() { echo "$cache_root/go-install/${1//\//_}/$(basename "${1%@*}")"; }

step=0
total=11
build() {
  local name=$1 how=$2 started
  step=$((step + 1))
  # A go-install tool: the bin folder links the cached build of exactly this version.
  if [[ "$how" == *@* ]]; then
    [[ -L "$bin/$name" && "$(readlink "$bin/$name")" != "$(installed "$how")" ]] && rm -f "$bin/$name"
    [[ -x "$(installed "$how")" && ! -e "$bin/$name" ]] && ln -s "$(installed "$how")" "$bin/$name"
  fi
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
      mkdir -p "$(dirname "$(installed "$how")")"
      mv "$gobin/$name" "$(installed "$how")"
      rm -rf "$gobin"
      ln -sfn "$(installed "$how")" "$bin/$name"
      log "[$step/$total] $name: built in $(( $(date +%s) - started ))s"
      return 0 ;;
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
# The real node (hack/local-cluster.sh up --real-node): kubelet and kube-proxy of the
# control plane's version, and CoreDNS for cluster DNS.
build kubelet k8s
build kube-proxy k8s
build coredns "github.com/coredns/coredns@$COREDNS_VERSION"
# Offline validation of manifests against the CRD, as users run it in CI.
build kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"

echo "k8s=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION helm=$HELM_VERSION coredns=$COREDNS_VERSION kubeconform=$KUBECONFORM_VERSION" > "$bin/../versions"
echo "$bin"
