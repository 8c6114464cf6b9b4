#!/usr/bin/env bash
# End-to-end on kind, for machines with Docker: creates a kind cluster, builds the
# operator image and loads it into the cluster, installs the Helm chart with that
# image, waits for the operator, and runs the integration suite against the
# cluster through KUBECONFIG.
#
#   hack/kind-e2e.sh              all of the above; deletes the cluster at the end
#   KEEP_CLUSTER=1 hack/kind-e2e.sh   keep it (reused by the next run)
#
# Environment:
#   KIND_CLUSTER       cluster name (default backendapp-e2e)
#   KIND_NODE_IMAGE    kind node image, e.g. kindest/node:v1.33.1 (default: kind's own)
#   IMAGE              NAME:TAG of the image to build and load (default backendapp-operator:e2e)
#   OPERATOR_NAMESPACE namespace of the release (default backendapp-system)
#   KIND_VERSION       kind to `go install` when kind is not on PATH (default v0.29.0)
#
# Needs docker and Node.js; kind, helm and kubectl are taken from PATH, else kind
# is installed with `go install` and helm and kubectl come from hack/build-tools.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

cluster=${KIND_CLUSTER:-backendapp-e2e}
image=${IMAGE:-backendapp-operator:e2e}
namespace=${OPERATOR_NAMESPACE:-backendapp-system}
kind_version=${KIND_VERSION:-v0.29.0}
state="$root/.local-cluster/kind-$cluster"
kubeconfig="$state/kubeconfig"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'kind-e2e: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker is required (this script builds an image and runs kind)"
docker info >/dev/null 2>&1 || die "docker is installed but its daemon is not reachable"
command -v npx >/dev/null 2>&1 || die "Node.js (npx) is required"

mkdir -p "$state/bin"
PATH="$state/bin:$PATH"
if ! command -v kind >/dev/null 2>&1; then
  command -v go >/dev/null 2>&1 || die "kind is not on PATH and Go is not there to install it"
  say "Installing kind $kind_version"
  GOBIN="$state/bin" go install "sigs.k8s.io/kind@$kind_version"
fi
if ! command -v helm >/dev/null 2>&1 || ! command -v kubectl >/dev/null 2>&1; then
  say "Using helm and kubectl from hack/build-tools.sh"
  PATH="$PATH:$(hack/build-tools.sh)"
fi

cleanup() {
  if [[ "${KEEP_CLUSTER:-}" == "1" ]]; then
    say "Keeping kind cluster $cluster (KUBECONFIG=$kubeconfig); kind delete cluster --name $cluster removes it"
  else
    say "Deleting kind cluster $cluster"
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  say "Reusing kind cluster $cluster"
  kind export kubeconfig --name "$cluster" --kubeconfig "$kubeconfig"
else
  say "Creating kind cluster $cluster"
  node_image=()
  if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
    node_image=(--image "$KIND_NODE_IMAGE")
  fi
  kind create cluster --name "$cluster" --kubeconfig "$kubeconfig" --wait 120s "${node_image[@]}"
fi
export KUBECONFIG="$kubeconfig"

say "Building $image"
docker build -t "$image" "$root"

say "Loading $image into $cluster"
kind load docker-image "$image" --name "$cluster"

say "Installing the chart into $namespace"
kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl label namespace "$namespace" --overwrite \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted >/dev/null
helm upgrade --install backendapp-operator charts/backendapp-operator \
  --namespace "$namespace" \
  --set image.repository="${image%:*}" \
  --set image.tag="${image##*:}" \
  --set image.pullPolicy=Never \
  --wait --timeout 5m
kubectl wait --for=condition=Established crd/backendapps.backendapp.io --timeout=60s
kubectl -n "$namespace" rollout status deployment/backendapp-operator --timeout=5m

say "Running the integration suite against $cluster"
KUBECONFIG="$kubeconfig" npx vitest run --project integration
