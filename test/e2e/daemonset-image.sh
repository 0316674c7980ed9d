#!/bin/bash
#
# daemonset-image.sh - the DaemonSet's image, run with podman exactly as
# manifests/daemonset.yaml says, on the chassis of a 2-chassis lab
# (test/lab), against the Kubernetes API stand-in (test/k8s, a TEST
# STAND-IN, not an API server), in in-cluster mode as the manifest asks.
#
# usage (as root): test/e2e/daemonset-image.sh [BUILD_DIR]
#
# BUILD_DIR (default $OVN_LM_BUILD_DIR, else ./build) holds the build; its
# image BUILD_DIR/image/ovn-lm-VERSION.oci.tar is built first with
# scripts/build-image.sh when it is missing or older than the binaries or
# the script.
#
# What is taken from the manifest, by test/e2e/pod-to-podman.py (python3-
# yaml), never restated here: the image, the init container's and the
# daemon's command and args (with Kubernetes' $(VAR) expansion from their
# env: fieldRef spec.nodeName, the ConfigMap's keys), runAsUser/runAsGroup,
# readOnlyRootFilesystem, the capabilities (--cap-drop=all, --cap-add what
# the manifest adds), allowPrivilegeEscalation, the resource limits, every
# volumeMount with its readOnly and mountPropagation, the ConfigMap volume's
# items, the optional Secret (absent: an empty volume, as the kubelet
# mounts it), the service account token (automountServiceAccountToken),
# hostNetwork (podman --network ns: of the chassis namespace), the
# liveness probe and terminationGracePeriodSeconds.  A field the translator
# does not know fails the test.
#
# What stands for the node: every hostPath is a per-run directory under
# $T/hN/host (opt/cni/bin, etc/cni/net.d, run/ovn-lm, var/lib/cni/ovn-lm),
# except /var/run/openvswitch, which is the lab chassis's OVS run directory
# (its db.sock), and /var/run/netns, which is the machine's own, read-only:
# the lab's pod namespaces are pinned there, as containerd pins them, and
# CNI_NETNS names them by that path.  The ConfigMap is edited as a user
# does (README step 2): the lab's NB and SB remotes; the conflist is used as
# written (its logical switch is created in the lab as manifests/README.md
# says).  The kubelet's part: KUBERNETES_SERVICE_HOST/PORT and the service
# account directory (token, ca.crt, namespace) of the stand-in.  This
# machine's part: runc, cgroupfs and explicit ulimits (see
# test/e2e/README.md).
#
# The test then plays the runtime: it runs the installed
# HOST/opt/cni/bin/ovn-lm with the installed conflist (its host paths, the
# socket and stateDir, mapped as above), the pod annotations containerd
# passes, for a client pod and a KubeVirt VM's virt-launcher pod, and a live
# migration of the VM from chassis 1 to chassis 2: target ADD, the
# workload's RARP, the source pod's DEL, KubeVirt's VMIM Succeeded.
#
# OVN_LM_E2E_LOG_DIR=DIR: copy the daemons' logs (podman logs) there.
# OVN_LM_E2E_MANIFESTS=DIR: use that copy of manifests/ instead.
#
# Nothing is left: the podman store, run root and containers live in
# $T (removed), the lab goes down, also on failure or Ctrl-C.  Prints
# "ok"/"FAIL" per check and "N passed, N failed"; exits 77 only when podman
# cannot run a container here at all (or a tool is missing).

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_DIR=$(realpath "${1:-${OVN_LM_BUILD_DIR:-$ROOT/build}}")
LAB_SH=$ROOT/test/lab/lab.sh
TEST_HERE=$ROOT/test/integration
P2P=$HERE/pod-to-podman.py
# Another copy of manifests/ (to see the test catch a change).
MANIFESTS=$(realpath "${OVN_LM_E2E_MANIFESTS:-$ROOT/manifests}")
# shellcheck source=../lab/lib.sh
. "$ROOT/test/lab/lib.sh"
# shellcheck source=../integration/lib-cni.sh
. "$TEST_HERE/lib-cni.sh"

