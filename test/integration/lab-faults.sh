#!/bin/bash
# Fault injection during live migration, as a table of case x outcome.
# Each case migrates its own workload from chassis 1 to chassis 2 (prepare
# by the target pod's ovn-lm ADD, activate by the workload's RARP, complete
# by the source pod's DEL, or roll back by the target's DEL) and injects one
# fault on the way; a runtime's retries are played as kubelet does them.
# Every case must end converged: the expected final state, the workload
# reachable (ovn-lm-probe from chassis 3), and after its pods' DELs nothing
# of it left.
#
# usage: lab-faults.sh OVN-LM-BINARY DAEMON-BINARY OVN-LM-PROBE-BINARY
OVN_LM_PROBE=$(realpath "$3")
. "$(dirname "$0")/lab-common.sh" "$1" "$2"
. "$(dirname "$0")/lib-migration.sh"
. "$(dirname "$0")/lib-faults.sh"

cni_add_pod 3 client >/dev/null || t_fail "ADD client"
CLIENT_IP=$POD_IP

# --- The target's daemon ---------------------------------------------------
case_begin daemon-killed-after-target-add
prepare || t_fail "prepare"
kill_daemon 2
"$LAB_SH" daemon-start 2 >/dev/null
activate || t_fail "activate"
complete || t_fail "complete"
case_end completed

case_begin daemon-killed-during-target-add
echo 2 >"$LAB_DIR/pods/$CASE-dst"
cni_run ADD "cid-$CASE-dst" "$(lab_pod_netns "$CASE-dst")" eth0 \
    "K8S_POD_NAMESPACE=default;K8S_POD_NAME=$CASE-dst" \
    "$(cni_conf 2 "$(vm_ann "$VM")")" &
sleep 0.005
kill_daemon 2
wait
"$LAB_SH" daemon-start 2 >/dev/null
# kubelet: the failed sandbox is torn down, a new one is made.
retry 20 cni_ok DEL "cid-$CASE-dst" "$CASE-dst" 2 || t_fail "DEL of the failed target"
lab_pod_netns_del "$CASE-dst"
vm_add 2 "$VM" "$CASE-dst2" >/dev/null || t_fail "the new target's ADD"
send_rarp 2 "$VM" && wait_state "$VM" activated || t_fail "activate"
complete || t_fail "complete"
case_end completed

case_begin daemon-killed-at-activation
prepare || t_fail "prepare"
kill_daemon 2
ip netns exec "$(lab_ns_pod "$CASE-dst")" python3 "$TEST_HERE/rarp.py" eth0
"$LAB_SH" daemon-start 2 >/dev/null
wait_state "$VM" activated || t_fail "activation not noticed after restart"
complete || t_fail "complete"
case_end completed

case_begin daemon-killed-during-completion
prepare && activate || t_fail "prepare/activate"
kill_daemon 1
cni_ok DEL "cid-$CASE-src" "$CASE-src" 1 && t_fail "DEL answered by a dead daemon?"
"$LAB_SH" daemon-start 1 >/dev/null
retry 20 complete || t_fail "retried DEL"
case_end completed

case_begin daemon-killed-during-rollback
prepare || t_fail "prepare"
kill_daemon 2
cni_ok DEL "cid-$CASE-dst" "$CASE-dst" 2 && t_fail "DEL answered by a dead daemon?"
"$LAB_SH" daemon-start 2 >/dev/null
retry 20 cni_ok DEL "cid-$CASE-dst" "$CASE-dst" 2 || t_fail "retried DEL"
case_end rolled-back

# --- The databases and ovn-controller -----------------------------------------
case_begin nb-restarted-while-prepared
prepare || t_fail "prepare"
restart_pidfile "$LAB_CENTRAL_DIR/ovsdb-nb.pid" "$LAB_CENTRAL_NETNS" 0.5
activate || t_fail "activate"
retry 50 complete || t_fail "complete"
case_end completed

case_begin sb-restarted-while-prepared
prepare || t_fail "prepare"
restart_pidfile "$LAB_CENTRAL_DIR/ovsdb-sb.pid" "$LAB_CENTRAL_NETNS" 0.5
retry 25 activate || t_fail "activate"
retry 50 complete || t_fail "complete"
case_end completed

case_begin sb-restarted-at-activation
prepare || t_fail "prepare"
send_rarp 2 "$VM"
restart_pidfile "$LAB_CENTRAL_DIR/ovsdb-sb.pid" "$LAB_CENTRAL_NETNS" 0.2
# The activation may be lost with the restart: the workload announces
# itself again (QEMU does, five times).
wait_state "$VM" activated || { send_rarp 2 "$VM"; wait_state "$VM" activated; } ||
    t_fail "activate"
retry 50 complete || t_fail "complete"
case_end completed

case_begin controller-restarted-on-source
prepare || t_fail "prepare"
restart_pidfile "$LAB_H1_DIR/ovn-controller.pid" "$LAB_H1_NETNS" 0.3
t_check "options intact" [ "$(lsp_opt "$VM" activation-strategy)" = rarp ]
activate || t_fail "activate"
complete || t_fail "complete"
case_end completed

case_begin controller-restarted-on-target
prepare || t_fail "prepare"
restart_pidfile "$LAB_H2_DIR/ovn-controller.pid" "$LAB_H2_NETNS" 0.3
sleep 0.5
t_check "target still blocked after the restart" \
    target_blocked "$CASE-dst" "$CLIENT_IP"
retry 10 activate || t_fail "activate"
complete || t_fail "complete"
case_end completed

# --- The CNI binary ------------------------------------------------------------
case_begin cni-killed-during-target-add
lab_pod_netns "$CASE-dst" >/dev/null
env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="cid-$CASE-dst" \
    CNI_NETNS="/run/netns/$(lab_ns_pod "$CASE-dst")" CNI_IFNAME=eth0 \
    CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=$CASE-dst" \
    CNI_PATH=/opt/cni/bin "$OVN_LM_CNI" <<<"$(cni_conf 2 "$(vm_ann "$VM")")" \
    >/dev/null 2>&1 &
sleep 0.005
kill -KILL $! 2>/dev/null
wait
echo 2 >"$LAB_DIR/pods/$CASE-dst"
# kubelet: DEL the attempt, then a new sandbox.
retry 20 cni_ok DEL "cid-$CASE-dst" "$CASE-dst" 2 || t_fail "DEL of the killed attempt"
lab_pod_netns_del "$CASE-dst"
vm_add 2 "$VM" "$CASE-dst2" >/dev/null || t_fail "the new target's ADD"
send_rarp 2 "$VM" && wait_state "$VM" activated || t_fail "activate"
complete || t_fail "complete"
case_end completed

faults_table

t_begin leaks
cni_run DEL cid-client "/run/netns/$(lab_ns_pod client)" eth0 "" "$(cni_conf 3)"
left=$(leaks)
t_check "nothing left at all${left:+: $left}" [ -z "$left" ]
t_check "daemon logs hold no ERR" bash -c "! grep -h '|ERR|' $LAB_DIR/h*/ovn-controller-ext.log"
lab_daemons_exit
t_summary
