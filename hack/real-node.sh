#!/usr/bin/env bash
# One real node beside the local cluster's simulated kwok nodes, so pods really run:
# containerd (ours, not the system's) + runc, a kubelet registered as `real-node`,
# kube-proxy (iptables mode) and CoreDNS, all host processes, pods on a CNI bridge.
#
#   hack/local-cluster.sh up --real-node     the cluster and the real node (idempotent;
#                                            or LOCAL_CLUSTER_REAL_NODE=1 hack/local-cluster.sh up)
#   hack/real-node.sh up                     add the real node to a running cluster (idempotent)
#   hack/real-node.sh down                   stop it and restore the host (the cluster keeps running);
#                                            hack/local-cluster.sh down does this too
#   hack/real-node.sh status                 say what runs
#   hack/real-node.sh namespace NAME         create/label a namespace whose pods run on the real node
#   hack/real-node.sh import IMAGE.tar       load an image archive (hack/images/pack.sh) into its containerd
#   hack/real-node.sh socket                 print its containerd's socket (for ctr, hack/images/build.sh import)
#   hack/real-node.sh check                  an end-to-end check: pod, logs, exec, Service, DNS, volume
#
# Scheduling: the node carries label and taint backendapp.io/real-node=true(:NoSchedule),
# so no pod lands there by accident. A namespace annotated
#   scheduler.alpha.kubernetes.io/node-selector: backendapp.io/real-node=true
#   scheduler.alpha.kubernetes.io/defaultTolerations: '[{"key":"backendapp.io/real-node","operator":"Exists","effect":"NoSchedule"}]'
# gets its pods there (admission plugins PodNodeSelector and PodTolerationRestriction),
# and its PersistentVolumeClaims of the default class are moved to the StorageClass
# `real-node` (a MutatingAdmissionPolicy): `local` volumes in $state/real-node/volumes.
#
# Network: pods get 10.245.0.0/24 from a bridge `bani0` (10.245.0.1, the node IP and
# the DNS server); nothing is masqueraded and pods have no default route. Safety nets
# while it is up: routes that keep Service (10.96.0.0/16) and kwok (10.244.0.0/16,
# 10.240.0.0/24) addresses from reaching the default route, and iptables chains
# BACKENDAPP-RN-FORWARD/-OUTPUT that drop anything from the bridge or from a Service
# translation that would leave 10.245.0.0/24 and this host. Image pulls go to a dead
# local proxy: only images imported locally exist. Host settings that the kubelet,
# kube-proxy and CNI change are recorded at `up` and restored at `down`.

# state, here, bin, components and the helpers come from hack/local-cluster.sh.
# shellcheck disable=SC2154
set -euo pipefail

rn_node=real-node
rn_bridge=bani0
rn_cidr=10.245.0.0/24
rn_gw=10.245.0.1
rn_svc_cidr=10.96.0.0/16
# Routed away from the default route while the node is up: kube-proxy programs every
# Service, also those whose endpoints are kwok's simulated pod (and node) addresses.
rn_unreachable=(10.244.0.0/16 10.240.0.0/24)
rn_components=(containerd kubelet kube-proxy coredns real-node-pv-recycler)
rn_pause_image=localhost/pause:3.10
rn_busybox_image=localhost/busybox:e2e
rn_pvs=${LOCAL_CLUSTER_REAL_NODE_PVS:-20}
# What the kubelet, kube-proxy and the CNI plugins may change; restored at `down`.
rn_sysctls=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
  net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait
  net.netfilter.nf_conntrack_tcp_be_liberal)
# Paths that containerd, the CNI plugins and the kubelet use whatever we configure.
rn_host_paths=(/run/containerd /var/lib/cni /var/log/containers /var/log/pods /etc/cni /opt/cni /var/lib/kubelet)

# One real node per machine (one bridge, one kubepods cgroup tree): the state
# directory of the cluster that owns it is written here.
rn_owner_file=/run/backendapp-real-node.owner

rn_dir() { echo "$state/real-node"; }

# rn_other_owner: prints the state directory of another cluster whose real node runs.
rn_other_owner() {
  local o
  o=$(cat "$rn_owner_file" 2>/dev/null || true)
  [[ -n "$o" && "$o" != "$state" && -d "$o/real-node" ]] && echo "$o"
  return 0
}
rn_sock() { echo "$(rn_dir)/containerd/containerd.sock"; }
rn_ctr() { ctr --address "$(rn_sock)" -n k8s.io "$@"; }

