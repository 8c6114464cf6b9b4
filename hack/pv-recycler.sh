#!/usr/bin/env bash
# The local cluster's stand-in for a volume provisioner's reclaim: nothing here
# deletes hostPath volumes, so a PersistentVolume whose claim was deleted stays
# Released for good and the static pool runs dry over a long test session. Every few
# seconds this makes Released volumes Available again (clears their claimRef).
# Started and stopped by hack/local-cluster.sh as one of its components.
#
#   hack/pv-recycler.sh KUBECTL KUBECONFIG
set -uo pipefail
kubectl=$1
kubeconfig=$2
while true; do
  for pv in $("$kubectl" --kubeconfig "$kubeconfig" get pv -l local-cluster=true \
      -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}' 2>/dev/null); do
    # The test guards against a race with a claim binding the volume meanwhile.
    "$kubectl" --kubeconfig "$kubeconfig" patch pv "$pv" --type=json \
      -p '[{"op":"test","path":"/status/phase","value":"Released"},{"op":"remove","path":"/spec/claimRef"}]' >/dev/null 2>&1 || true
  done
  sleep 3
done
