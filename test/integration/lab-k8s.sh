#!/bin/bash
# Kubernetes drives live migration, in the lab.  The API server is
# test/k8s/kube-apiserver-standin.py -- a TEST STAND-IN speaking the real
# list/watch protocol over HTTPS, not a Kubernetes API server (none can be
# installed here).  The daemons watch it with --kubeconfig (one of them,
# later, in-cluster mode); the test plays the kubelet (CNI ADD/DEL) and
# KubeVirt (objects and status updates).  No unixctl command moves a
# migration here: only watch events and the workload's RARP.
#   pod metadata: from the watch cache, else one GET; the runtime's
#     annotations win
#   complete: the target pod's ADD while the VMIM is still Pending and the
#     VMI has no migrationState -> prepared at once; the phases up to
#     Running decide nothing; KubeVirt's target-ready timestamp recorded;
#     RARP -> activated; VMIM Succeeded -> completed; Events with the
#     durations; the source's two DELs (containerd: with prevResult, then
#     without and with an empty CNI_NETNS) leave the target's port alone
#   truth: VMIM Succeeded whose VMI migrationState has another UID, or
#     another target node, changes nothing
#   rollback: VMIM Failed -> rolled back
#   post-copy: a failure after post-copy started keeps the port on the target
#   abort: abortStatus Aborting waits, Succeeded (aborted) rolls back
#   resilience: 410 (compaction), dropped watches, a server restart, token
#     rotation and 401, a daemon restarted mid-migration (in-cluster mode)
#
# usage: lab-k8s.sh OVN-LM-BINARY DAEMON-BINARY
. "$(dirname "$0")/lab-common.sh" "$@"
. "$(dirname "$0")/lib-migration.sh"
. "$(dirname "$0")/lib-k8s.sh"

trap 'k8s_stop; [ -z "${K8S_KEEP:-}" ] || cp -r "$LAB_DIR" "$K8S_KEEP"; lab_teardown' EXIT

N1=$(lab_chassis_hostname 1)
N2=$(lab_chassis_hostname 2)
N3=$(lab_chassis_hostname 3)