# rn_need CMD PACKAGE...: installs the Debian packages when CMD is missing.
rn_need() {
  local cmd=$1
  shift
  if [[ "$cmd" == /* ]]; then [[ -e "$cmd" ]] && return 0; else command -v "$cmd" >/dev/null && return 0; fi
  log "installing $* (for $cmd)"
  if [[ -z "${rn_apt_updated:-}" ]]; then apt-get update -qq >/dev/null; rn_apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

rn_prereqs() {
  [[ $(id -u) == 0 ]] || die "the real node needs root (network, cgroups, mounts)"
  rn_need containerd containerd
  rn_need runc runc
  rn_need ctr containerd
  rn_need /usr/lib/cni/bridge containernetworking-plugins
  rn_need iptables iptables
  rn_need conntrack conntrack
  rn_need ip iproute2
  rn_need jq jq
  rn_need findmnt util-linux
  rn_need gcc gcc libc6-dev
  rn_need /usr/include/stdio.h libc6-dev
  rn_need /bin/busybox busybox-static
  local b
  for b in kubelet kube-proxy coredns; do
    [[ -x "$bin/$b" ]] || die "$bin/$b is missing: run hack/build-tools.sh (it builds kubelet, kube-proxy and coredns)"
  done
  [[ -d /proc/sys/net/bridge ]] || modprobe br_netfilter 2>/dev/null || true
  [[ -d /proc/sys/net/bridge ]] || die "br_netfilter is not available: Service traffic between pods on the bridge would not be translated back"
}

rn_pid_alive() { alive "$1"; }

rn_node_ready() {
  [[ "$(kc get node "$rn_node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# rn_running: every process of ours alive and the bridge there.
rn_running() {
  local c
  [[ -d "$(rn_dir)" ]] || return 1
  for c in "${rn_components[@]}"; do alive "$c" || return 1; done
  ip link show "$rn_bridge" >/dev/null 2>&1
}

rn_healthy() { rn_running && rn_node_ready; }

# ---- host state: record at up, restore at down -------------------------------------

rn_record_host() {
  local orig k f
  f="$(rn_dir)/host-orig"
  [[ -f "$f/done" ]] && return 0
  mkdir -p "$f"
  : > "$f/sysctl"
  for k in "${rn_sysctls[@]}"; do
    [[ -e "/proc/sys/${k//.//}" ]] && echo "$k=$(sysctl -n "$k")" >> "$f/sysctl"
  done
  : > "$f/paths"
  for k in "${rn_host_paths[@]}"; do [[ -e "$k" ]] && echo "$k" >> "$f/paths"; done
  # Chains of ours or of an earlier kube-proxy: `down` deletes KUBE-* only when none were here.
  orig=$( { iptables-save 2>/dev/null; ip6tables-save 2>/dev/null; } | grep -c '^:KUBE-' || true)
  echo "$orig" > "$f/kube-chains"
  date +%s > "$f/done"
}

# Another containerd shares /run/containerd/s: remove only shim sockets nobody listens on
# (ours are dead by now).
rn_remove_dead_shim_sockets() {
  local f live
  live=$(ss -xl 2>/dev/null | awk '{print $5}' | grep '^/run/containerd/s/' || true)
  for f in /run/containerd/s/*; do
    [[ -S "$f" ]] || continue
    grep -qxF "$f" <<< "$live" || rm -f "$f"
  done
}

rn_restore_host() {
  local f line k v p
  f="$(rn_dir)/host-orig"
  if [[ -f "$f/sysctl" ]]; then
    while IFS= read -r line; do
      k=${line%%=*} v=${line#*=}
      [[ "$(sysctl -n "$k" 2>/dev/null)" == "$v" ]] || sysctl -qw "$k=$v" >/dev/null 2>&1 || log "could not restore $k=$v"
    done < "$f/sysctl"
  else
    log "no record of the host's settings in $f; sysctls left as they are"
  fi
  # Files the runtime, CNI and kubelet created at fixed paths.
  for p in "${rn_host_paths[@]}"; do
    if [[ -f "$f/paths" ]] && grep -qx "$p" "$f/paths"; then
      # It was there before: remove only what points into our state.
      case "$p" in
        /var/log/containers) find "$p" -maxdepth 1 -type l -lname "$(rn_dir)/*" -delete 2>/dev/null || true ;;
        /run/containerd) rn_remove_dead_shim_sockets ;;
        /var/lib/cni) rm -rf /var/lib/cni/results/backendapp-real-node-* 2>/dev/null || true ;;
        /var/lib/kubelet) rm -f /var/lib/kubelet/device-plugins/kubelet.sock 2>/dev/null || true ;;
      esac
    elif [[ -f "$f/paths" ]]; then
      rm -rf "$p"
    fi
  done
}

# ---- network ----------------------------------------------------------------------

rn_network_up() {
  local r
  if ! ip link show "$rn_bridge" >/dev/null 2>&1; then
    ip link add "$rn_bridge" type bridge
  fi
  echo 1 > "/proc/sys/net/ipv6/conf/$rn_bridge/disable_ipv6" 2>/dev/null || true
  ip addr replace "$rn_gw/24" dev "$rn_bridge"
  ip link set "$rn_bridge" up
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.ipv4.ip_forward=1 >/dev/null
  # A Service address goes to the bridge, where kube-proxy's DNAT (nat OUTPUT, after
  # the route lookup) sends it on to a pod; untranslated it dies there (no ARP answer),
  # never on the default route. Should the bridge vanish, the unreachable route
  # (higher metric) takes over. kwok's addresses are unreachable outright.
  ip route replace "$rn_svc_cidr" dev "$rn_bridge" src "$rn_gw" metric 100
  ip route replace unreachable "$rn_svc_cidr" metric 4000
  for r in "${rn_unreachable[@]}"; do ip route replace unreachable "$r" metric 4000; done
  rn_firewall_up
}

rn_firewall_up() {
  local c
  for c in BACKENDAPP-RN-FORWARD BACKENDAPP-RN-OUTPUT; do
    iptables -w -N "$c" 2>/dev/null || iptables -w -F "$c"
  done
  # Forwarded: pod to pod (also after a Service DNAT) passes; anything else from a
  # pod, or from the bridge, or into the bridge from elsewhere, is dropped.
  iptables -w -A BACKENDAPP-RN-FORWARD -s "$rn_cidr" -d "$rn_cidr" -j RETURN
  iptables -w -A BACKENDAPP-RN-FORWARD -s "$rn_cidr" -j DROP
  iptables -w -A BACKENDAPP-RN-FORWARD -i "$rn_bridge" -j DROP
  iptables -w -A BACKENDAPP-RN-FORWARD -o "$rn_bridge" -j DROP
  # From this host: a Service address translated to anything but a pod of the bridge
  # or this host (e.g. a kwok pod's address, or a hand-made EndpointSlice) is dropped.
  iptables -w -A BACKENDAPP-RN-OUTPUT -m conntrack --ctstate DNAT --ctorigdst "$rn_svc_cidr" -d "$rn_cidr" -j RETURN
  iptables -w -A BACKENDAPP-RN-OUTPUT -m conntrack --ctstate DNAT --ctorigdst "$rn_svc_cidr" -m addrtype --dst-type LOCAL -j RETURN
  iptables -w -A BACKENDAPP-RN-OUTPUT -m conntrack --ctstate DNAT --ctorigdst "$rn_svc_cidr" -j DROP
  # Anything from the pod range that the host would send elsewhere.
  iptables -w -A BACKENDAPP-RN-OUTPUT -s "$rn_cidr" ! -d "$rn_cidr" -m addrtype ! --dst-type LOCAL -j DROP
  rn_firewall_first
}

# Our jumps stay the first rules of FORWARD and OUTPUT, ahead of kube-proxy's ACCEPTs.
rn_firewall_first() {
  local hook c
  for hook in FORWARD OUTPUT; do
    c=BACKENDAPP-RN-$hook
    if [[ "$(iptables -w -S "$hook" 2>/dev/null | sed -n 2p)" != "-A $hook -j $c" ]]; then
      while iptables -w -D "$hook" -j "$c" 2>/dev/null; do :; done
      iptables -w -I "$hook" 1 -j "$c"
    fi
  done
}

rn_network_down() {
  local r hook c t chain cmd
  for hook in FORWARD OUTPUT; do
    while iptables -w -D "$hook" -j "BACKENDAPP-RN-$hook" 2>/dev/null; do :; done
    iptables -w -F "BACKENDAPP-RN-$hook" 2>/dev/null || true
    iptables -w -X "BACKENDAPP-RN-$hook" 2>/dev/null || true
  done
  # kube-proxy's and the kubelet's chains: kube-proxy removes its own, then any KUBE-*
  # left (the kubelet's canaries), unless the host had KUBE-* chains before `up`.
  if [[ -x "${bin:-}/kube-proxy" ]]; then "$bin/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  if [[ "$(cat "$(rn_dir)/host-orig/kube-chains" 2>/dev/null || echo 0)" == 0 ]]; then
    for cmd in iptables ip6tables; do
      for t in filter nat mangle raw; do
        "$cmd" -w -t "$t" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' |
          while read -r _ rest; do eval "$cmd -w -t $t -D $rest" 2>/dev/null || true; done || true
        for chain in $("$cmd" -w -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
          "$cmd" -w -t "$t" -F "$chain" 2>/dev/null || true
        done
        for chain in $("$cmd" -w -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
          "$cmd" -w -t "$t" -X "$chain" 2>/dev/null || true
        done
      done
    done
  fi
  ip route del "$rn_svc_cidr" dev "$rn_bridge" 2>/dev/null || true
  while ip route del unreachable "$rn_svc_cidr" 2>/dev/null; do :; done
  for r in "${rn_unreachable[@]}"; do while ip route del unreachable "$r" 2>/dev/null; do :; done; done
  # veths left by a pod whose network namespace outlived us, then the bridge.
  for c in $(ip -o link show master "$rn_bridge" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$c" 2>/dev/null || true
  done
  ip link del "$rn_bridge" 2>/dev/null || true
  if command -v conntrack >/dev/null; then
    conntrack -D -s "$rn_cidr" >/dev/null 2>&1 || true
    conntrack -D -d "$rn_cidr" >/dev/null 2>&1 || true
    conntrack -D -d "$rn_svc_cidr" >/dev/null 2>&1 || true
  fi
}

# ---- images -----------------------------------------------------------------------

# A pause for the pod sandboxes: sleeps until SIGTERM/SIGINT and reaps children
# (it is PID 1 of the pod when its PID namespace is shared).
rn_build_images() {
  local d src a
  d="$(rn_dir)/images"
  mkdir -p "$d/pause-rootfs" "$d/busybox-rootfs/bin" "$d/busybox-rootfs/tmp" "$d/busybox-rootfs/etc"
  src="$d/pause.c"
  cat > "$src" <<'EOF'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap);
  for (;;) pause();
}
EOF
  gcc -static -Os -s -o "$d/pause-rootfs/pause" "$src"
  "$here/images/pack.sh" "$d/pause-rootfs" "$rn_pause_image" '{"Entrypoint":["/pause"],"User":"65535:65535"}' "$d/pause.tar" 2>/dev/null
  # A test image: the static busybox alone (sh, wget, httpd, nslookup, ...).
  cp /bin/busybox "$d/busybox-rootfs/bin/busybox"
  chmod 1777 "$d/busybox-rootfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n' > "$d/busybox-rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nuser:x:1000:\n' > "$d/busybox-rootfs/etc/group"
  # Every applet. (Debian's static wget crashes with -T: use `timeout 5 wget -qO- URL`.)
  for a in $(/bin/busybox --list); do
    [[ "$a" == busybox ]] || ln -sf busybox "$d/busybox-rootfs/bin/$a"
  done
  "$here/images/pack.sh" "$d/busybox-rootfs" "$rn_busybox_image" \
    '{"Entrypoint":["/bin/busybox"],"Cmd":["sh"],"Env":["PATH=/bin"],"WorkingDir":"/tmp"}' "$d/busybox.tar" 2>/dev/null
  rn_ctr images import "$d/pause.tar" >/dev/null
  rn_ctr images import "$d/busybox.tar" >/dev/null
}

# ---- containerd -------------------------------------------------------------------

rn_write_containerd_config() {
  local d
  d="$(rn_dir)/containerd"
  mkdir -p "$d/root" "$d/state" "$d/opt" "$d/runc" "$(rn_dir)/cni/net.d" "$(rn_dir)/cni/ipam"
  cat > "$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
oom_score = 0
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$rn_pause_image"
  # root here lacks CAP_SYS_RESOURCE: containers must not lower their oom_score_adj.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$d/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$(rn_dir)/cni/net.d"
    max_conf_num = 1
EOF
  # Pods reach each other and, through the gateway (this host), Service addresses and
  # the DNS server; no default route, nothing masqueraded.
  cat > "$(rn_dir)/cni/net.d/10-backendapp-real-node.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "backendapp-real-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$rn_bridge",
      "isGateway": true,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$(rn_dir)/cni/ipam",
        "ranges": [[{"subnet": "$rn_cidr", "rangeStart": "10.245.0.10", "rangeEnd": "10.245.0.250", "gateway": "$rn_gw"}]],
        "routes": [{"dst": "$rn_svc_cidr"}]
      }
    }
  ]
}
EOF
}

rn_containerd_ready() { rn_ctr version >/dev/null 2>&1; }

rn_start_containerd() {
  rn_write_containerd_config
  log "starting containerd (socket $(rn_sock))"
  # A dead local proxy for every image pull: nothing is ever fetched from a registry
  # (Go's HTTP client does not resolve the registry's name when a proxy is set).
  start containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 no_proxy= \
    containerd --config "$(rn_dir)/containerd/config.toml" --log-level warn
}

# ---- identities, RBAC and cluster objects ------------------------------------------

rn_certs() {
  local pki="$state/pki"
  [[ -f "$pki/real-node.crt" ]] || issue real-node "/O=system:nodes/CN=system:node:$rn_node"
  [[ -f "$pki/real-node-serving.crt" ]] || issue real-node-serving "/CN=$rn_node" "DNS:$rn_node,IP:$rn_gw"
  [[ -f "$pki/kube-proxy.crt" ]] || issue kube-proxy "/CN=system:kube-proxy"
  [[ -f "$pki/coredns.crt" ]] || issue coredns "/CN=backendapp:coredns"
  write_kubeconfig "$(rn_dir)/kubelet.kubeconfig" real-node
  write_kubeconfig "$(rn_dir)/kube-proxy.kubeconfig" kube-proxy
  write_kubeconfig "$(rn_dir)/coredns.kubeconfig" coredns
}

rn_apply_objects() {
  cat > "$(rn_dir)/objects.yaml" <<EOF
# The node's identity (RBAC only, no Node authorizer here): what a kubelet needs, and
# token/subject access reviews for its webhook authentication and authorization.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "backendapp:real-node:node"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:$rn_node"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "backendapp:real-node:auth-delegator"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:$rn_node"}]
---
# The API server's client certificate at the kubelet: logs, exec, port-forward, stats.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "backendapp:real-node:apiserver-kubelet-client"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:kubelet-api-admin"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "kube-apiserver-kubelet-client"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "backendapp:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "backendapp:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "backendapp:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "backendapp:coredns"}]
---
# Volumes that really hold data, only on the real node; bound when the pod is scheduled.
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: real-node}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
---
# Claims of the default class in a namespace whose pods go to the real node use those
# volumes instead (DefaultStorageClass has already filled in "standard" by then).
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: backendapp-real-node-storage}
spec:
  # A mistake here must never block claims elsewhere.
  failurePolicy: Ignore
  reinvocationPolicy: Never
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [persistentvolumeclaims]
  matchConditions:
  - name: default-class
    expression: "!has(object.spec.storageClassName) || object.spec.storageClassName == 'standard'"
  variables:
  - name: selector
    expression: >-
      namespaceObject != null && has(namespaceObject.metadata) && has(namespaceObject.metadata.annotations) ?
      namespaceObject.metadata.annotations[?'scheduler.alpha.kubernetes.io/node-selector'].orValue('') : ''
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >-
        variables.selector.contains('backendapp.io/real-node=true') ?
        Object{spec: Object.spec{storageClassName: "real-node"}} : Object{}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: backendapp-real-node-storage}
spec:
  policyName: backendapp-real-node-storage
EOF
  kc apply -f "$(rn_dir)/objects.yaml" >/dev/null
}

# rn_ensure_pvs: LOCAL_CLUSTER_REAL_NODE_PVS `local` volumes (default 20) in class
# real-node, each a directory under $state/real-node/volumes, writable by any uid
# (and chowned to the pod's fsGroup by the kubelet).
rn_ensure_pvs() {
  local i d file
  file="$(rn_dir)/pvs.yaml"
  : > "$file"
  for ((i = 0; i < rn_pvs; i++)); do
    d="$(rn_dir)/volumes/$i"
    mkdir -p "$d"
    chmod 0777 "$d"
    cat >> "$file" <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: real-node-pv-$i, labels: {backendapp.io/real-node-volume: "true"}}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: real-node
  volumeMode: Filesystem
  local: {path: $d}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$rn_node]}]
EOF
  done
  kc apply -f "$file" >/dev/null
}

# rn_recycle: the real node's volumes' reclaimer (a component, see rn_up): a Released
# volume is emptied and made Available again, like a provisioner's Delete.
rn_recycle() {
  local pv path
  while true; do
    for pv in $(kc get pv -l backendapp.io/real-node-volume=true \
        -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}' 2>/dev/null); do
      path=$(kc get pv "$pv" -o jsonpath='{.spec.local.path}' 2>/dev/null) || continue
      [[ "$path" == "$(rn_dir)/volumes/"* && -d "$path" ]] || continue
      # Never through a mount: a pod still using it would lose its data.
      findmnt -rn -o TARGET | grep -q "/volumes/${path##*/}$" && continue
      find "$path" -mindepth 1 -delete 2>/dev/null || true
      chown 0:0 "$path" 2>/dev/null || true; chmod 00777 "$path" 2>/dev/null || true
      kc patch pv "$pv" --type=json \
        -p '[{"op":"test","path":"/status/phase","value":"Released"},{"op":"remove","path":"/spec/claimRef"}]' >/dev/null 2>&1 || true
    done
    sleep 3
  done
}

# ---- kubelet, kube-proxy, CoreDNS -----------------------------------------------------

rn_write_kubelet_config() {
  local d
  d="$(rn_dir)"
  mkdir -p "$d/kubelet" "$d/pod-logs"
  echo "nameserver $rn_gw" > "$d/resolv.conf"
  cat > "$d/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $rn_gw
port: $(cat "$state/ports/kubelet")
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(cat "$state/ports/kubelet-healthz")
tlsCertFile: $state/pki/real-node-serving.crt
tlsPrivateKeyFile: $state/pki/real-node-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $state/pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$(rn_sock)
imageServiceEndpoint: unix://$(rn_sock)
# This machine: cgroup v1 (1.35 refuses it unless told), no systemd cgroups, swap allowed.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
clusterDNS: [$rn_gw]
clusterDomain: cluster.local
resolvConf: $d/resolv.conf
registerWithTaints:
- {key: backendapp.io/real-node, value: "true", effect: NoSchedule}
# Images are imported by hand and cannot be pulled again: never collect them, never
# evict for a full disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 1Mi, nodefs.available: 1Mi, nodefs.inodesFree: "1", imagefs.available: 1Mi, imagefs.inodesFree: "1"}
podLogsDir: $d/pod-logs
maxPods: 110
serializeImagePulls: false
nodeStatusReportFrequency: 10s
rotateCertificates: false
serverTLSBootstrap: false
protectKernelDefaults: false
# root here lacks CAP_SYS_RESOURCE: the kubelet cannot lower its own oom_score_adj.
oomScoreAdj: 0
EOF
}

rn_start_kubelet() {
  rn_write_kubelet_config
  log "starting the kubelet ($rn_node, $rn_gw:$(cat "$state/ports/kubelet"))"
  start kubelet "$bin/kubelet" --config "$(rn_dir)/kubelet-config.yaml" \
    --kubeconfig "$(rn_dir)/kubelet.kubeconfig" --root-dir "$(rn_dir)/kubelet" --cert-dir "$(rn_dir)/kubelet/pki" \
    --hostname-override "$rn_node" --node-ip "$rn_gw" \
    --node-labels "backendapp.io/real-node=true,type=real" --v 1
}

rn_start_kube_proxy() {
  cat > "$(rn_dir)/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $(rn_dir)/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $rn_node
bindAddress: $rn_gw
healthzBindAddress: 127.0.0.1:$(cat "$state/ports/kube-proxy-healthz")
metricsBindAddress: 127.0.0.1:$(cat "$state/ports/kube-proxy-metrics")
clusterCIDR: $rn_cidr
detectLocalMode: ClusterCIDR
nodePortAddresses: ["$rn_gw/32"]
oomScoreAdj: 0
iptables: {localhostNodePorts: false, masqueradeAll: false, syncPeriod: 30s, minSyncPeriod: 1s}
# 0: leave the host's conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  log "starting kube-proxy (iptables mode)"
  start kube-proxy "$bin/kube-proxy" --config "$(rn_dir)/kube-proxy-config.yaml" --v 1
}

rn_kube_proxy_ready() { curl -sf "http://127.0.0.1:$(cat "$state/ports/kube-proxy-healthz")/healthz" >/dev/null; }

rn_start_coredns() {
  local p
  p=$(cat "$state/ports/coredns")
  # Only cluster.local and reverse lookups are answered; nothing is forwarded, every
  # other name is refused.
  cat > "$(rn_dir)/Corefile" <<EOF
(cluster) {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $(rn_dir)/coredns.kubeconfig
        pods insecure
        ttl 5
    }
    cache 5
    loadbalance
}
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $rn_gw
    import cluster
}
cluster.local:$p in-addr.arpa:$p ip6.arpa:$p {
    bind 127.0.0.1
    import cluster
    ready 127.0.0.1:$(cat "$state/ports/coredns-ready")
}
EOF
  log "starting CoreDNS ($rn_gw:53, 127.0.0.1:$p)"
  start coredns "$bin/coredns" -conf "$(rn_dir)/Corefile"
}

