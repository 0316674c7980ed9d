#!/bin/bash
#
# containerd-cri.sh - the kubelet's path, end to end: a real containerd
# (Debian 12's 1.6) runs on two lab chassis, its CRI plugin calls the
# ovn-lm CNI plugin, and this script plays the kubelet against the CRI
# (test/e2e/cri-kubelet.py, gRPC runtime.v1) with the metadata, labels and
# annotations a kubelet sends for KubeVirt virt-launcher pods:
#
#   - RunPodSandbox of vm1's virt-launcher pod on node 1; PodSandboxStatus
#     reports ovn-lm's address; a container in the sandbox reaches a pod on
#     chassis 3;
#   - containerd restarted with the sandbox running: the pod keeps its
#     address and network, and containerd calls no CNI command for it;
#   - a migration to node 2: the target sandbox for the same VM is
#     prepared by its ADD, blocked until the workload's RARP, activated by
#     it; the source's StopPodSandbox (DEL with prevResult) completes it;
#     the source's late second DEL (RemovePodSandbox, as the kubelet's
#     garbage collection sends it) does not move the target's port;
#   - nothing leaked: no sandbox, netns, veth, OVS or logical port, record.
#
# The daemons run without Kubernetes access: they name the VM's port from
# the annotation kubevirt.io/domain, which containerd passes (labels it
# does not pass).  Every CNI call containerd makes goes through a wrapper
# that keeps its environment and stdin; they are printed verbatim at the
# end (CRI_E2E_LOG_DIR=DIR keeps a copy).
#
# usage: containerd-cri.sh OVN-LM-BINARY DAEMON-BINARY
# Exits 77 (skipped) only when containerd, its CRI proto or a tool is
# missing; prints "N passed, N failed".

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3    # Debian's, with python3-grpcio and grpc-tools
CRI_PROTO=${CRI_PROTO:-/var/cache/ovn-lm/cri-api/api.proto}

skip() {
    echo "containerd-cri: SKIP: $*"
    echo "0 passed, 0 failed"
    exit 77
}
[[ $(id -u) == 0 ]] || skip "needs root"
for tool in containerd containerd-shim-runc-v2 ctr runc podman gcc nsenter; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh)"
done
[[ -x /usr/lib/cni/loopback ]] || skip "no /usr/lib/cni/loopback (containernetworking-plugins)"
[[ -x /bin/busybox ]] || skip "no /bin/busybox (busybox-static)"
$PY -c 'import grpc, grpc_tools' 2>/dev/null ||
    skip "python3-grpcio / python3-grpc-tools missing"
[[ -s $CRI_PROTO ]] || skip "no CRI api.proto at $CRI_PROTO (scripts/get-cri-api.sh)"

. "$ROOT/test/integration/lab-common.sh" "$@"
. "$ROOT/test/integration/lib-migration.sh"

CRI=$LAB_DIR/cri
mkdir -p "$CRI"
export CRI_GEN_DIR=$CRI/gen
declare -A CTRD_PID=()

# kubelet N CMD ARGS...: one CRI call to node N's containerd.
kubelet() {
    local n=$1
    shift
    $PY "$HERE/cri-kubelet.py" --socket "$CRI/node$n/state/containerd.sock" "$@"
}

# ctrd_start N: containerd for node N, in chassis N's network namespace
# (the node's host network) but in this mount namespace, so that the pod
# namespaces it pins under /var/run/netns are seen by the daemon there
# (see the daemon's man page, "Network namespaces").
ctrd_start() {
    local n=$1 d=$CRI/node$1
    # Never the machine's containerd: the config must name our socket.
    grep -q "address = \"$d/state/containerd.sock\"" "$d/config.toml" ||
        { echo "containerd-cri: bad config $d/config.toml" >&2; return 1; }
    nsenter --net="/run/netns/$(lab_ns_chassis "$n")" \
        containerd --config "$d/config.toml" >>"$d/containerd.log" 2>&1 &
    CTRD_PID[$n]=$!
    lab_wait 20 "containerd on node $n" \
        bash -c "kill -0 ${CTRD_PID[$n]} && $PY '$HERE/cri-kubelet.py' --socket '$d/state/containerd.sock' --timeout 1 version >/dev/null 2>&1"
}