# kubelet_add N POD: ADD of pod POD on chassis N as the kubelet and
# containerd do it: CNI_ARGS name the pod (with IgnoreUnknown, the sandbox
# and the pod's UID), runtimeConfig carries the pod's annotations (never
# its labels) and the kubelet's config.seen/config.source.
kubelet_args() {
    local uid
    uid=$(k8s_pod_uid "$1")
    echo "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$1;K8S_POD_INFRA_CONTAINER_ID=cid-$1${uid:+;K8S_POD_UID=$uid}"
}
kubelet_add() {
    cni_add_pod "$1" "$2" "$(kubelet_args "$2")" \
        "{\"runtimeConfig\": {\"io.kubernetes.cri.pod-annotations\": $(k8s_runtime_annotations "$2")}}"
}
# kubelet_add_bare N POD [CONF-MERGE]: the same through a runtime
# configured without the pod-annotations capability: CNI_ARGS only.
kubelet_add_bare() {
    cni_add_pod "$1" "$2" "K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2" "${3:-}"
}
# kubelet_del N POD: containerd's first DEL (StopPodSandbox: netns and
# prevResult); kubelet_gc_del N POD: its second, from the kubelet's garbage
# collection (no prevResult, empty CNI_NETNS).
kubelet_del() {
    cni_del_stop "$1" "$2" "$(kubelet_args "$2")"
}
kubelet_gc_del() {
    cni_del_gc "$1" "$2" "$(kubelet_args "$2")"
}
# kube_cached N CMD...: runs CMD (which creates a pod on chassis N's node),
# then waits until chassis N's daemon's pod cache has one more pod, as the
# kubelet acts on a pod only once the API has it.
kube_cached() {
    local n=$1 before
    shift
    before=$(kube_pods_cached "$n")
    "$@" >/dev/null || return 1
    lab_wait 5 "the pod in daemon $n's cache" pods_cached_above "$n" "${before:-0}"
}
pods_cached_above() {
    [ "$(kube_pods_cached "$1")" -gt "$2" ]
}
requests_have() {
    k8s requests | grep -qF -- "$1"
}
events_are() {
    [ "$(k8s_event_reasons "$1" | tr '\n' ' ')" = "$2" ]
}
has_event() {
    k8s_event_reasons "$1" | grep -qx "$2"
}
kube_status_has() {
    kube_status "$1" | grep -q -- "$2"
}
appctl_has() {
    ovs-appctl -t "$(lab_var "LAB_H$1_DAEMON_CTL")" "$2" | grep -q -- "$3"
}
rollback_reason() {
    lab_nbctl get Logical_Switch_Port default_vm1 \
        'external_ids:"ovn-lm/migration-rollback-reason"' | tr -d '"'
}
relists() {
    kube_status "$1" |
        sed -n 's/^virtualmachineinstancemigrations: .*relists \([0-9]*\).*/\1/p'
}
relisted_since() {
    [ "$(relists "$1")" -gt "$2" ]
}
# last_api_auth: whether the last API request carried an accepted token.
last_api_auth_ok() {
    k8s requests | python3 -c '
import json, sys
r = [x for x in json.load(sys.stdin) if x.get("path", "").startswith("/api")]
sys.exit(0 if r and r[-1].get("authOk") is True else 1)'
}
no_token_in_logs() {
    ! grep -qF -e "$1" -e "$2" "$LAB_DIR"/h*/ovn-controller-ext.log
}
# k8s_daemon_start N: chassis N's daemon, watching the stand-in.
k8s_daemon_start() {
    LAB_DAEMON_ARGS="--kubeconfig=$K8S_DIR/kubeconfig --node-name={node}" \
        "$LAB_SH" daemon-start "$1" >/dev/null
}
# migrate_start MIG SRC-NODE N POD: KubeVirt starts migration MIG of vm1
# to chassis N (the VMIM, the VMI's migrationState, the target pod POD) and
# the kubelet ADDs POD there.  Sets MUID to the migration's UID.
migrate_start() {
    local node
    node=$(lab_chassis_hostname "$3")
    MUID=$(vmim "$1") || return 1
    migration_state "$MUID" "$2" "$node"
    kube_cached "$3" k8s_vm_pod "$4" "$node" vm1 "$MUID" &&
        kubelet_add "$3" "$4" >/dev/null
}
no_event() {
    ! k8s_event_reasons "$1" | grep -qx "$2"
}
has_t_ready() {
    [ -n "$(lsp_ext vm1 ovn-lm/migration-t-target-ready)" ]
}
# workload_rarp POD: the workload in POD announces itself, as QEMU does.
workload_rarp() {
    ip netns exec "$(lab_ns_pod "$1")" python3 "$TEST_HERE/rarp.py" eth0
}
pod_gets() {
    kube_status "$1" | sed -n 's/^pod GETs: \([0-9]*\).*/\1/p'
}

# --- The stand-in and the daemons on it -------------------------------------
t_begin setup
k8s_up && t_ok "API stand-in up on https://$LAB_CENTRAL_IP:$K8S_PORT (pid $K8S_PID)" ||
    t_fail "the API stand-in did not start"
TOKEN0=$(cat "$K8S_DIR/client-token")
for n in 1 2 3; do
    "$LAB_SH" daemon-stop "$n" >/dev/null
    k8s_daemon_start "$n" || t_fail "daemon $n restart"
done
for n in 1 2 3; do
    t_check "daemon $n: pods, VMIs and VMIMs listed and watched" \
        lab_wait 10 "daemon $n synced" kube_synced "$n"
done
t_check "the pod watch selects this node's pods" \
    requests_have "fieldSelector=spec.nodeName%3D$N1"
t_check "watches ask for bookmarks" requests_have "allowWatchBookmarks=true"

# --- Pod metadata for the CNI path --------------------------------------------
t_begin pod-metadata
k8s_pod client "$N3" '{}' '{}' >/dev/null
kubelet_add 3 client >/dev/null && CLIENT_IP=$POD_IP &&
    t_ok "ADD client on chassis 3 ($CLIENT_IP)" || t_fail "ADD client"
k8s_vm_pod virt-launcher-vm1-a "$N1" vm1 >/dev/null
lab_wait 5 "pod in daemon 1's cache" kube_status_has 1 '^pods: .* 1 objects' ||
    t_fail "the pod did not reach daemon 1's cache"