skip() {
    echo "skip: $*"
    echo "0 passed, 0 failed"
    exit 77
}

[[ $(id -u) == 0 ]] || skip "needs root (namespaces, podman)"
for tool in podman runc conmon busybox python3 ip ovs-vsctl ovs-appctl \
    ovn-nbctl ovsdb-server ovn-controller openssl; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
done
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed"

VERSION=$(sed -n 's/^project(ovn-lm VERSION \([0-9][0-9.]*\).*/\1/p' \
    "$ROOT/CMakeLists.txt")
OCI=$BUILD_DIR/image/ovn-lm-$VERSION.oci.tar

T=
PODMAN=()
LAB_UP=0
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cleanup() {
    local rc=$? f
    trap - EXIT
    trap '' INT TERM
    if ((T_FAILED)) || ((rc)); then
        for f in "${T:-/nonexistent}"/h*/daemon.log; do
            [[ -s $f ]] || continue
            echo "--- ${f#"$T"/}: WARN/ERR lines ---"
            grep -E '\|(WARN|ERR|EMER)\|' "$f" | tail -15
        done
    fi
    if [[ -n ${OVN_LM_E2E_LOG_DIR:-} && -n $T ]]; then
        mkdir -p "$OVN_LM_E2E_LOG_DIR"
        for f in "$T"/h*/daemon.log; do
            [[ -e $f ]] || continue
            f=${f#"$T"/}
            cp "$T/$f" "$OVN_LM_E2E_LOG_DIR/${f%%/*}-daemon.log"
        done
    fi
    if ((${#PODMAN[@]})); then
        timeout 60 "${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1 || :
    fi
    [[ -z ${K8S_PID:-} ]] || k8s_stop
    ((LAB_UP == 0)) || "$LAB_SH" down >/dev/null 2>&1 || "$LAB_SH" down
    if [[ -n $T && -d $T ]]; then
        while read -r f; do
            umount -l "$f" 2>/dev/null || :
        done < <(awk -v t="$T/" 'index($2, t) == 1 { print $2 }' \
            /proc/self/mounts | sort -r)
        rm -rf -- "$T"
    fi
    if ((rc == 77)); then
        exit 77
    fi
    if ((rc)) && ((T_FAILED == 0)); then
        t_fail "aborted (exit $rc)"
    fi
    t_summary
    exit $?
}

# --- The image -------------------------------------------------------------
t_begin image
if [[ ! -e $OCI || $OCI -ot $BUILD_DIR/cni/ovn-lm ||
    $OCI -ot $BUILD_DIR/ovn-controller-ext/ovn-controller-ext ||
    $OCI -ot $ROOT/scripts/build-image.sh ]]; then
    echo "building the image (scripts/build-image.sh $BUILD_DIR)"
    if ! "$ROOT/scripts/build-image.sh" "$BUILD_DIR"; then
        t_fail "scripts/build-image.sh failed"
        exit 1
    fi
fi
# shellcheck source=/dev/null
. "$BUILD_DIR/image/image.env"
t_check "image $IMAGE archive exists" [ -s "$OCI" ]

T=$(mktemp -d /tmp/ovn-lm-dsimage.XXXXXX)
mkdir -p "$T"/{tmp,bb/bin,bb/proc,bb/sys,bb/dev}
cat >"$T/containers.conf" <<EOF
[network]
network_backend = "cni"
network_config_dir = "$T/net.d"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/events.log"
runtime = "runc"
tmp_dir = "$T/tmp"
EOF
cat >"$T/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$T/root"
runroot = "$T/runroot"
EOF
export CONTAINERS_CONF=$T/containers.conf
export CONTAINERS_STORAGE_CONF=$T/storage.conf
PODMAN=(podman --root "$T/root" --runroot "$T/runroot" --storage-driver vfs
    --tmpdir "$T/tmp" --network-config-dir "$T/net.d"
    --cgroup-manager cgroupfs --events-backend file --runtime runc)
# runc here cannot raise RLIMIT_NOFILE/NPROC to podman's defaults.
MACHINE_OPTS=(--run-option=--ulimit=nofile=1024:1024
    --run-option=--ulimit=nproc=1024:1024)

# Can podman run anything here?  A busybox root directory, not our image:
# a broken image must fail the test, not skip it.
cp "$(command -v busybox)" "$T/bb/bin/busybox"
if ! out=$("${PODMAN[@]}" run --rm --network none --ulimit nofile=1024:1024 \
    --ulimit nproc=1024:1024 --rootfs "$T/bb" /bin/busybox true 2>&1); then
    skip "podman cannot run a container on this machine: $out"
fi

# The store reads the archive; the image library would also write its
# machine-wide cache /var/lib/containers/cache: keep /var/lib private.
if unshare -m sh -c 'mount -t tmpfs -o size=1m,mode=0755 tmpfs /var/lib &&
        exec "$@"' sh "${PODMAN[@]}" load -q -i "$OCI" >/dev/null; then
    t_ok "podman load $OCI"
else
    t_fail "podman load $OCI"
    exit 1
fi
got=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE" 2>&1)
t_check "loaded as $IMAGE, id ${IMAGE_ID:0:12} (got ${got:0:12})" \
    [ "$got" = "$IMAGE_ID" ]

# --- The lab, the API stand-in ---------------------------------------------
t_begin setup
LAB_PREFIX=$(lab_new_prefix)
LAB_DIR=/tmp/ovn-lm-lab-$LAB_PREFIX
LAB_CHASSIS=2
export LAB_PREFIX LAB_DIR LAB_CHASSIS
unset LAB_DAEMON
LAB_UP=1
"$LAB_SH" up >/dev/null || { t_fail "lab did not come up"; exit 1; }
lab_load
# shellcheck source=../integration/lib-k8s.sh
. "$TEST_HERE/lib-k8s.sh"
N1=$(lab_chassis_hostname 1)
N2=$(lab_chassis_hostname 2)
# lib-k8s.sh's kube_status and kube_synced ask the daemons' unixctl
# sockets: ours are on the node's /run/ovn-lm.
LAB_H1_DAEMON_CTL=$T/h1/host/run/ovn-lm/ovn-controller-ext.ctl
LAB_H2_DAEMON_CTL=$T/h2/host/run/ovn-lm/ovn-controller-ext.ctl

k8s_up && t_ok "API stand-in on https://$LAB_CENTRAL_IP:$K8S_PORT" ||
    { t_fail "the API stand-in did not start"; exit 1; }
# What the kubelet projects into /var/run/secrets/kubernetes.io/serviceaccount.
mkdir -p "$T/sa"
cp "$K8S_DIR/sa/token" "$K8S_DIR/sa/ca.crt" "$T/sa/"
printf ovn-lm >"$T/sa/namespace"

# The conflist's logical switch, as manifests/README.md creates it.
CM_CONFLIST=$(python3 -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "ConfigMap":
        print(d["data"]["10-ovn-lm.conflist"], end="")' \
    "$MANIFESTS/configmap.yaml")
SWITCH=$(json_get "$CM_CONFLIST" 'j["plugins"][0]["logicalSwitch"]')
lab_nbctl ls-add "$SWITCH" -- set Logical_Switch "$SWITCH" \
    other_config:subnet=10.244.0.0/16 other_config:exclude_ips=10.244.0.1 &&
    t_ok "logical switch $SWITCH (the conflist's)" || t_fail "ls-add $SWITCH"

# pod N: pod-to-podman.py for chassis N -> $T/hN/pod.json.
pod_json() {
    local n=$1
    mkdir -p "$T/h$n/host" "$T/h$n/volumes"
    python3 "$P2P" pod --manifests "$MANIFESTS" \
        --netns "/run/netns/$(lab_ns_chassis "$n")" \
        --node-name "$(lab_chassis_hostname "$n")" \
        --host-root "$T/h$n/host" \
        --host-path "/var/run/openvswitch=$(lab_chassis_dir "$n")" \
        --host-path /var/run/netns=/var/run/netns \
        --volume-dir "$T/h$n/volumes" \
        --configmap-set "ovn-lm-config/ovn-nb-db=$(lab_nb_remote)" \
        --configmap-set "ovn-lm-config/ovn-sb-db=$(lab_sb_remote)" \
        --service-account-dir "$T/sa" \
        --kubernetes-service "$LAB_CENTRAL_IP:$K8S_PORT" \
        --name-prefix "$LAB_PREFIX-h$n" "${MACHINE_OPTS[@]}" \
        >"$T/h$n/pod.json"
}
# jq-like: pj N EXPR evaluates EXPR on chassis N's pod.json (as 'j').
pj() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(r if isinstance(r, str) else json.dumps(r))' \
        "$T/h$1/pod.json" "$2"
}
# argv N EXPR: the NUL-separated list EXPR of chassis N's pod.json, into ARGV.
argv() {
    mapfile -d '' -t ARGV < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.stdout.write("".join(a + "\0" for a in eval(sys.argv[2])))' \
        "$T/h$1/pod.json" "$2")
}
kube_status_has() { kube_status "$1" | grep -q -- "$2"; }
daemon_ctr() { echo "$LAB_PREFIX-h$1-$(pj "$1" 'j["containers"][0]["name"]')"; }
# probe N: the liveness probe as the kubelet runs it, from the pod's
# network namespace (hostNetwork: the chassis's).
probe() {
    ip netns exec "$(lab_ns_chassis "$1")" python3 -c '
import json, sys, urllib.request
p = json.loads(sys.argv[1])
url = "%s://%s:%d%s" % (p["scheme"].lower(), p["host"], p["port"], p["path"])
r = urllib.request.urlopen(url, timeout=p["timeoutSeconds"])
sys.exit(0 if 200 <= r.status < 400 else 1)' \
        "$(pj "$1" 'j["containers"][0]["probes"]["livenessProbe"]')"
}
# cap_mask NAME...: the capability bit mask of those names, in hex.
cap_mask() {
    python3 - "$@" <<'PY'
import re, sys
bits = {m.group(1): int(m.group(2)) for m in re.finditer(
    r"#define CAP_([A-Z_]+)\s+(\d+)\s*$",
    open("/usr/include/linux/capability.h").read(), re.M)}
print(f"{sum(1 << bits[c] for c in sys.argv[1:]):016x}")
PY
}
ro_root() {
    ! "${PODMAN[@]}" exec "$1" /bin/sh -c ': >/ovn-lm-write-test' 2>/dev/null
}
proc_field() {
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

for n in 1 2; do
    pod_json "$n" && t_ok "chassis $n: pod spec translated" ||
        { t_fail "chassis $n: pod-to-podman.py failed"; exit 1; }
done
t_check "the manifest's image is the one built ($IMAGE)" \
    [ "$(pj 1 '" ".join(sorted({c["image"] for c in j["init"] + j["containers"]}))')" = "$IMAGE" ]

# --- The init container --------------------------------------------------------
t_begin install-cni
in_image() {  # SHELL-COMMAND: run in a throwaway container of the image
    "${PODMAN[@]}" run --rm --network none --ulimit nofile=1024:1024 \
        --ulimit nproc=1024:1024 --entrypoint /bin/sh "$IMAGE" -c "$1"
}
in_image 'cat /usr/lib/cni/ovn-lm' >"$T/image-ovn-lm" 2>/dev/null
no_package_manager() {
    in_image 'for t in apt apt-get dpkg; do ! command -v $t || exit 1; done' \
        >/dev/null 2>&1
}
t_check "no package manager in the image" no_package_manager
npkg=$(in_image 'n=0; while read -r k v; do [ "$k" != Package: ] || n=$((n + 1)); done </var/lib/dpkg/status; echo $n' 2>/dev/null)
echo "image: $((${LAYER_BYTES:-0} / 1048576)) MiB unpacked, $((${GZIP_BYTES:-0} / 1048576)) MiB compressed, $npkg Debian packages"
for n in 1 2; do
    argv "$n" 'j["init"][0]["argv"]'
    out=$("${PODMAN[@]}" "${ARGV[@]}" 2>&1)
    rc=$?
    t_check "chassis $n: the init container exits 0 ($rc: $(echo $out))" [ "$rc" = 0 ]
    bin=$T/h$n/host/opt/cni/bin/ovn-lm
    conf=$T/h$n/host/etc/cni/net.d/10-ovn-lm.conflist
    t_check "chassis $n: it installed the image's ovn-lm into opt/cni/bin" \
        cmp -s "$bin" "$T/image-ovn-lm"
    t_check "chassis $n: executable" [ -x "$bin" ]
    t_check "chassis $n: and the ConfigMap's conflist into etc/cni/net.d" \
        [ "$(cat "$conf" 2>/dev/null)" = "$CM_CONFLIST" ]
    t_check "chassis $n: no temporary file left" \
        [ "$(ls -A "$T/h$n/host/opt/cni/bin" "$T/h$n/host/etc/cni/net.d" | grep -c '^\.')" = 0 ]
done
out=$(CNI_COMMAND=VERSION "$T/h1/host/opt/cni/bin/ovn-lm" <<<'{"cniVersion":"1.0.0"}')
t_check "the installed plugin answers VERSION" grep -q '"1.0.0"' <<<"$out"

# --- The daemon container ------------------------------------------------------
t_begin daemon
for n in 1 2; do
    argv "$n" 'j["containers"][0]["argv"]'
    if out=$("${PODMAN[@]}" "${ARGV[@]}" 2>&1); then
        t_ok "chassis $n: daemon container started (${out:0:12})"
    else
        t_fail "chassis $n: podman run: $out"
    fi
done
for n in 1 2; do
    ctr=$(daemon_ctr "$n")
    t_check "chassis $n: the liveness probe answers" \
        lab_wait 20 "probe $n" probe "$n"
    t_check "chassis $n: the CNI socket is on the host's run/ovn-lm" \
        [ -S "$T/h$n/host/run/ovn-lm/ovn-lm.sock" ]
    t_check "chassis $n: in-cluster: pods, VMIs and VMIMs watched" \
        lab_wait 20 "daemon $n synced" kube_synced "$n"
    "${PODMAN[@]}" logs "$ctr" >"$T/h$n/daemon.log" 2>&1
    t_check "chassis $n: it says in-cluster" \
        grep -q 'Kubernetes API https://.* (in-cluster)' "$T/h$n/daemon.log"
    pid=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$ctr")
    want=$(cap_mask $(pj "$n" '" ".join(j["containers"][0]["capabilities"])'))
    t_check "chassis $n: effective capabilities are the manifest's ($(proc_field "$pid" CapEff), want $want)" \
        [ "$(proc_field "$pid" CapEff)" = "$want" ]
    t_check "chassis $n: bounding set too ($(proc_field "$pid" CapBnd))" \
        [ "$(proc_field "$pid" CapBnd)" = "$want" ]
    nnp=$(pj "$n" 'j["containers"][0]["noNewPrivs"]')
    t_check "chassis $n: NoNewPrivs as allowPrivilegeEscalation says ($nnp)" \
        [ "$(proc_field "$pid" NoNewPrivs)" = "$([ "$nnp" = true ] && echo 1 || echo 0)" ]
    user=$(pj "$n" 'j["containers"][0]["user"]')
    t_check "chassis $n: runs as $user" \
        [ "$(proc_field "$pid" Uid):$(proc_field "$pid" Gid)" = "${user%%:*}:${user##*:}" ]
    t_check "chassis $n: in the chassis's network namespace" \
        [ "$(readlink "/proc/$pid/ns/net")" = "$(ip netns exec "$(lab_ns_chassis "$n")" readlink /proc/self/ns/net)" ]
    if [ "$(pj "$n" 'j["containers"][0]["readOnlyRoot"]')" = true ]; then
        t_check "chassis $n: root file system read-only" ro_root "$ctr"
    fi
done

# --- Pods through it -------------------------------------------------------------
t_begin pods
# kubelet_cni CMD N POD [RUNTIME-CONFIG]: the runtime runs the installed
# plugin of chassis N with the installed conflist, for POD (in "default",
# container ID cid-POD), as containerd does.
kubelet_cni() {
    local cmd=$1 n=$2 name=$3 rc_json=${4:-'{}'} conf
    conf=$(python3 "$P2P" netconf \
        --conflist "$T/h$n/host/etc/cni/net.d/10-ovn-lm.conflist" \
        --host-root "$T/h$n/host" --runtime-config "$rc_json")
    CNI_RC=0
    CNI_OUT=$(env -i PATH="$PATH" CNI_COMMAND="$cmd" \
        CNI_CONTAINERID="cid-$name" \
        CNI_NETNS="/var/run/netns/$(lab_ns_pod "$name")" CNI_IFNAME=eth0 \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$name;K8S_POD_INFRA_CONTAINER_ID=cid-$name" \
        CNI_PATH="$T/h$n/host/opt/cni/bin" \
        "$T/h$n/host/opt/cni/bin/ovn-lm" <<<"$conf" 2>"$T/cni.err") ||
        CNI_RC=$?
}
# annotations VM: what containerd passes for a virt-launcher pod of VM
# (runtimeConfig io.kubernetes.cri.pod-annotations).
vm_annotations() {
    printf '{"io.kubernetes.cri.pod-annotations": {"kubevirt.io/domain": "%s", "kubevirt.io/allow-pod-bridge-network-live-migration": ""}}' "$1"
}
pod_add() {  # N POD [RUNTIME-CONFIG]
    lab_pod_netns "$2" >/dev/null || return 1
    kubelet_cni ADD "$@"
    if ((CNI_RC)); then
        echo "ADD $2: $CNI_OUT $(cat "$T/cni.err")" >&2
        return 1
    fi
    POD_IP=$(json_get "$CNI_OUT" 'j["ips"][0]["address"].split("/")[0]')
}
lsp() {  # PORT COLUMN:KEY
    lab_nbctl --if-exists get Logical_Switch_Port "$1" "$2" 2>/dev/null |
        tr -d '"'
}
mig_state() { lsp default_vm1 'external_ids:"ovn-lm/migration"'; }
state_is() { [ "$(mig_state)" = "$1" ]; }
wait_state() { lab_wait 5 "migration $1" state_is "$1"; }
events_are() {  # POD REASONS
    [ "$(k8s_event_reasons "$1" | tr '\n' ' ')" = "$2" ]
}
ping_from() {  # POD IP
    ip netns exec "$(lab_ns_pod "$1")" ping -c 2 -i 0.2 -W 2 -q "$2" \
        >/dev/null 2>&1
}

k8s_pod client "$N2" '{}' '{}' >/dev/null
pod_add 2 client '{"io.kubernetes.cri.pod-annotations": {}}' &&
    CLIENT_IP=$POD_IP && t_ok "ADD client on chassis 2 ($CLIENT_IP)" ||
    t_fail "ADD client"
k8s_vm_pod virt-launcher-vm1-a "$N1" vm1 >/dev/null
lab_wait 5 "pod in daemon 1's cache" kube_status_has 1 '^pods: .* 1 objects' ||
    t_fail "the VM's pod did not reach daemon 1's cache"
pod_add 1 virt-launcher-vm1-a "$(vm_annotations vm1)" && VM_IP=$POD_IP &&
    t_ok "ADD of vm1's virt-launcher pod on chassis 1 ($VM_IP)" ||
    t_fail "ADD vm1 source"
t_check "its port is named after the VM and migratable" \
    [ "$(lsp default_vm1 'external_ids:"ovn-lm/live-migration"')" = true ]
t_check "on the conflist's switch $SWITCH" \
    grep -q '(default_vm1)$' <<<"$(lab_nbctl lsp-list "$SWITCH")"
t_check "the record is in the host's var/lib/cni/ovn-lm" \
    [ -n "$(find "$T/h1/host/var/lib/cni/ovn-lm" -type f)" ]
t_check "client reaches the VM across chassis" ping_from client "${VM_IP:-x}"

# --- A live migration through it ------------------------------------------------
t_begin migration
k8s_apply "{\"apiVersion\": \"kubevirt.io/v1\", \"kind\": \"VirtualMachineInstance\",
    \"metadata\": {\"name\": \"vm1\", \"namespace\": \"default\"},
    \"status\": {\"nodeName\": \"$N1\", \"phase\": \"Running\"}}" >/dev/null
MUID=$(k8s_apply "{\"apiVersion\": \"kubevirt.io/v1\", \"kind\": \"VirtualMachineInstanceMigration\",
    \"metadata\": {\"name\": \"mig1\", \"namespace\": \"default\"},
    \"spec\": {\"vmiName\": \"vm1\"}, \"status\": {\"phase\": \"Scheduling\"}}")
k8s_patch VirtualMachineInstance vm1 "{\"status\": {\"migrationState\": {
    \"migrationUid\": \"$MUID\", \"sourceNode\": \"$N1\", \"targetNode\": \"$N2\"}}}"
k8s_vm_pod virt-launcher-vm1-b "$N2" vm1 "$MUID" >/dev/null
pod_add 2 virt-launcher-vm1-b "$(vm_annotations vm1)" &&
    t_ok "target pod's ADD on chassis 2" || t_fail "target ADD"
t_check "the target got the VM's IP" [ "${POD_IP:-}" = "${VM_IP:-x}" ]
t_check "prepared" [ "$(mig_state)" = prepared ]
t_check "requested-chassis lists source, then target" \
    [ "$(lsp default_vm1 options:requested-chassis)" = "$(lab_chassis_name 1),$(lab_chassis_name 2)" ]
t_check "activation-strategy=rarp" [ "$(lsp default_vm1 options:activation-strategy)" = rarp ]
k8s_patch VirtualMachineInstanceMigration mig1 '{"status": {"phase": "Running"}}'
ip netns exec "$(lab_ns_pod virt-launcher-vm1-b)" python3 "$TEST_HERE/rarp.py" eth0
t_check "the workload's RARP activates it" wait_state activated
t_check "the VM answers on the target" ping_from client "${VM_IP:-x}"
# KubeVirt's source pod goes: the kubelet's DEL on chassis 1.
kubelet_cni DEL 1 virt-launcher-vm1-a "$(vm_annotations vm1)"
t_check "the source pod's DEL succeeds" [ "$CNI_RC" = 0 ]
lab_pod_netns_del virt-launcher-vm1-a
t_check "and completes the migration" wait_state completed
t_check "the daemon says so" grep -q 'DEL of cid-virt-launcher-vm1-a/eth0 completes the migration' \
    <("${PODMAN[@]}" logs "$(daemon_ctr 1)" 2>&1)
# KubeVirt's word comes after: nothing more to do.
k8s_patch VirtualMachineInstance vm1 "{\"status\": {\"nodeName\": \"$N2\", \"migrationState\": {\"completed\": true}}}"
k8s_patch VirtualMachineInstanceMigration mig1 '{"status": {"phase": "Succeeded"}}'
sleep 0.5
t_check "still completed after KubeVirt's VMIM Succeeded" state_is completed
t_check "requested-chassis is the target alone" \
    [ "$(lsp default_vm1 options:requested-chassis)" = "$(lab_chassis_name 2)" ]
t_check "the target owns the port" \
    [ "$(lsp default_vm1 'external_ids:"ovn-lm/container-id"')" = cid-virt-launcher-vm1-b ]
t_check "the VM answers" ping_from client "${VM_IP:-x}"
t_check "Events: prepared, activated, completed" lab_wait 5 "events" \
    events_are virt-launcher-vm1-b \
    "MigrationPrepared MigrationActivated MigrationCompleted "
t_check "ovn-lm/migrations on chassis 2 tells it" bash -c \
    "ovs-appctl -t $LAB_H2_DAEMON_CTL ovn-lm/migrations | grep -q 'default_vm1 .*completed'"

# --- Clean up, as the kubelet stops the pods --------------------------------------
t_begin cleanup
for p in virt-launcher-vm1-b client; do
    kubelet_cni DEL 2 "$p"
    t_check "DEL $p" [ "$CNI_RC" = 0 ]
    lab_pod_netns_del "$p"
done
leaks() {
    local n
    for n in 1 2; do
        ip -n "$(lab_ns_chassis "$n")" -o link show | awk -F': ' '{print $2}' |
            sed 's/@.*//' | grep -E '^lm[0-9a-f]{12}$' | sed "s/^/h$n link /"
        lab_vsctl "$n" list-ports br-int | grep -E '^lm[0-9a-f]{12}$' |
            sed "s/^/h$n ovs-port /"
        find "$T/h$n/host/var/lib/cni/ovn-lm" -type f | sed "s/^/h$n record /"
    done
    lab_nbctl --bare --columns=name find Logical_Switch_Port \
        'external_ids:"ovn-lm/container-id"!=""' | grep -v '^$' | sed 's/^/nb /'
}
left=$(leaks 2>/dev/null)
t_check "no veth, OVS port, logical port or record left${left:+: $(echo $left)}" [ -z "$left" ]
grace=$(pj 1 'j["terminationGracePeriodSeconds"]')
for n in 1 2; do
    ctr=$(daemon_ctr "$n")
    pre=$(pj "$n" 'j["containers"][0]["preStop"]')
    if [ "$pre" != null ]; then
        argv "$n" 'j["containers"][0]["preStop"]'
        t_check "chassis $n: preStop hook" "${PODMAN[@]}" exec "$ctr" "${ARGV[@]}"
    fi
    "${PODMAN[@]}" stop -t "$grace" "$ctr" >/dev/null 2>&1
    code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$ctr")
    # 0 or 143 (SIGTERM): a clean exit.  137 is the runtime's SIGKILL
    # after the grace period, 139 a crash on the way out (the daemon is
    # PID 1 of its container, as in a pod: hostPID false).
    t_check "chassis $n: SIGTERM: a clean exit within terminationGracePeriodSeconds=$grace (exit $code)" \
        [ "$code" = 0 -o "$code" = 143 ]
    "${PODMAN[@]}" logs "$ctr" >"$T/h$n/daemon.log" 2>&1
    # Without the Secret ovn-lm-ovn-certs, --private-key & co. name absent
    # files: the daemon says so (stream_ssl ERR) and only ssl: remotes
    # fail, as daemonset.yaml documents.  Any other ERR counts.
    t_check "chassis $n: no sanitizer report, no ERR in the daemon's log" \
        bash -c "! grep -E 'Sanitizer|runtime error:|\\|ERR\\||\\|EMER\\|' '$T/h$n/daemon.log' | grep -v '|stream_ssl|ERR|'"
    "${PODMAN[@]}" rm -f "$ctr" >/dev/null 2>&1
done
t_check "no container left in the private store" \
    [ -z "$("${PODMAN[@]}" ps -aq)" ]