# ctrd_stop N: stops node N's containerd by PID (its shims, and so the
# sandboxes, stay: that is what a containerd restart is).
ctrd_stop() {
    local pid=${CTRD_PID[$1]:-}
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null
    lab_wait 10 "containerd $1 to exit" bash -c "! kill -0 $pid 2>/dev/null" ||
        kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "CTRD_PID[$1]"
}

# Our shims: containerd-shim-runc-v2 processes whose -address is one of
# this run's sockets.
our_shims() {
    local p
    for p in /proc/[0-9]*; do
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null |
            grep -q -- "containerd-shim-runc-v2 .*-address $CRI/node" &&
            echo "${p#/proc/}"
    done
}

cri_teardown() {
    local n id pid
    for n in 1 2; do
        [[ -n ${CTRD_PID[$n]:-} ]] || continue
        for id in $(kubelet "$n" --timeout 10 list-sandboxes 2>/dev/null |
                    $PY -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)]' 2>/dev/null); do
            kubelet "$n" --timeout 20 stop-sandbox "$id" >/dev/null 2>&1
            kubelet "$n" --timeout 20 remove-sandbox "$id" >/dev/null 2>&1
        done
        ctrd_stop "$n"
    done
    for pid in $(our_shims); do
        kill -9 "$pid" 2>/dev/null
    done
    for n in 1 2; do
        umount -R "$CRI/node$n/root" 2>/dev/null
    done
    # The shims' sockets are under containerd 1.6's fixed /run/containerd/s:
    # remove the directories it made for them if nothing else uses them.
    rmdir /run/containerd/s /run/containerd 2>/dev/null
    podman_priv rmi -a -f >/dev/null 2>&1
}
trap 'cri_teardown; lab_teardown' EXIT

podman_priv() {
    podman --root "$CRI/podman/root" --runroot "$CRI/podman/run" \
        --storage-driver vfs --cgroup-manager cgroupfs --events-backend none \
        --tmpdir "$CRI/podman/tmp" "$@"
}

# --- Images: no registry is reachable, so the sandbox and workload images
# are built here (a static pause, busybox) and imported into containerd. --
t_begin setup
mkdir -p "$CRI/img/pause" "$CRI/img/busybox" "$CRI/podman/tmp"
gcc -static -O2 -o "$CRI/img/pause/pause" "$HERE/pause.c" &&
    t_ok "static pause built" || t_fail "static pause did not build"
cp /bin/busybox "$CRI/img/busybox/busybox"
printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$CRI/img/pause/Containerfile"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n' >"$CRI/img/busybox/Containerfile"
for img in pause busybox; do
    podman_priv build -q -t "localhost/ovn-lm-test/$img:1" "$CRI/img/$img" \
        >"$CRI/img/$img.log" 2>&1 &&
        podman_priv save --format docker-archive -o "$CRI/img/$img.tar" \
            "localhost/ovn-lm-test/$img:1" >>"$CRI/img/$img.log" 2>&1 ||
        { t_fail "image $img: $(tail -3 "$CRI/img/$img.log")"; }
done
$PY "$HERE/cri-kubelet.py" --socket /nonexistent gen "$CRI_PROTO" &&
    t_ok "CRI client generated from $(basename "$CRI_PROTO")" ||
    t_fail "CRI client generation"

# --- containerd on nodes 1 and 2 ---------------------------------------------
# Its default configuration, with what this machine and the test need:
# private root, state and socket; the CRI plugin's CNI dirs; a local
# sandbox image; restrict_oom_score_adj (this sandbox cannot lower
# oom_score_adj); the native snapshotter.
for n in 1 2; do
    d=$CRI/node$n
    mkdir -p "$d/root" "$d/state" "$d/cni-bin" "$d/cni-conf" "$CRI/calls"
    containerd config default >"$d/config.default.toml"
    $PY - "$d" <<'PY' >"$d/config.toml" || t_fail "node $n: containerd config"
import re, sys
d = sys.argv[1]
t = open(d + "/config.default.toml").read()
def put(key, value):
    global t
    t, n = re.subn(r'(?m)^(\s*)%s = .*$' % re.escape(key),
                   lambda m: '%s%s = %s' % (m.group(1), key, value), t)
    assert n >= 1, key