kubelet_add_bare 1 virt-launcher-vm1-a >/dev/null && VM1_IP=$POD_IP &&
    t_ok "ADD of the VM's pod, no annotations passed ($VM1_IP)" ||
    t_fail "ADD vm1 source"
t_check "its port is named after the VM (annotations from the cache)" lsp_exists vm1
t_check "and is marked migratable" [ "$(lsp_ext vm1 ovn-lm/live-migration)" = true ]
t_check "no GET was needed" [ "$(pod_gets 1)" = 0 ]
# A pod the node's watch does not have (not yet bound, as the watch sees
# it): one GET.
k8s_pod odd "" '{}' '{"ovn-lm.io/port": "odd-port"}' >/dev/null
kubelet_add_bare 1 odd >/dev/null && t_ok "ADD of a pod not in the cache" || t_fail "ADD odd"
t_check "one GET fetched its annotations" [ "$(pod_gets 1)" = 1 ]
t_check "which named the port" [ -n "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=odd-port)" ]
# The runtime's annotations win over the API's.
k8s_pod odd2 "$N1" '{}' '{"ovn-lm.io/port": "from-api"}' >/dev/null
kubelet_add_bare 1 odd2 '{"runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"ovn-lm.io/port": "from-runtime"}}}' >/dev/null ||
    t_fail "ADD odd2"
t_check "annotations passed by the runtime win" [ -n "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=from-runtime)" ]
# A pod the API does not know: plain defaults.
kubelet_add_bare 1 ghost >/dev/null && t_ok "ADD of a pod unknown to the API succeeds" || t_fail "ADD ghost"
t_check "with the default port name" lsp_exists ghost
for p in odd odd2 ghost; do
    kubelet_del 1 "$p"
    [ "$CNI_RC" = 0 ] || t_fail "DEL $p"
    lab_pod_netns_del "$p"
done

# --- A migration driven by watch events --------------------------------------
t_begin complete
k8s_apply "{\"apiVersion\": \"kubevirt.io/v1\", \"kind\": \"VirtualMachineInstance\",
    \"metadata\": {\"name\": \"vm1\", \"namespace\": \"default\"},
    \"status\": {\"nodeName\": \"$N1\", \"phase\": \"Running\"}}" >/dev/null
vmim() {
    k8s_apply "{\"apiVersion\": \"kubevirt.io/v1\", \"kind\": \"VirtualMachineInstanceMigration\",
        \"metadata\": {\"name\": \"$1\", \"namespace\": \"default\"},
        \"spec\": {\"vmiName\": \"vm1\"}, \"status\": {\"phase\": \"${2:-Scheduling}\"}}"
}
# migration_state UID SRC-NODE DST-NODE [EXTRA]: the VMI's migrationState.
# KubeVirt writes a new migrationState per migration: a merge patch must
# not keep the last one's "completed".
migration_state() {
    k8s_patch VirtualMachineInstance vm1 "{\"status\": {\"migrationState\": null}}"
    k8s_patch VirtualMachineInstance vm1 "{\"status\": {\"migrationState\": {
        \"migrationUid\": \"$1\", \"sourceNode\": \"$2\", \"targetNode\": \"$3\"${4:+, $4}}}}"
}
# KubeVirt creates the target pod while the VMIM is still Pending and
# before the VMI has any migrationState: the target's ADD must not wait for
# either (a plugin that did deadlocked).
UID1=$(vmim mig1 Pending) && t_ok "VMIM mig1 created, phase Pending ($UID1)" || t_fail "VMIM mig1"
t_check "the VMI has no migrationState" [ -z "$(k8s get VirtualMachineInstance default vm1 | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status", {}).get("migrationState") or "")')" ]
kube_cached 2 k8s_vm_pod virt-launcher-vm1-b "$N2" vm1 "$UID1" || t_fail "target pod not in daemon 2's cache"
args=$(kubelet_args virt-launcher-vm1-b)
conf="{\"runtimeConfig\": {\"io.kubernetes.cri.pod-annotations\": $(k8s_runtime_annotations virt-launcher-vm1-b)}}"
t0=$(date +%s%N)
cni_add_pod 2 virt-launcher-vm1-b "$args" "$conf" >/dev/null &&
    t_ok "target pod's ADD on chassis 2 answered in $((($(date +%s%N) - t0) / 1000000)) ms, VMIM Pending, no migrationState" ||
    t_fail "target ADD with the VMIM Pending"