rn_coredns_ready() { curl -sf "http://127.0.0.1:$(cat "$state/ports/coredns-ready")/ready" >/dev/null; }

# The API server must carry the kubelet client certificate and the admission plugins;
# a cluster started by an older script gets its API server restarted once.
rn_apiserver_current() {
  local pid
  pid=$(pid_of kube-apiserver)
  [[ -n "$pid" ]] && tr '\0' '\n' < "/proc/$pid/cmdline" | grep -q -- '--kubelet-client-certificate' &&
    tr '\0' '\n' < "/proc/$pid/cmdline" | grep -q 'MutatingAdmissionPolicy=true'
}

rn_up() {
  local started c
  started=$(date +%s)
  [[ -f "$state/ports/apiserver" ]] && apiserver_ready || die "the cluster is not running: hack/local-cluster.sh up --real-node"
  if rn_running; then
    rn_firewall_first
    # A late heartbeat is no reason to start over.
    rn_node_ready || wait_for "node $rn_node Ready" 60 rn_node_ready
    log "real node $rn_node already running"
    return 0
  fi
  rn_prereqs
  if [[ -n "$(rn_other_owner)" ]]; then
    die "the real node of the cluster in $(rn_other_owner) runs on this machine (one per machine); stop it first: LOCAL_CLUSTER_DIR=$(rn_other_owner) hack/real-node.sh down"
  fi
  if [[ -d "$(rn_dir)" ]] || ip link show "$rn_bridge" >/dev/null 2>&1; then
    log "found a stopped or broken real node; starting it fresh (its volumes' data kept)"
    rn_down keep-volumes
  fi
  if ! rn_apiserver_current; then
    log "restarting kube-apiserver with the kubelet client certificate and admission plugins"
    ensure_apiserver_kubelet_client
    stop_pid kube-apiserver
    start_kube_apiserver
    wait_for "kube-apiserver /readyz" 120 apiserver_ready
  fi
  mkdir -p "$(rn_dir)"
  for c in kubelet kubelet-healthz kube-proxy-healthz kube-proxy-metrics coredns coredns-ready; do
    free_port > "$state/ports/$c"
  done
  echo "$state" > "$rn_owner_file"
  rn_record_host
  # A component that dies while we wait fails the wait at once (wait_for checks these).
  local components=("${components[@]}" "${rn_components[@]}")
  rn_network_up
  rn_start_containerd
  wait_for "containerd" 60 rn_containerd_ready
  rn_build_images
  rn_certs
  rn_apply_objects
  rn_start_coredns
  rn_start_kube_proxy
  rn_start_kubelet
  start real-node-pv-recycler env LOCAL_CLUSTER_DIR="$state" "$here/real-node.sh" recycle
  wait_for "CoreDNS" 60 rn_coredns_ready
  wait_for "kube-proxy" 60 rn_kube_proxy_ready
  wait_for "node $rn_node Ready" 120 rn_node_ready
  rn_firewall_first
  rn_ensure_pvs
  log "real node $rn_node Ready in $(( $(date +%s) - started ))s (pods: hack/real-node.sh namespace NAME)"
}