put("root", '"%s/root"' % d)
put("state", '"%s/state"' % d)
t = re.sub(r'(?m)^(\s*)address = "/run/containerd/containerd.sock"',
           r'\1address = "%s/state/containerd.sock"' % d, t)
put("restrict_oom_score_adj", "true")
put("sandbox_image", '"localhost/ovn-lm-test/pause:1"')
put("bin_dir", '"%s/cni-bin"' % d)
put("conf_dir", '"%s/cni-conf"' % d)
put("snapshotter", '"native"')
put("stream_server_address", '"127.0.0.1"')
# runc's state (default /run/containerd/runc) in ours too.
t, n = re.subn(r'(?m)^(\s*)Root = ""$', r'\1Root = "%s/state/runc"' % d, t, 1)
assert n == 1, "runc Root"
sys.stdout.write(t)
PY
    # The plugin, behind a wrapper that keeps what containerd passed.
    cat >"$d/cni-bin/ovn-lm" <<EOF
#!/bin/sh
f=\$(mktemp "$CRI/calls/node$n-\$(date +%s%N)-XXXX")
{ env | grep -E '^CNI_' | sort; echo "--- stdin"; } >"\$f"
tee -a "\$f" | "$OVN_LM_CNI"
EOF
    chmod +x "$d/cni-bin/ovn-lm"
    ln -sf /usr/lib/cni/loopback "$d/cni-bin/loopback"
    # The CRI plugin passes the pod's annotations only if the network
    # declares the capability.
    sock=$(lab_var "LAB_H${n}_DAEMON_SOCK")
    cat >"$d/cni-conf/10-ovn-lm.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "ovnlm", "plugins": [
  {"type": "ovn-lm", "socket": "$sock", "stateDir": "$LAB_DIR/cni-state",
   "logicalSwitch": "ls0", "readyTimeout": 20,
   "capabilities": {"io.kubernetes.cri.pod-annotations": true}}]}
EOF
    if ctrd_start "$n"; then
        t_ok "containerd on node $n: $(kubelet "$n" version)"
    else
        t_fail "containerd on node $n did not start: $(tail -5 "$d/containerd.log")"
    fi
    for img in pause busybox; do
        ctr -a "$d/state/containerd.sock" -n k8s.io images import \
            "$CRI/img/$img.tar" >>"$d/import.log" 2>&1 ||
            t_fail "node $n: import $img: $(tail -2 "$d/import.log")"
    done
done
if ((T_FAILED)); then
    t_summary
    exit 1
fi

# pod_json NAME UID [EXTRA-LABELS-JSON]: a virt-launcher pod of vm1 as the
# API server holds it (KubeVirt's template): the VM's name and the
# migration job are labels; the domain, the opt-in (empty) and KubeVirt's
# other annotations are annotations.
pod_json() {
    $PY - "$1" "$2" "${3:-{\}}" "$CRI" <<'PY'
import json, sys
name, uid, extra, cri = sys.argv[1:5]
labels = {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "vmi-uid-vm1",
          "vm.kubevirt.io/name": "vm1"}
labels.update(json.loads(extra))
print(json.dumps({
    "name": name, "namespace": "default", "uid": uid,
    "labels": labels,
    "annotations": {
        "kubevirt.io/domain": "vm1",
        "kubevirt.io/allow-pod-bridge-network-live-migration": "",
        "kubectl.kubernetes.io/default-container": "compute",
        "kubevirt.io/migrationTransportUnix": "true",
        "post.hook.backup.velero.io/command":
            "[\"/usr/bin/virt-freezer\", \"--unfreeze\"]"},
    "logDirectory": "%s/logs/%s" % (cri, uid)}))
PY
}

lsp_gone() { ! lsp_exists "$1"; }

# lsp_has_ip VM IP: the VM's logical port holds IP (static or dynamic).
lsp_has_ip() {
    lab_nbctl --bare --columns=addresses,dynamic_addresses list \
        Logical_Switch_Port "default_$1" | tr ' ' '\n' | grep -qx "$2"
}

# sandbox_field N ID KEY: one field of PodSandboxStatus.
sandbox_field() {
    kubelet "$1" sandbox-status "$2" | $PY -c "import json,sys; print(json.load(sys.stdin)['$3'])"
}