t_check "prepared" [ "$(mig_state vm1)" = prepared ]
t_check "requested-chassis lists source then target" \
    [ "$(lsp_opt vm1 requested-chassis)/$(lsp_opt vm1 activation-strategy)" = "$(lab_chassis_name 1),$(lab_chassis_name 2)/rarp" ]
t_check "the migration's UID is recorded (label from the cache)" [ "$(lsp_ext vm1 ovn-lm/migration-uid)" = "$UID1" ]
t_check "the target is blocked before the RARP" target_blocked virt-launcher-vm1-b "$CLIENT_IP"
# KubeVirt moves on; none of this decides anything.
for phase in Scheduling Scheduled PreparingTarget TargetReady; do
    k8s_patch VirtualMachineInstanceMigration mig1 "{\"status\": {\"phase\": \"$phase\"}}"
done
migration_state "$UID1" "$N1" "$N2" "\"mode\": \"PreCopy\", \"startTimestamp\": \"$(k8s_now)\", \"targetPod\": \"virt-launcher-vm1-b\""
k8s_patch VirtualMachineInstanceMigration mig1 '{"status": {"phase": "Running"}}'
sleep 1.2
t_check "phases Pending to Running and a PreCopy migrationState decide nothing" [ "$(mig_state vm1)" = prepared ]
# virt-handler marks the target pod once the VM is active there.
k8s_patch Pod virt-launcher-vm1-b "{\"metadata\": {\"annotations\": {\"kubevirt.io/migration-target-ready-timestamp\": \"$(k8s_now)\"}}}"
t_check "KubeVirt's target-ready timestamp goes into the port's timeline" \
    lab_wait 5 "t-target-ready" has_t_ready
t_check "and the daemon logged it" grep -q "default_vm1: KubeVirt marked target pod default/virt-launcher-vm1-b ready at" "$LAB_H2_DAEMON_LOG"
t_check "still prepared: the RARP activates, not the annotation" [ "$(mig_state vm1)" = prepared ]
workload_rarp virt-launcher-vm1-b
t_check "the workload's RARP activates it" wait_state vm1 activated
t_check "the VM answers on the target" pod_ping client "$VM1_IP"
# The VMIM's phase alone (migrationState not yet marked completed).
k8s_patch VirtualMachineInstanceMigration mig1 '{"status": {"phase": "Succeeded"}}'
t_check "VMIM Succeeded completes it" wait_state vm1 completed
migration_state "$UID1" "$N1" "$N2" '"completed": true'
t_check "requested-chassis is the target alone" [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 2)" ]
t_check "activation-strategy removed" [ -z "$(lsp_opt vm1 activation-strategy)" ]
t_check "the VM answers" pod_ping client "$VM1_IP"
kubelet_del 1 virt-launcher-vm1-a
t_check "the source pod's DEL (with prevResult) afterwards leaves the port to the target" \
    [ "$CNI_RC/$(lsp_ext vm1 ovn-lm/container-id)" = 0/cid-virt-launcher-vm1-b ]
lab_pod_netns_del virt-launcher-vm1-a
t_check "the VM still answers" pod_ping client "$VM1_IP"
kubelet_gc_del 1 virt-launcher-vm1-a
t_check "the source's second DEL (no prevResult, empty CNI_NETNS) succeeds" [ "$CNI_RC" = 0 ]
t_check "and moves nothing: requested-chassis is the target, the target owns the port" \
    [ "$(lsp_opt vm1 requested-chassis)/$(lsp_ext vm1 ovn-lm/container-id)" = "$(lab_chassis_name 2)/cid-virt-launcher-vm1-b" ]
t_check "the VM still answers on the target" pod_ping client "$VM1_IP"
t_check "Events: prepared, activated, completed on the target pod" \
    lab_wait 5 "events" events_are virt-launcher-vm1-b \
    "MigrationPrepared MigrationActivated MigrationCompleted "
