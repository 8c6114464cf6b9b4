#!/usr/bin/env bash
# `npm run demo`: the operator against a real API server with the finwise sample.
# With KUBECONFIG set it uses that cluster; otherwise it brings up the local control
# plane (hack/local-cluster.sh). Installs the CRD, starts the operator, applies the
# sample, waits until it is Ready, shows what was created, and keeps the operator
# running until Ctrl-C.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
ns=${DEMO_NAMESPACE:-demo}
sample=${DEMO_SAMPLE:-config/samples/finwise.yaml}
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [[ -z "${KUBECONFIG:-}" ]]; then
  say "Starting the local control plane (the first run builds it from Go modules)"
  hack/local-cluster.sh up
  eval "$(hack/local-cluster.sh env)"
else
  say "Using the cluster in KUBECONFIG=$KUBECONFIG"
  PATH="$(hack/build-tools.sh --print):$PATH"
fi

say "Installing the BackendApp CRD"
kubectl apply --server-side -f crds/
kubectl wait --for=condition=Established crd/backendapps.backendapp.io --timeout=60s

say "Starting the operator (logs: .local-cluster/demo-operator.log)"
mkdir -p .local-cluster
node bin/backendapp-operator.js run --log-level=info --leader-elect=false \
  --metrics-bind-address=127.0.0.1:0 --health-probe-bind-address=127.0.0.1:0 \
  >.local-cluster/demo-operator.log 2>&1 &
operator=$!
trap 'say "Stopping the operator"; kill -TERM $operator 2>/dev/null; wait $operator 2>/dev/null; echo "The cluster keeps running: hack/local-cluster.sh down stops it."' EXIT

say "Applying $sample in namespace $ns"
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null
started=$(date +%s)
kubectl apply -n "$ns" -f "$sample"
name=$(kubectl get -n "$ns" -f "$sample" -o jsonpath='{.metadata.name}')

say "Waiting for bapp/$name to be Ready"
if ! kubectl wait -n "$ns" --for=condition=Ready "bapp/$name" --timeout=180s; then
  kubectl get -n "$ns" "bapp/$name" -o yaml
  tail -n 20 .local-cluster/demo-operator.log
  exit 1
fi
echo "Ready $(( $(date +%s) - started ))s after kubectl apply"

say "What the operator created"
kubectl get -n "$ns" bapp,deploy,sts,svc,hpa,pdb,networkpolicy,secret,pvc
say "Events"
kubectl events -n "$ns" --for "backendapp/$name" 2>/dev/null || kubectl get events -n "$ns" --field-selector "involvedObject.name=$name"

say "The operator keeps running; press Ctrl-C to stop it"
wait $operator