# calls_of NODE COMMAND: the recorded CNI calls of that command on node N.
calls_of() {
    grep -l -x "CNI_COMMAND=$2" "$CRI"/calls/node"$1"-* 2>/dev/null
}

# --- A virt-launcher pod on node 1 -------------------------------------------
t_begin sandbox
cni_add_pod 3 client >/dev/null || t_fail "ADD client on chassis 3"
CLIENT_IP=$POD_IP
pod_json virt-launcher-vm1-src uid-src >"$CRI/src.json"
mkdir -p "$CRI/logs/uid-src" "$CRI/logs/uid-dst"
SRC=$(kubelet 1 run-sandbox "$CRI/src.json") &&
    t_ok "RunPodSandbox on node 1" || t_fail "RunPodSandbox on node 1: $SRC"
SRC_IP=$(sandbox_field 1 "$SRC" ip)
t_check "PodSandboxStatus is READY" [ "$(sandbox_field 1 "$SRC" state)" = SANDBOX_READY ]
t_check "PodSandboxStatus reports ovn-lm's address ($SRC_IP)" \
    bash -c "[[ '$SRC_IP' =~ ^10\.244\.0\.[0-9]+$ ]]"
t_check "the port is named after the VM (kubevirt.io/domain), not the pod" lsp_exists vm1
t_check "... and holds that address" lsp_has_ip vm1 "$SRC_IP"
SRC_NETNS=$(sandbox_field 1 "$SRC" netns)
t_check "containerd pinned the sandbox netns under /var/run/netns ($SRC_NETNS)" \
    bash -c "[[ '$SRC_NETNS' == /var/run/netns/cni-* && -e '$SRC_NETNS' ]]"

SRC_C=$(kubelet 1 create-container "$SRC" "$CRI/src.json" compute \
        localhost/ovn-lm-test/busybox:1 /bin/busybox sleep 3600) &&
    kubelet 1 start-container "$SRC_C" &&
    t_ok "container 'compute' runs in the sandbox" || t_fail "container in the sandbox: $SRC_C"
t_check "the container reaches a pod on chassis 3" \
    kubelet 1 exec "$SRC_C" 10 /bin/busybox ping -c 2 -W 2 "$CLIENT_IP"
t_check "the pod on chassis 3 reaches the container" pod_ping client "$SRC_IP"

# --- containerd restart with the sandbox running -----------------------------
t_begin containerd-restart
adds_before=$(calls_of 1 ADD | wc -l)
dels_before=$(calls_of 1 DEL | wc -l)
ctrd_stop 1
t_check "the sandbox keeps its network while containerd is down" pod_ping client "$SRC_IP"
ctrd_start 1 && t_ok "containerd restarted" || t_fail "containerd did not restart"
t_check "the sandbox is READY after the restart" \
    [ "$(sandbox_field 1 "$SRC" state)" = SANDBOX_READY ]
t_check "same address after the restart" [ "$(sandbox_field 1 "$SRC" ip)" = "$SRC_IP" ]
t_check "the container still reaches chassis 3" \
    kubelet 1 exec "$SRC_C" 10 /bin/busybox ping -c 2 -W 2 "$CLIENT_IP"
t_check "containerd's restart called no CNI ADD or DEL" \
    [ "$(calls_of 1 ADD | wc -l)/$(calls_of 1 DEL | wc -l)" = "$adds_before/$dels_before" ]

# --- A migration to node 2 ---------------------------------------------------
t_begin migration
pod_json virt-launcher-vm1-dst uid-dst '{"kubevirt.io/migrationJobUID": "mig-uid-1"}' \
    >"$CRI/dst.json"
DST=$(kubelet 2 run-sandbox "$CRI/dst.json") &&
    t_ok "RunPodSandbox of the target on node 2" || t_fail "target RunPodSandbox: $DST"
t_check "the target got the VM's address" [ "$(sandbox_field 2 "$DST" ip)" = "$SRC_IP" ]
t_check "prepared: requested-chassis is source,target" \
    [ "$(mig_state vm1)/$(lsp_opt vm1 requested-chassis)" = "prepared/$(lab_chassis_name 1),$(lab_chassis_name 2)" ]