msg=$(k8s_event_message virt-launcher-vm1-b MigrationCompleted)
t_check "the completed Event carries the durations ($msg)" \
    grep -qE 'in [0-9]+ ms: prepare [0-9]+ ms, activation [0-9]+ ms, completion [0-9]+ ms' <<<"$msg"
t_check "and KubeVirt's target-ready time" \
    grep -qE "KubeVirt marked the target ready -?[0-9]+ ms after the target's CNI ADD" <<<"$msg"
t_check "the daemon logged the migration's timings" \
    grep -qE 'migration default_vm1 .* completed \+[0-9]+ ms' "$LAB_H2_DAEMON_LOG"
t_check "kube-migrations maps the VMIM to the port" appctl_has 2 \
    ovn-lm/kube-migrations "default/mig1 uid=$UID1 vmi=vm1 phase=Succeeded .*port=default_vm1 state=completed"

# --- The VMI is the truth ----------------------------------------------------
# vm1 lives on chassis 2.  mig2 to chassis 3.
t_begin truth
migrate_start mig2 "$N2" 3 virt-launcher-vm1-c || t_fail "mig2: target ADD"
UID2=$MUID
workload_rarp virt-launcher-vm1-c
wait_state vm1 activated || t_fail "not activated"
# mig1's source, garbage-collected by its kubelet while mig2 runs.
kubelet_gc_del 1 virt-launcher-vm1-a
t_check "a late DEL of mig1's source during mig2 succeeds and changes nothing" \
    [ "$CNI_RC/$(mig_state vm1)/$(lsp_opt vm1 requested-chassis)/$(lsp_ext vm1 ovn-lm/container-id)" = "0/activated/$(lab_chassis_name 2),$(lab_chassis_name 3)/cid-virt-launcher-vm1-b" ]
t_check "and the VM answers on mig2's target" pod_ping client "$VM1_IP"
migration_state "some-other-uid" "$N2" "$N3" '"completed": true'
k8s_patch VirtualMachineInstanceMigration mig2 '{"status": {"phase": "Succeeded"}}'
sleep 1.5
t_check "VMIM Succeeded, VMI migrationState of another UID: nothing" [ "$(mig_state vm1)" = activated ]
migration_state "$UID2" "$N2" "$N1" '"completed": true'
sleep 1.5
t_check "same UID but another target node: nothing" [ "$(mig_state vm1)" = activated ]
t_check "the daemon says why it waits" grep -q "default_vm1: migration $UID2 went $N2 -> $N1, but the port moves" "$LAB_H3_DAEMON_LOG"
migration_state "$UID2" "$N2" "$N3" '"completed": true'
t_check "the VMI agrees: completed" wait_state vm1 completed
t_check "on chassis 3" [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 3)" ]
kubelet_del 2 virt-launcher-vm1-b
lab_pod_netns_del virt-launcher-vm1-b
t_check "the VM answers from chassis 3" pod_ping client "$VM1_IP"

# --- Rollback ----------------------------------------------------------------
# vm1 lives on chassis 3.  mig3 to chassis 1 fails.
t_begin rollback
migrate_start mig3 "$N3" 1 virt-launcher-vm1-d || t_fail "mig3: target ADD"
UID3=$MUID
t_check "prepared" [ "$(mig_state vm1)" = prepared ]
migration_state "$UID3" "$N3" "$N1" '"failed": true'
k8s_patch VirtualMachineInstanceMigration mig3 '{"status": {"phase": "Failed"}}'
t_check "VMIM Failed rolls it back" wait_state vm1 rolled-back
t_check "requested-chassis is the source alone" [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 3)" ]
t_check "the reason names KubeVirt" \
    grep -q "kubevirt: migration $UID3 failed" <<<"$(rollback_reason)"
t_check "the VM answers from the source" pod_ping client "$VM1_IP"
t_check "Event: rolled back" lab_wait 5 "event" \
    has_event virt-launcher-vm1-d MigrationRolledBack
