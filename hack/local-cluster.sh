#!/usr/bin/env bash
# A real Kubernetes control plane on this machine, without Docker: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok (3 simulated
# nodes whose pods become Running and Ready), built from Go modules by
# hack/build-tools.sh.
#
#   hack/local-cluster.sh up        start it (idempotent: reuses a healthy cluster)
#   hack/local-cluster.sh up --real-node
#                                   the same plus one real node, `real-node`, that runs
#                                   containers (also with LOCAL_CLUSTER_REAL_NODE=1); see
#                                   hack/real-node.sh. Needs root; `down` stops it too.
#   hack/local-cluster.sh down      stop every process it started and remove its state
#   hack/local-cluster.sh status    say what runs
#   hack/local-cluster.sh env       print `export KUBECONFIG=... PATH=...` for eval
#   hack/local-cluster.sh pvs N     make sure at least N PersistentVolumes exist
#   hack/local-cluster.sh stop C    stop one component (etcd, kube-apiserver, kube-controller-manager,
#                                   kube-scheduler, kwok, pv-recycler), keeping its data: for outage drills
#   hack/local-cluster.sh start C   start a stopped component again, on the same ports and certificates
#
# State (data, certificates, logs, audit log, kubeconfig) lives in .local-cluster/
# of the checkout (override with LOCAL_CLUSTER_DIR). Ports are chosen free at `up`,
# so two checkouts can run side by side.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
state=${LOCAL_CLUSTER_DIR:-$root/.local-cluster}
nodes=${LOCAL_CLUSTER_NODES:-3}
pvs=${LOCAL_CLUSTER_PVS:-200}
kubeconfig="$state/kubeconfig"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok pv-recycler)
real_node=${LOCAL_CLUSTER_REAL_NODE:-0}