DST_NETNS=$(sandbox_field 2 "$DST" netns)
t_check "the target is blocked before its RARP" bash -c \
    "! nsenter --net='$DST_NETNS' ping -c 1 -W 1 -q '$CLIENT_IP' >/dev/null 2>&1"
nsenter --net="$DST_NETNS" $PY "$ROOT/test/integration/rarp.py" eth0 &&
    t_ok "the workload announced itself (RARP from the target sandbox)" ||
    t_fail "RARP from the target sandbox"
t_check "activated on chassis 2" wait_state vm1 activated
t_check "the target reaches chassis 3 once activated" bash -c \
    "nsenter --net='$DST_NETNS' ping -c 2 -i 0.2 -W 2 -q '$CLIENT_IP' >/dev/null"

# The kubelet stops the source sandbox: the first DEL, with prevResult.
kubelet 1 stop-sandbox "$SRC" && t_ok "StopPodSandbox of the source" ||
    t_fail "StopPodSandbox of the source"
t_check "the source's stop completed the migration on chassis 2" \
    [ "$(mig_state vm1)/$(lsp_opt vm1 requested-chassis)" = "completed/$(lab_chassis_name 2)" ]
t_check "the VM answers from node 2" pod_ping client "$SRC_IP"

# Later, the kubelet's garbage collection removes the source sandbox: the
# second DEL, after the target took the port.
sleep 1
kubelet 1 remove-sandbox "$SRC" && t_ok "RemovePodSandbox of the source (late)" ||
    t_fail "RemovePodSandbox of the source"
t_check "the late DEL did not move the target's port" \
    [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 2)" ]
t_check "... nor delete it" lsp_exists vm1
t_check "the VM still answers from node 2" pod_ping client "$SRC_IP"
t_check "the source's netns is gone" [ ! -e "$SRC_NETNS" ]

# --- What containerd passed to CNI, verbatim ---------------------------------
t_begin cni-calls
first_del=$(ls "$CRI"/calls/node1-* | xargs grep -l -x CNI_COMMAND=DEL | head -1)
last_del=$(ls "$CRI"/calls/node1-* | xargs grep -l -x CNI_COMMAND=DEL | tail -1)
src_add=$(ls "$CRI"/calls/node1-* | xargs grep -l -x CNI_COMMAND=ADD | head -1)
t_check "containerd passed the pod's annotations (KubeVirt's shape)" \
    grep -q '"kubevirt.io/domain":"vm1"' "$src_add"
t_check "... and no labels (vm.kubevirt.io/name is a label)" \
    bash -c "! grep -q 'vm.kubevirt.io/name' '$src_add'"
t_check "the source saw two DELs (stop, then remove)" \
    [ "$(calls_of 1 DEL | wc -l)" -ge 2 ]
t_check "the first DEL carried prevResult" grep -q prevResult "$first_del"
for f in "$src_add" "$first_del" "$last_del"; do
    echo "--- containerd -> CNI: $(basename "$f")"
    sed 's/^/    /' "$f" | cut -c1-2000
done
if [[ -n ${CRI_E2E_LOG_DIR:-} ]]; then
    mkdir -p "$CRI_E2E_LOG_DIR" && cp -r "$CRI/calls" "$CRI_E2E_LOG_DIR/"
fi

# --- The end: the target goes too, and nothing is left -----------------------
t_begin cleanup
kubelet 2 stop-sandbox "$DST" && kubelet 2 remove-sandbox "$DST" &&
    t_ok "target sandbox stopped and removed" || t_fail "target sandbox removal"
cni_run DEL cid-client "$(lab_ns_pod client | sed 's|^|/run/netns/|')" eth0 "" "$(cni_conf 3)"
lab_pod_netns_del client
t_check "no sandbox left on node 1 or 2" \
    [ "$(kubelet 1 list-sandboxes)$(kubelet 2 list-sandboxes)" = "[][]" ]
t_check "the VM's logical port is gone with its last pod" lsp_gone vm1
t_check "the target's netns is gone" [ ! -e "$DST_NETNS" ]
left=$(leaks)
t_check "nothing leaked${left:+: $left}" [ -z "$left" ]
lab_daemons_exit
t_summary