kubelet_del 1 virt-launcher-vm1-d
lab_pod_netns_del virt-launcher-vm1-d
t_check "the target's DEL leaves the port to the source" [ "$CNI_RC/$(lsp_ext vm1 ovn-lm/container-id)" = 0/cid-virt-launcher-vm1-c ]
# The target node is lost (its daemon stopped): the source's daemon rolls
# back when KubeVirt says the migration failed.
migrate_start mig3b "$N3" 1 virt-launcher-vm1-d2 || t_fail "mig3b: target ADD"
UID3B=$MUID
"$LAB_SH" daemon-stop 1 >/dev/null
migration_state "$UID3B" "$N3" "$N1" '"failed": true'
k8s_patch VirtualMachineInstanceMigration mig3b '{"status": {"phase": "Failed"}}'
t_check "target's daemon down: the source's daemon rolls back after its grace" \
    lab_wait 15 "rolled back" wait_state vm1 rolled-back
t_check "and says why it did" grep -q "default_vm1: kubevirt: migration $UID3B failed; the target's daemon did not act within 5 s" "$LAB_H3_DAEMON_LOG"
t_check "requested-chassis is the source alone" [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 3)" ]
k8s_daemon_start 1 || t_fail "daemon 1 start"
lab_wait 10 "daemon 1 synced" kube_synced 1 || t_fail "daemon 1 not synced"
kubelet_del 1 virt-launcher-vm1-d2
lab_pod_netns_del virt-launcher-vm1-d2
t_check "the VM answers from the source" pod_ping client "$VM1_IP"

# --- The watch survives -------------------------------------------------------
t_begin resilience
# Watches that are up to date (bookmarks) survive a compaction; one that
# comes back from an older resourceVersion gets 410 and lists again.
r0=$(relists 2)
k8s drop-watches >/dev/null
k8s_patch VirtualMachineInstance vm1 '{"metadata": {"labels": {"touched": "1"}}}'
k8s compact >/dev/null
t_check "410 after a compaction: listed again" lab_wait 5 "relist" \
    relisted_since 2 "$r0"
t_check "and watching again" lab_wait 10 "synced" kube_synced 2
k8s drop-watches >/dev/null
t_check "dropped watches: back after a backoff" lab_wait 10 "synced" kube_synced 2
# mig4: chassis 3 -> 2, then the server goes away mid-migration.
migrate_start mig4 "$N3" 2 virt-launcher-vm1-e || t_fail "mig4: target ADD"
UID4=$MUID
workload_rarp virt-launcher-vm1-e
wait_state vm1 activated || t_fail "not activated"
k8s_stop
sleep 2
t_check "API server gone: the migration stays as it was" [ "$(mig_state vm1)/$(lsp_opt vm1 requested-chassis)" = "activated/$(lab_chassis_name 3),$(lab_chassis_name 2)" ]
t_check "the daemon says the watch is backing off" kube_status_has 2 'backing off'
pid2=$(lab_pidfile_pid "$LAB_H2_DAEMON_PIDFILE")
t0=$(cpu_ticks "$pid2")
sleep 1
ticks=$(($(cpu_ticks "$pid2") - t0))
t_check "and is idle meanwhile ($ticks of $(getconf CLK_TCK) clock ticks in 1 s)" \
    [ "$ticks" -lt 20 ]
t_check "the VM answers" pod_ping client "$VM1_IP"
k8s_start && t_ok "API stand-in restarted with its state (pid $K8S_PID)" || t_fail "restart"
t_check "watches back" lab_wait 40 "synced" kube_synced 2
migration_state "$UID4" "$N3" "$N2" '"completed": true'
k8s_patch VirtualMachineInstanceMigration mig4 '{"status": {"phase": "Succeeded"}}'
t_check "VMIM Succeeded after the restart completes it" wait_state vm1 completed
kubelet_del 3 virt-launcher-vm1-c
lab_pod_netns_del virt-launcher-vm1-c
# Token rotation: the server takes old and new, the client file changes,
# the old one goes.  Then a token the server refuses: 401, backoff.
new="token-$RANDOM$RANDOM"
printf '%s\n%s\n' "$(cat "$K8S_DIR/client-token")" "$new" >"$K8S_DIR/server-tokens"
echo "$new" >"$K8S_DIR/client-token"
echo "$new" >"$K8S_DIR/server-tokens"
k8s drop-watches >/dev/null
t_check "rotated token: watching again" lab_wait 10 "synced" kube_synced 2
t_check "with the new token" last_api_auth_ok
echo "refused-$RANDOM" >"$K8S_DIR/server-tokens"
k8s drop-watches >/dev/null
t_check "401: the daemon reports it" lab_wait 10 "401" kube_status_has 2 'HTTP 401'
echo "$new" >"$K8S_DIR/server-tokens"
t_check "token accepted again: watching" lab_wait 40 "synced" kube_synced 2