# rn_stop NAME...: SIGTERM to each component's process group (`start` made each a session
# leader, so the recycler's children go too), up to 5 s for all, then SIGKILL.
rn_stop() {
  local c pid pids=() i any
  for c in "$@"; do
    pid=$(pid_of "$c")
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$state/pids/$c"
  done
  for i in $(seq 50); do
    any=
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && { any=1; break; }; done
    [[ -z "$any" ]] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
}

# rn_kill_pods: every process in the kubelet's pod cgroups (containers and pause), then
# the runtime and the shims of our containerd (found by its socket in their command line).
rn_kill_pods() {
  local i pids
  for i in $(seq 20); do
    pids=$(find /sys/fs/cgroup/*/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u || true)
    [[ -z "$pids" ]] && break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.25
  done
}

rn_kill_shims() {
  local sock p
  sock=$(rn_sock)
  for p in /proc/[0-9]*; do
    if { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -q -- "containerd-shim.* -address $sock"; then
      kill -KILL "${p#/proc/}" 2>/dev/null || true
    fi
  done
}

rn_unmount_all() {
  local d m i
  d=$(rn_dir)
  for i in 1 2 3; do
    # Deepest first; netns files, overlay rootfs, pod volumes, the kubelet's own bind mount.
    for m in $(findmnt -rn -o TARGET | grep -F "$d" | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-); do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  done
  ! findmnt -rn -o TARGET | grep -qF "$d"
}

rn_remove_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/kubepods; do
    [[ -d "$h" ]] || continue
    find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# rn_down [keep-volumes]: with keep-volumes (a restart while the cluster keeps running,
# so claims stay bound) the data in real-node/volumes stays.
rn_down() {
  local c d f
  d=$(rn_dir)
  if [[ -n "$(rn_other_owner)" ]]; then
    log "the real node on this machine belongs to the cluster in $(rn_other_owner); leaving it alone"
    rm -rf "$d"
    return 0
  fi
  rn_stop real-node-pv-recycler coredns kube-proxy kubelet
  rn_kill_pods
  rn_stop containerd
  rn_kill_shims
  rn_kill_pods
  rn_unmount_all || log "warning: mounts left under $d: $(findmnt -rn -o TARGET | grep -F "$d" | tr '\n' ' ')"
  rn_remove_cgroups
  rn_network_down
  rn_restore_host
  if findmnt -rn -o TARGET | grep -qF "$d"; then
    die "not removing $d: something is still mounted there"
  fi
  if [[ "${1:-}" == keep-volumes && -d "$d/volumes" ]]; then
    for f in "$d"/* "$d"/.[!.]*; do
      [[ -e "$f" && "$f" != "$d/volumes" ]] && rm -rf "$f"
    done
  else
    rm -rf "$d"
  fi
  rm -f "$rn_owner_file"
  rm -f "$state"/ports/{kubelet,kubelet-healthz,kube-proxy-healthz,kube-proxy-metrics,coredns,coredns-ready} 2>/dev/null || true
}

# rn_forget: removes the real node's objects from a cluster that keeps running.
rn_forget() {
  apiserver_ready || return 0
  kc delete node "$rn_node" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  kc delete pv -l backendapp.io/real-node-volume=true --ignore-not-found --wait=false >/dev/null 2>&1 || true
}

rn_status() {
  local c s
  for c in "${rn_components[@]}"; do
    if alive "$c"; then s="running (pid $(pid_of "$c"))"; else s="stopped"; fi
    printf '%-24s %s\n' "$c" "$s"
  done
  if ip link show "$rn_bridge" >/dev/null 2>&1; then echo "bridge $rn_bridge: $(ip -o -4 addr show "$rn_bridge" | awk '{print $4}')"; else echo "bridge $rn_bridge: absent"; fi
  if apiserver_ready 2>/dev/null; then
    echo "node $rn_node: $(kc get node "$rn_node" --no-headers 2>/dev/null | awk '{print $2}' || true)"
  fi
  rn_healthy
}

# rn_check: an end-to-end check of a running real node, in namespace real-node-check
# (deleted afterwards): a restricted pod Ready, logs, exec, a Service by DNS name from a
# pod and by ClusterIP from the host, a claim whose file outlives its pod.
rn_check() {
  local ns=real-node-check t0 ip out
  kc delete namespace "$ns" --ignore-not-found --wait=true >/dev/null
  rn_namespace "$ns"
  wait_for "the default service account in $ns" 30 kc get serviceaccount default -n "$ns"
  local sc='{"runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}}'
  local csc='{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}}'
  t0=$(date +%s%N)
  kc apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  securityContext: $sc
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: $rn_busybox_image
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /tmp/www && echo hello-from-web > /tmp/www/index.html && echo web starting && exec httpd -f -v -p 8080 -h /tmp/www']
    securityContext: $csc
    ports: [{containerPort: 8080}]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
    volumeMounts: [{name: tmp, mountPath: /tmp}]
  volumes: [{name: tmp, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
EOF
  kc wait -n "$ns" --for=condition=Ready pod/web --timeout=120s >/dev/null
  log "check: pod web Ready on $(kc get pod -n "$ns" web -o jsonpath='{.spec.nodeName}') $(( ($(date +%s%N) - t0) / 1000000 )) ms after creation"
  [[ "$(kc get pod -n "$ns" web -o jsonpath='{.spec.nodeName}')" == "$rn_node" ]] || die "check: web is not on $rn_node"
  kc logs -n "$ns" web | grep -q 'web starting' || die "check: kubectl logs"
  [[ "$(kc exec -n "$ns" web -- cat /tmp/www/index.html)" == hello-from-web ]] || die "check: kubectl exec"
  log "check: kubectl logs and exec work"
  ip=$(kc get svc -n "$ns" web -o jsonpath='{.spec.clusterIP}')
  wait_for "Service web ($ip) from the host" 30 curl -sf --max-time 2 "http://$ip/"
  log "check: from the host, http://$ip/ says $(curl -sf --max-time 2 "http://$ip/")"
  log "check: CoreDNS 127.0.0.1:$(cat "$state/ports/coredns") web.$ns.svc.cluster.local -> $(rn_dns_local "web.$ns.svc.cluster.local")"
  rn_check_pod client "$ns" "$sc" "$csc" 'sleep 3600' >/dev/null
  kc wait -n "$ns" --for=condition=Ready pod/client --timeout=120s >/dev/null
  out=$(kc exec -n "$ns" client -- timeout 10 wget -qO- "http://web.$ns.svc.cluster.local/")
  [[ "$out" == hello-from-web ]] || die "check: wget by full DNS name from a pod: $out"
  out=$(kc exec -n "$ns" client -- timeout 10 wget -qO- http://web/)
  [[ "$out" == hello-from-web ]] || die "check: wget by short name from a pod: $out"
  log "check: from a pod, http://web.$ns.svc.cluster.local/ and http://web/ answer"
  if kc exec -n "$ns" client -- nslookup example.com >/dev/null 2>&1; then die "check: a name outside cluster.local resolved"; fi
  log "check: names outside cluster.local do not resolve"
  rn_check_pod writer "$ns" "$sc" "$csc" 'echo kept > /data/file && sleep 3600' data >/dev/null
  kc wait -n "$ns" --for=condition=Ready pod/writer --timeout=120s >/dev/null
  log "check: claim data bound to $(kc get pvc -n "$ns" data -o jsonpath='{.spec.volumeName} (class {.spec.storageClassName})')"
  kc delete pod -n "$ns" writer --wait=true >/dev/null
  rn_check_pod reader "$ns" "$sc" "$csc" 'cat /data/file && sleep 3600' data >/dev/null
  kc wait -n "$ns" --for=condition=Ready pod/reader --timeout=120s >/dev/null
  [[ "$(kc logs -n "$ns" reader)" == kept ]] || die "check: the file did not outlive its pod"
  log "check: a file written by a deleted pod is read by the next one"
  kc delete namespace "$ns" --wait=false >/dev/null
  log "check: passed"
}

# rn_check_pod NAME NS POD_SC CONTAINER_SC SCRIPT [CLAIM]: a busybox pod running SCRIPT.
rn_check_pod() {
  local vol='' mount=''
  if [[ -n "${6:-}" ]]; then
    vol=", {name: data, persistentVolumeClaim: {claimName: $6}}"
    mount=", {name: data, mountPath: /data}"
  fi
  kc apply -n "$2" -f - <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  securityContext: $3
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $rn_busybox_image
    imagePullPolicy: Never
    command: [sh, -c, '$5']
    securityContext: $4
    volumeMounts: [{name: tmp, mountPath: /tmp}$mount]
  volumes: [{name: tmp, emptyDir: {}}$vol]
EOF
}

# rn_dns_local NAME: the A record CoreDNS gives on its loopback port.
rn_dns_local() {
  /bin/busybox nslookup -port="$(cat "$state/ports/coredns")" "$1" 127.0.0.1 2>/dev/null |
    awk '/^Address/ && !/127.0.0.1/ {print $NF}' | tail -1 || true
}

# rn_namespace NAME: a namespace whose pods (and default-class claims) go to the real node.
rn_namespace() {
  local ns=$1
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ns
  labels:
    backendapp.io/real-node: "true"
    pod-security.kubernetes.io/enforce: restricted
  annotations:
    scheduler.alpha.kubernetes.io/node-selector: backendapp.io/real-node=true
    scheduler.alpha.kubernetes.io/defaultTolerations: '[{"key":"backendapp.io/real-node","operator":"Exists","effect":"NoSchedule"}]'
EOF
  log "namespace $ns: pods go to $rn_node"
}

if [[ "${BASH_SOURCE[0]}" == "$0" && -z "${RN_LIBRARY:-}" ]]; then
  RN_LIBRARY=1
  # The cluster's helpers (start, stop_pid, issue, kc, wait_for, ...), without running it.
  # shellcheck source=local-cluster.sh
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/local-cluster.sh"
  bin=$("$here/build-tools.sh" --print)
  case "${1:-}" in
    up) rn_up ;;
    down) rn_forget; rn_down; log "real node stopped; host restored" ;;
    status) rn_status ;;
    namespace) rn_namespace "${2:?usage: $0 namespace NAME}" ;;
    import) rn_ctr images import "${2:?usage: $0 import IMAGE.tar}" ;;
    socket) rn_sock ;;
    check) rn_check ;;
    recycle) rn_recycle ;;
    *) echo "usage: $0 up|down|status|check|namespace NAME|import IMAGE.tar|socket" >&2; exit 2 ;;
  esac
fi