log() { printf '[local-cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

pid_of() { cat "$state/pids/$1" 2>/dev/null || true; }
alive() { local pid; pid=$(pid_of "$1"); [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }

kc() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

apiserver_ready() {
  [[ -f "$kubeconfig" ]] && kc get --raw /readyz >/dev/null 2>&1
}

healthy() {
  local c
  for c in "${components[@]}"; do alive "$c" || return 1; done
  apiserver_ready
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls until COMMAND succeeds. A component
# that dies while we wait fails the wait at once, with the end of its log.
wait_for() {
  local what=$1 timeout=$2 deadline c
  shift 2
  deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    for c in "${components[@]}"; do
      if [[ -f "$state/pids/$c" ]] && ! alive "$c"; then
        log "$c exited; the end of $state/logs/$c.log:"
        tail -n 30 "$state/logs/$c.log" >&2 || true
        die "$c exited while waiting for $what"
      fi
    done
    (( $(date +%s) < deadline )) || die "timed out after ${timeout}s waiting for $what (logs in $state/logs)"
    sleep 0.5
  done
}

start() {
  local name=$1
  shift
  # setsid: the process outlives this script and its terminal; `down` stops it by pid.
  # Appends: a component restarted by `start C` keeps the log of its earlier run.
  setsid "$@" >>"$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/pids/$name"
}

# stop_pid NAME: SIGTERM, up to 5 s to exit, then SIGKILL; forgets the pid.
stop_pid() {
  local pid
  pid=$(pid_of "$1")
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$state/pids/$1"
}

# issue NAME SUBJECT [SAN]: a key and a certificate signed by the cluster's CA.
issue() {
  local pki="$state/pki" name=$1 subj=$2 san=${3:-} ext="$state/pki/$1.ext"
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$pki/$name.key" -out "$pki/$name.csr" 2>/dev/null
  if [[ -n "$san" ]]; then
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" > "$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' > "$ext"
  fi
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$ext"
}

gen_certs() {
  local pki="$state/pki"
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=local-cluster-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  issue apiserver "/CN=kube-apiserver" \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1"
  issue admin "/O=system:masters/CN=local-cluster-admin"
  issue controller-manager "/CN=system:kube-controller-manager"
  issue scheduler "/CN=system:kube-scheduler"
  ensure_apiserver_kubelet_client
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# The API server's identity at kubelets (only the real node has one; see hack/real-node.sh).
ensure_apiserver_kubelet_client() {
  [[ -f "$state/pki/apiserver-kubelet-client.crt" ]] || issue apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client"
}

# Separate identities for operators run from the checkout, so the audit log tells
# their requests from the tests' own: operator.kubeconfig (backendapp-operator-dev)
# and, for two replicas side by side, operator-2.kubeconfig (backendapp-operator-dev-2).
# Also run on a cluster that is already up, so one started by an older script gets them.
ensure_operator_identities() {
  local name cn
  for name in operator operator-2; do
    cn=backendapp-operator-dev${name#operator}
    [[ -f "$state/pki/$name.crt" ]] || issue "$name" "/O=system:masters/CN=$cn"
    [[ -f "$state/$name.kubeconfig" ]] || write_kubeconfig "$state/$name.kubeconfig" "$name"
  done
}

write_kubeconfig() {
  local file=$1 user=$2
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$(cat "$state/ports/apiserver")
    certificate-authority: $state/pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $state/pki/$user.crt
    client-key: $state/pki/$user.key
contexts:
- name: local
  context: {cluster: local, user: $user}
current-context: local
EOF
}

write_audit_policy() {
  # Metadata for every request (who, verb, resource, code), so tests and benchmarks
  # can count what the operator sends. Events and leases are logged too: a quiet
  # operator must not hide writes there either.
  cat > "$state/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
EOF
}

seed_cluster() {
  local i
  {
    for ((i = 0; i < nodes; i++)); do
      cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: zone-$i
    type: kwok
status:
  allocatable: {cpu: "64", memory: 512Gi, pods: "2000", ephemeral-storage: 1Ti}
  capacity: {cpu: "64", memory: 512Gi, pods: "2000", ephemeral-storage: 1Ti}
  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
EOF
    done
    cat <<'EOF'
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
EOF
  } > "$state/seed.yaml"
  kc apply -f "$state/seed.yaml" >/dev/null
  ensure_pvs "$pvs"
}

# ensure_pvs N: at least N statically created, Available 100Gi PersistentVolumes in
# the default StorageClass. Nothing provisions dynamically here, so tests and
# benchmarks that need more claims call `hack/local-cluster.sh pvs N`.
ensure_pvs() {
  local want=$1 have i file="$state/pvs.yaml"
  have=$(kc get pv -o name 2>/dev/null | wc -l)
  (( have >= want )) && return 0
  : > "$file"
  for ((i = have; i < want; i++)); do
    cat >> "$file" <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-pv-$i, labels: {local-cluster: "true"}}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  hostPath: {path: /tmp/local-cluster-pv/$i}
EOF
  done
  kc apply -f "$file" >/dev/null
  log "persistent volumes: $want"
}

nodes_ready() {
  local ready
  ready=$(kc get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)
  (( ready >= nodes ))
}

# One function per component, so `up` and `start C` run the same command line.
# Ports and certificates come from the state directory that `up` prepared.
start_etcd() {
  local port peer
  port=$(cat "$state/ports/etcd")
  peer=$(cat "$state/ports/etcd-peer")
  log "starting etcd on 127.0.0.1:$port"
  # --unsafe-no-fsync: test data is thrown away; fsync would make tests disk-bound.
  start etcd "$bin/etcd" --name local --data-dir "$state/etcd" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "local=http://127.0.0.1:$peer" --listen-metrics-urls "" \
    --unsafe-no-fsync --quota-backend-bytes 8589934592 --log-level warn
}

etcd_ready() {
  curl -sf "http://127.0.0.1:$(cat "$state/ports/etcd")/health" | grep -q '"health":"true"'
}

start_kube_apiserver() {
  local port
  port=$(cat "$state/ports/apiserver")
  ensure_apiserver_kubelet_client
  log "starting kube-apiserver on https://127.0.0.1:$port"
  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$(cat "$state/ports/etcd")" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
    --cert-dir "$state/pki" --tls-cert-file "$state/pki/apiserver.crt" --tls-private-key-file "$state/pki/apiserver.key" \
    --client-ca-file "$state/pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$state/pki/sa.pub" --service-account-signing-key-file "$state/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode RBAC --allow-privileged=true \
    --kubelet-client-certificate "$state/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$state/pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$state/pki/ca.crt" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --enable-admission-plugins NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,PodSecurity,PodNodeSelector,PodTolerationRestriction,ResourceQuota,MutatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy \
    --feature-gates MutatingAdmissionPolicy=true --runtime-config admissionregistration.k8s.io/v1beta1=true \
    --audit-policy-file "$state/audit-policy.yaml" --audit-log-path "$state/logs/audit.log" \
    --audit-log-maxsize 200 --audit-log-maxbackup 3 --audit-log-format json --audit-log-mode batch \
    --audit-log-batch-max-wait 1s --audit-log-batch-buffer-size 100000 \
    --max-requests-inflight 800 --max-mutating-requests-inflight 400 \
    --profiling=false
}

start_kube_controller_manager() {
  log "starting kube-controller-manager"
  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$state/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$state/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$state/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file "$state/pki/sa.key" --root-ca-file "$state/pki/ca.crt" \
    --cluster-signing-cert-file "$state/pki/ca.crt" --cluster-signing-key-file "$state/pki/ca.key" \
    --controllers '*' \
    --kube-api-qps 200 --kube-api-burst 400 \
    --concurrent-deployment-syncs 10 --concurrent-replicaset-syncs 10 --concurrent-statefulset-syncs 10 \
    --concurrent-gc-syncs 40 --concurrent-service-endpoint-syncs 10 \
    --horizontal-pod-autoscaler-sync-period 5s \
    --node-monitor-grace-period 120s
}

start_kube_scheduler() {
  log "starting kube-scheduler"
  start kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$state/scheduler.kubeconfig" \
    --authentication-kubeconfig "$state/scheduler.kubeconfig" \
    --authorization-kubeconfig "$state/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    --kube-api-qps 200 --kube-api-burst 400
}

start_kwok() {
  # Node leases keep the simulated nodes Ready on a loaded machine; without them a
  # late status heartbeat marks every pod NotReady, and kwok never marks them back.
  # The pod stages come from the checkout (hack/kwok/stages.yaml): every pod Running
  # and Ready, a Job's pod Succeeded or Failed as its first container's command says.
  # Node stages stay kwok's built-in ones.
  log "starting kwok with $nodes simulated nodes"
  start kwok "$bin/kwok" --kubeconfig "$kubeconfig" --config "$here/kwok/stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr 10.244.0.0/16 --node-ip 10.240.0.1 --server-address "" --node-lease-duration-seconds 40
}

# Stands in for a provisioner's reclaim: the static volumes are Retain, so without
# it every deleted claim leaves a Released volume for good and a long-lived dev
# cluster runs out of volumes.
start_pv_recycler() {
  log "starting the PersistentVolume recycler"
  start pv-recycler "$here/pv-recycler.sh" "$bin/kubectl" "$kubeconfig"
}

up() {
  bin=$("$here/build-tools.sh")
  if healthy; then
    ensure_operator_identities
    log "already running (kubeconfig: $kubeconfig)"
    [[ "$real_node" == 1 ]] && rn_up
    return 0
  fi
  if [[ -d "$state" ]]; then
    log "found a stopped or broken cluster; starting fresh"
    down
  fi
  local started
  started=$(date +%s)
  mkdir -p "$state"/{pids,logs,ports,etcd}
  for p in etcd etcd-peer apiserver; do free_port > "$state/ports/$p"; done
  gen_certs
  write_audit_policy
  write_kubeconfig "$kubeconfig" admin
  write_kubeconfig "$state/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$state/scheduler.kubeconfig" scheduler
  ensure_operator_identities

  start_etcd
  start_kube_apiserver
  wait_for "kube-apiserver /readyz" 120 apiserver_ready
  start_kube_controller_manager
  start_kube_scheduler
  start_kwok
  seed_cluster
  start_pv_recycler
  wait_for "$nodes Ready nodes" 120 nodes_ready
  wait_for "the default service account" 60 kc get serviceaccount default -n default
  log "ready in $(( $(date +%s) - started ))s; use: eval \"\$(hack/local-cluster.sh env)\""
  [[ "$real_node" == 1 ]] && rn_up
  return 0
}

down() {
  local i
  # The real node first: it restores the host from records kept in the state.
  if [[ -d "$state/real-node" ]]; then
    bin=${bin:-$("$here/build-tools.sh" --print)}
    rn_down
    log "real node stopped; host restored"
  fi
  # Reverse order: the control loops first, etcd last.
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do stop_pid "${components[$i]}"; done
  rm -rf "$state"
  log "stopped; state removed"
}

component_arg() {
  local c
  for c in "${components[@]}"; do [[ "$c" == "${1:-}" ]] && return 0; done
  die "unknown component \"${1:-}\"; one of: ${components[*]}"
}

# stop_component C: stops one component and leaves everything else, data included,
# in place; `start C` brings it back. A stopped component makes the cluster
# unhealthy, so `up` would start fresh: use `start C`.
stop_component() {
  component_arg "$1"
  [[ -d "$state/pids" ]] || die "no cluster in $state"
  if ! alive "$1"; then
    log "$1 is not running"
    rm -f "$state/pids/$1"
    return 0
  fi
  stop_pid "$1"
  log "stopped $1"
}

# start_component C: starts a component that `stop C` stopped, with the command
# line, ports and certificates `up` used, and waits until it serves: etcd until it
# is healthy, kube-apiserver until /readyz (so etcd must be running), the others
# until they have run for a second.
start_component() {
  component_arg "$1"
  [[ -f "$state/ports/apiserver" ]] || die "no cluster in $state; run up first"
  bin=$("$here/build-tools.sh" --print)
  if alive "$1"; then
    log "$1 is already running (pid $(pid_of "$1"))"
    return 0
  fi
  "start_${1//-/_}"
  case "$1" in
    etcd) wait_for "etcd /health" 60 etcd_ready ;;
    kube-apiserver) wait_for "kube-apiserver /readyz" 120 apiserver_ready ;;
    *) sleep 1; alive "$1" || { tail -n 30 "$state/logs/$1.log" >&2; die "$1 exited at start"; } ;;
  esac
  log "started $1"
}

status() {
  local c state_word
  [[ -d "$state" ]] || { echo "not running"; return 3; }
  for c in "${components[@]}"; do
    if alive "$c"; then state_word="running (pid $(pid_of "$c"))"; else state_word="stopped"; fi
    printf '%-24s %s\n' "$c" "$state_word"
  done
  bin=$("$here/build-tools.sh" --print)
  if apiserver_ready; then
    echo "api server: https://127.0.0.1:$(cat "$state/ports/apiserver") ready"
    kc get nodes --no-headers 2>/dev/null | awk '{print "node " $1 " " $2}'
    if [[ -d "$state/real-node" ]]; then
      echo "real node:"
      rn_status | sed 's/^/  /' || true
    fi
  else
    echo "api server: not ready"
    return 1
  fi
}

env_cmd() {
  bin=$("$here/build-tools.sh" --print)
  echo "export KUBECONFIG=$kubeconfig"
  echo "export PATH=$bin:\$PATH"
}

# The real node's functions (rn_up, rn_down, ...).
# shellcheck source=real-node.sh
source "$here/real-node.sh"

# Sourced by hack/real-node.sh for the helpers above: define, do not run.
[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0

case "${1:-}" in
  up)
    case "${2:-}" in
      --real-node) real_node=1 ;;
      "") ;;
      *) die "unknown option ${2}; usage: $0 up [--real-node]" ;;
    esac
    up ;;
  down) down ;;
  status) status ;;
  env) env_cmd ;;
  pvs) bin=$("$here/build-tools.sh" --print); ensure_pvs "${2:?usage: $0 pvs N}" ;;
  stop) stop_component "${2:-}" ;;
  start) start_component "${2:-}" ;;
  *) echo "usage: $0 up [--real-node]|down|status|env|pvs N|stop COMPONENT|start COMPONENT" >&2; exit 2 ;;
esac