# --- Daemon restart mid-migration, in-cluster mode ---------------------------
# vm1 lives on chassis 2.  mig5 to chassis 1; chassis 1's daemon restarts
# between prepare and activation, in in-cluster mode.
t_begin restart
migrate_start mig5 "$N2" 1 virt-launcher-vm1-f || t_fail "mig5: target ADD"
UID5=$MUID
t_check "prepared" [ "$(mig_state vm1)" = prepared ]
kill -9 "$(lab_pidfile_pid "$LAB_H1_DAEMON_PIDFILE")"
KUBERNETES_SERVICE_HOST=$LAB_CENTRAL_IP KUBERNETES_SERVICE_PORT=$K8S_PORT \
    LAB_DAEMON_ARGS="--kubernetes=in-cluster --kubernetes-sa-dir=$K8S_DIR/sa --node-name={node}" \
    "$LAB_SH" daemon-start 1 >/dev/null || t_fail "daemon 1 start"
cp "$K8S_DIR/client-token" "$K8S_DIR/sa/token"
t_check "restarted in-cluster, synced" lab_wait 40 "synced" kube_synced 1
t_check "it says in-cluster" grep -q 'Kubernetes API https://.* (in-cluster)' "$LAB_H1_DAEMON_LOG"
t_check "the migration is still prepared" [ "$(mig_state vm1)" = prepared ]
workload_rarp virt-launcher-vm1-f
t_check "activated" wait_state vm1 activated
# KubeVirt has already collected the VMIM: the VMI alone tells.
k8s delete VirtualMachineInstanceMigration default mig5 >/dev/null
migration_state "$UID5" "$N2" "$N1" '"completed": true'
t_check "completed by the restarted daemon, from the VMI alone" wait_state vm1 completed
t_check "requested-chassis is chassis 1" [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 1)" ]
t_check "the VM answers" pod_ping client "$VM1_IP"
t_check "its Event for the completion was posted" lab_wait 5 "event" \
    has_event virt-launcher-vm1-f MigrationCompleted

# --- Post-copy: a failure after the switch keeps the target ------------------
# vm1 lives on chassis 1 (pod f).  mig6 to chassis 3 switches to post-copy:
# the VM runs on the target, which alone holds its current memory.  When
# the migration then fails, going back to the source would resurrect a
# stale VM: the port stays on the target.
t_begin post-copy
migrate_start mig6 "$N1" 3 virt-launcher-vm1-g || t_fail "mig6: target ADD"
UID6=$MUID
t_check "prepared" [ "$(mig_state vm1)" = prepared ]
k8s_patch VirtualMachineInstanceMigration mig6 '{"status": {"phase": "Running"}}'
migration_state "$UID6" "$N1" "$N3" '"mode": "PostCopy"'
workload_rarp virt-launcher-vm1-g
t_check "post-copy: the VM runs on the target, its RARP activates it" wait_state vm1 activated
migration_state "$UID6" "$N1" "$N3" '"mode": "PostCopy", "failed": true, "failureReason": "post-copy: connection to the source lost"'
k8s_patch VirtualMachineInstanceMigration mig6 '{"status": {"phase": "Failed"}}'
t_check "a failed post-copy migration is not rolled back: the target keeps the port" \
    wait_state vm1 completed
t_check "requested-chassis is the target alone" [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 3)" ]
t_check "the target owns the port" [ "$(lsp_ext vm1 ovn-lm/container-id)" = cid-virt-launcher-vm1-g ]
t_check "the daemon says why" grep -q "default_vm1: kubevirt: post-copy migration $UID6 failed: post-copy: connection to the source lost: the target holds the VM's only current state" "$LAB_H3_DAEMON_LOG"
t_check "the VM answers from the target" pod_ping client "$VM1_IP"
t_check "Warning Event MigrationPostCopyFailed on the target pod" lab_wait 5 "event" \
    has_event virt-launcher-vm1-g MigrationPostCopyFailed
t_check "no MigrationRolledBack" no_event virt-launcher-vm1-g MigrationRolledBack
kubelet_del 1 virt-launcher-vm1-f
kubelet_gc_del 1 virt-launcher-vm1-f
t_check "the source's two DELs leave the port on the target" \
    [ "$CNI_RC/$(lsp_opt vm1 requested-chassis)/$(lsp_ext vm1 ovn-lm/container-id)" = "0/$(lab_chassis_name 3)/cid-virt-launcher-vm1-g" ]
lab_pod_netns_del virt-launcher-vm1-f
t_check "the VM answers" pod_ping client "$VM1_IP"

# --- Abort ---------------------------------------------------------------------
# vm1 lives on chassis 3 (pod g).  mig7 to chassis 2 is aborted during
# pre-copy: Aborting decides nothing, Succeeded (the abort succeeded) rolls
# back.
t_begin abort
migrate_start mig7 "$N3" 2 virt-launcher-vm1-h || t_fail "mig7: target ADD"
UID7=$MUID
k8s_patch VirtualMachineInstanceMigration mig7 '{"status": {"phase": "Running"}}'
migration_state "$UID7" "$N3" "$N2" '"mode": "PreCopy", "abortRequested": true, "abortStatus": "Aborting"'
sleep 1.5
t_check "abortStatus Aborting: still prepared" [ "$(mig_state vm1)" = prepared ]
migration_state "$UID7" "$N3" "$N2" '"mode": "PreCopy", "abortRequested": true, "abortStatus": "Succeeded"'
t_check "abortStatus Succeeded (aborted) rolls back, before the VMIM says Failed" \
    wait_state vm1 rolled-back
k8s_patch VirtualMachineInstanceMigration mig7 '{"status": {"phase": "Failed"}}'
t_check "requested-chassis is the source alone" [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 3)" ]
t_check "the reason says aborted" grep -q "kubevirt: migration $UID7 was aborted" <<<"$(rollback_reason)"
t_check "the VM answers from the source" pod_ping client "$VM1_IP"
t_check "Event: rolled back" lab_wait 5 "event" has_event virt-launcher-vm1-h MigrationRolledBack
kubelet_del 2 virt-launcher-vm1-h
kubelet_gc_del 2 virt-launcher-vm1-h
t_check "the target's two DELs leave the port to the source" \
    [ "$CNI_RC/$(lsp_opt vm1 requested-chassis)/$(lsp_ext vm1 ovn-lm/container-id)" = "0/$(lab_chassis_name 3)/cid-virt-launcher-vm1-g" ]
lab_pod_netns_del virt-launcher-vm1-h

# --- Metrics ---------------------------------------------------------------------
t_begin metrics
m_ge() { local v; v=$(metric 2 "$1") && [ "${v:-0}" -ge "$2" ]; }
for r in pods virtualmachineinstances virtualmachineinstancemigrations; do
    t_check "watch_up{resource=\"$r\"} is 1" m_ge "ovn_lm_kubernetes_watch_up{resource=\"$r\"}" 1
done
t_check "relists counted" m_ge 'ovn_lm_kubernetes_watch_relists_total{resource="virtualmachineinstancemigrations"}' 1
t_check "errors counted" m_ge 'ovn_lm_kubernetes_watch_errors_total{resource="pods"}' 1
t_check "completions on KubeVirt's word counted" m_ge 'ovn_lm_kubernetes_verdicts_total{verdict="completed"}' 2
t_check "the post-copy failure kept on the target counted" \
    [ "$(metric 3 'ovn_lm_kubernetes_verdicts_total{verdict="kept-target"}')" = 1 ]
t_check "Events posted counted" m_ge 'ovn_lm_kubernetes_events_total{result="posted"}' 3

# --- Clean up ----------------------------------------------------------------
t_begin cleanup
kubelet_del 2 virt-launcher-vm1-e
kubelet_del 3 virt-launcher-vm1-g
kubelet_del 3 client
t_check "no veth, OVS port, logical port or record left" [ -z "$(leaks)" ]
t_check "no token in the daemons' logs" no_token_in_logs "$TOKEN0" "$new"
lab_daemons_exit
k8s_stop
t_summary
