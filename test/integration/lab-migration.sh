#!/bin/bash
# Live migration on multi-chassis port binding, in the lab, driven through
# the ovn-lm CNI binary exactly as a runtime invokes it (source and target
# pods opt in with KubeVirt's annotation and share the VM's logical port):
#   (c) rollback: the target is deleted before activation
#   (d) back to back A->B->A->B, each target blocked until its RARP
#   (e) a daemon killed and restarted at each step
#   (f) two workloads migrating at once in opposite directions
#   (g) the source pod deleted after success: the VM stays reachable, the
#       port keeps its port-group membership
# (a) and (b) -- a process and a real QEMU guest switched under a probe --
# are lab-switchover.sh and lab-qemu.sh.
#
# usage: lab-migration.sh OVN-LM-BINARY DAEMON-BINARY
. "$(dirname "$0")/lab-common.sh" "$@"
. "$(dirname "$0")/lib-migration.sh"

cni_add_pod 3 client >/dev/null || t_fail "ADD client"
CLIENT_IP=$POD_IP

# --- (c) rollback -----------------------------------------------------------
t_begin rollback
vm_add 1 vm1 c-src >/dev/null && VM1_IP=$POD_IP && t_ok "vm1 on chassis 1 ($VM1_IP)" || t_fail "ADD vm1 source"
t_check "no Kubernetes API: the port is named from the runtime's kubevirt.io/domain annotation" \
    lsp_exists vm1
t_check "the empty opt-in annotation opts in" [ "$(lsp_ext vm1 ovn-lm/live-migration)" = true ]
vm_add 2 vm1 c-dst >/dev/null && t_ok "target ADD on chassis 2 answered" || t_fail "ADD vm1 target"
t_check "target got the same IP" [ "${POD_IP:-}" = "${VM1_IP:-x}" ]
t_check "state prepared" [ "$(mig_state vm1)" = prepared ]
t_check "requested-chassis lists source then target" \
    [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 1),$(lab_chassis_name 2)" ]
t_check "activation-strategy=rarp" [ "$(lsp_opt vm1 activation-strategy)" = rarp ]
t_check "the target is blocked before any RARP" target_blocked c-dst "$CLIENT_IP"
t_check "the source still answers" pod_ping client "$VM1_IP"
t_check "... and reaches the client itself, with the same address" pod_ping c-src "$CLIENT_IP"
# target_blocked is not fooled by a pod that is merely broken.
not_blocked() { ! target_blocked "$@" 2>/dev/null; }
ip -n "$(lab_ns_pod c-dst)" link set eth0 down
t_check "target_blocked refuses a target whose eth0 is down" not_blocked c-dst "$CLIENT_IP"
ip -n "$(lab_ns_pod c-dst)" link set eth0 up
cni_run DEL cid-c-dst "/run/netns/$(lab_ns_pod c-dst)" eth0 "" "$(cni_conf 2)"
t_check "target DEL succeeds" [ "$CNI_RC" = 0 ]
t_check "state rolled-back" [ "$(mig_state vm1)" = rolled-back ]
t_check "requested-chassis is the source alone" [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 1)" ]
t_check "activation-strategy removed" [ -z "$(lsp_opt vm1 activation-strategy)" ]
t_check "the logical port survives" lsp_exists vm1
t_check "the source still answers after rollback" pod_ping client "$VM1_IP"
t_check "... and reaches the client itself" pod_ping c-src "$CLIENT_IP"
t_check "ovn-lm/migrations tells the rollback" bash -c \
    "ovs-appctl -t $LAB_H2_DAEMON_CTL ovn-lm/migrations | grep -q 'default_vm1 .*rolled back'"

# --- (d) back to back A -> B -> A -> B ----------------------------------------
t_begin back-to-back
prev=c-src
for hop in 1 2 3 4; do
    from=$(((hop % 2) ? 1 : 2))
    to=$(((hop % 2) ? 2 : 1))
    pod=d$hop
    vm_add "$to" vm1 "$pod" >/dev/null || t_fail "hop $hop: target ADD"
    t_check "hop $hop ($from->$to): prepared" [ "$(mig_state vm1)" = prepared ]
    t_check "hop $hop: target blocked before its RARP" target_blocked "$pod" "$CLIENT_IP"
    t_check "hop $hop: not activated before its RARP" [ -z "$(pb_activated vm1)" ]
    send_rarp "$to" vm1
    t_check "hop $hop: activated on chassis $to" wait_state vm1 activated
    t_check "hop $hop: target answers once activated" pod_ping client "$VM1_IP"
    t_check "hop $hop: the once-blocked target reaches the client" pod_ping "$pod" "$CLIENT_IP"
    cni_run DEL "cid-$prev" "/run/netns/$(lab_ns_pod "$prev")" eth0 "" "$(cni_conf "$from")"
    t_check "hop $hop: source DEL succeeds" [ "$CNI_RC" = 0 ]
    t_check "hop $hop: completed, requested-chassis=$to" \
        [ "$(mig_state vm1)/$(lsp_opt vm1 requested-chassis)" = "completed/$(lab_chassis_name "$to")" ]
    t_check "hop $hop: VM reachable on chassis $to" pod_ping client "$VM1_IP"
    lab_pod_netns_del "$prev"
    prev=$pod
done
t_check "four migrations counted" [ "$(lsp_ext vm1 ovn-lm/migration-count)" = 5 ]

# --- (g) source deleted after success -------------------------------------
# vm1 lives on chassis 1 now.
t_begin source-deleted
lab_nbctl pg-add pg_vms default_vm1
vm_add 2 vm1 g-dst >/dev/null || t_fail "target ADD"
send_rarp 2 vm1
wait_state vm1 activated || t_fail "not activated"
cni_del_stop 1 "$prev"
t_check "containerd's first DEL of the source (with prevResult) succeeds" [ "$CNI_RC" = 0 ]
t_check "and completes the migration" [ "$(mig_state vm1)/$(lsp_opt vm1 requested-chassis)" = "completed/$(lab_chassis_name 2)" ]
lab_pod_netns_del "$prev"
t_check "the VM stays reachable" pod_ping client "$VM1_IP"
# The kubelet's garbage collection, later: the same sandbox again, without
# prevResult, with an empty CNI_NETNS, while the target holds the port.
cni_del_gc 1 "$prev"
t_check "the source's late second DEL (no prevResult, empty CNI_NETNS) succeeds" [ "$CNI_RC" = 0 ]
t_check "and leaves the target's port alone: requested-chassis stays the target" \
    [ "$(lsp_opt vm1 requested-chassis)/$(lsp_ext vm1 ovn-lm/container-id)" = "$(lab_chassis_name 2)/cid-g-dst" ]
t_check "the port still exists" lsp_exists vm1
t_check "the target's OVS port is still installed" bash -c \
    "ovs-appctl -t $LAB_H2_DAEMON_CTL ovn-lm/list-ports | grep -q 'port=default_vm1 .*installed=true'"
t_check "the VM still answers on the target" pod_ping client "$VM1_IP"
t_check "the logical port keeps its port-group membership" \
    [ "$(lab_nbctl --bare --columns=ports find Port_Group name=pg_vms)" = "$(lab_nbctl --bare --columns=_uuid find Logical_Switch_Port name=default_vm1)" ]
t_check "the source's veth and OVS port are gone" [ -z "$(lab_vsctl 1 list-ports br-int | grep '^lm')" ]
t_check "the target now owns the port" [ "$(lsp_ext vm1 ovn-lm/container-id)" = cid-g-dst ]
t_check "ovn-lm/pod names the target pod" [ "$(lsp_ext vm1 ovn-lm/pod)" = default/g-dst ]
prev=g-dst

# --- (e) daemons killed and restarted at each step --------------------------
# vm1 lives on chassis 2 now.
t_begin restart
vm_add 1 vm1 e-dst >/dev/null || t_fail "target ADD"
"$LAB_SH" daemon-restart 1 >/dev/null
"$LAB_SH" daemon-restart 2 >/dev/null
t_check "after restarts in 'prepared': options intact" \
    [ "$(mig_state vm1)/$(lsp_opt vm1 activation-strategy)/$(lsp_opt vm1 requested-chassis)" = "prepared/rarp/$(lab_chassis_name 2),$(lab_chassis_name 1)" ]
t_check "and the target is still blocked" target_blocked e-dst "$CLIENT_IP"
# Kill the target's daemon hard, activate while it is down: the restarted
# daemon must notice the activation from Southbound.
kill -9 "$(cat "$LAB_H1_DAEMON_PIDFILE")"
ip netns exec "$(lab_ns_pod e-dst)" python3 "$TEST_HERE/rarp.py" eth0
"$LAB_SH" daemon-start 1 >/dev/null
t_check "activation seen by the restarted daemon" wait_state vm1 activated
kill -9 "$(cat "$LAB_H2_DAEMON_PIDFILE")"
"$LAB_SH" daemon-start 2 >/dev/null
cni_run DEL "cid-$prev" "/run/netns/$(lab_ns_pod "$prev")" eth0 "" "$(cni_conf 2)"
t_check "source DEL through a restarted daemon completes" \
    [ "$CNI_RC/$(mig_state vm1)/$(lsp_opt vm1 requested-chassis)" = "0/completed/$(lab_chassis_name 1)" ]
t_check "VM reachable after all that" pod_ping client "$VM1_IP"
lab_pod_netns_del "$prev"
prev=e-dst

# A rollback whose daemon died before it: timeout-free, through unixctl.
vm_add 2 vm1 e2-dst >/dev/null || t_fail "target ADD"
"$LAB_SH" daemon-restart 2 >/dev/null
ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/migration-rollback default_vm1 >/dev/null
t_check "unixctl rollback after a restart" [ "$(mig_state vm1)" = rolled-back ]
cni_run DEL cid-e2-dst "/run/netns/$(lab_ns_pod e2-dst)" eth0 "" "$(cni_conf 2)"
t_check "target DEL after the rollback leaves the port to the source" \
    [ "$CNI_RC/$(lsp_ext vm1 ovn-lm/container-id)" = "0/cid-$prev" ]
t_check "VM still reachable on the source" pod_ping client "$VM1_IP"

# --- (f) two workloads at once, opposite directions -------------------------
t_begin crossing
vm_add 1 vm2 f2-src >/dev/null && VM2_IP=$POD_IP || t_fail "vm2 source"
vm_add 2 vm3 f3-src >/dev/null && VM3_IP=$POD_IP || t_fail "vm3 source"
vm_add 2 vm2 f2-dst >/dev/null &
vm_add 1 vm3 f3-dst >/dev/null &
wait
t_check "both prepared" [ "$(mig_state vm2)/$(mig_state vm3)" = prepared/prepared ]
send_rarp 2 vm2 &
send_rarp 1 vm3 &
wait
t_check "vm2 activated" wait_state vm2 activated
t_check "vm3 activated" wait_state vm3 activated
cni_run DEL cid-f2-src "/run/netns/$(lab_ns_pod f2-src)" eth0 "" "$(cni_conf 1)" &
cni_run DEL cid-f3-src "/run/netns/$(lab_ns_pod f3-src)" eth0 "" "$(cni_conf 2)" &
wait
t_check "vm2 completed on chassis 2" [ "$(mig_state vm2)/$(lsp_opt vm2 requested-chassis)" = "completed/$(lab_chassis_name 2)" ]
t_check "vm3 completed on chassis 1" [ "$(mig_state vm3)/$(lsp_opt vm3 requested-chassis)" = "completed/$(lab_chassis_name 1)" ]
t_check "vm2 reachable" pod_ping client "${VM2_IP:-x}"
t_check "vm3 reachable" pod_ping client "${VM3_IP:-x}"
t_check "vm2 and vm3 reach each other" pod_ping f2-dst "${VM3_IP:-x}"

# --- Rollback on timeout ----------------------------------------------------
# vm2 lives on chassis 2; chassis 1's daemon gives targets one second.
t_begin timeout
LAB_DAEMON_ARGS=--migration-timeout=1 "$LAB_SH" daemon-restart 1 >/dev/null
vm_add 1 vm2 t2-dst >/dev/null || t_fail "target ADD"
t_check "prepared" [ "$(mig_state vm2)" = prepared ]
sleep 2.5
t_check "rolled back after the timeout" [ "$(mig_state vm2)/$(lsp_ext vm2 ovn-lm/migration-rollback-reason)" = rolled-back/timeout ]
t_check "requested-chassis back to the source" [ "$(lsp_opt vm2 requested-chassis)" = "$(lab_chassis_name 2)" ]
t_check "vm2 still reachable on its source" pod_ping client "${VM2_IP:-x}"
cni_run DEL cid-t2-dst "/run/netns/$(lab_ns_pod t2-dst)" eth0 "" "$(cni_conf 1)"
t_check "the target's DEL after a timeout succeeds" [ "$CNI_RC" = 0 ]
"$LAB_SH" daemon-restart 1 >/dev/null

# --- Auto-RARP: a restored container that never announces itself ------------
t_begin auto-rarp
vm_add 1 vm2 a2-dst '"ovn-lm.io/auto-rarp": "true"' >/dev/null || t_fail "target ADD"
sleep 0.3
t_check "still prepared while the pod holds no new process" [ "$(mig_state vm2)" = prepared ]
ip netns exec "$(lab_ns_pod a2-dst)" sleep 3 &
sleeper=$!
t_check "activated once a process starts in the target pod" wait_state vm2 activated
kill "$sleeper" 2>/dev/null
wait "$sleeper" 2>/dev/null
cni_run DEL cid-f2-dst "/run/netns/$(lab_ns_pod f2-dst)" eth0 "" "$(cni_conf 2)"
t_check "source DEL completes" [ "$(mig_state vm2)" = completed ]
t_check "vm2 reachable on chassis 1" pod_ping client "${VM2_IP:-x}"

# --- A transition whose transaction must be tried again -----------------------
# Northbound stops while the completion is in flight and dies before reading
# it: the daemon sees "try again" and nothing committed.  The retried
# completion is then the one and only completion: counted once in the
# metrics, once in ovn-lm/migrations.
t_begin try-again
nb_pidfile=$(lab_var LAB_CENTRAL_DIR)/ovsdb-nb.pid
nb_freeze() {       # Northbound stops reading: transactions stay in flight
    nb_pid=$(cat "$nb_pidfile")
    mapfile -d '' nb_argv <"/proc/$nb_pid/cmdline"
    mapfile -d '' nb_envv <"/proc/$nb_pid/environ"
    kill -STOP "$nb_pid"
}
nb_kill_restart() { # ... and dies without reading them, then comes back
    local i
    kill -KILL "$nb_pid"
    for ((i = 0; i < 100; i++)); do
        lab_pid_alive "$nb_pid" || break
        sleep 0.05
    done
    ip netns exec "$(lab_var LAB_CENTRAL_NETNS)" env -i "${nb_envv[@]}" \
        "${nb_argv[@]}" >/dev/null 2>&1
}
completed_sum() {
    local n sum=0
    for n in 1 2 3; do
        sum=$((sum + $(metric "$n" 'ovn_lm_migrations_total{outcome="completed"}')))
    done
    echo "$sum"
}
history_lines() {   # history_lines VM: "finished here" lines of chassis 1..3
    local n
    for n in 1 2 3; do
        ovs-appctl -t "$(lab_var "LAB_H${n}_DAEMON_CTL")" ovn-lm/migrations
    done | grep -c "^  default_$1 .* completed: "
}
vm_add 1 vm4 r-src >/dev/null && VM4_IP=$POD_IP || t_fail "ADD vm4 source"
src_addr=$(json_get "${CNI_OUT:-{\}}" 'j["ips"][0]["address"]')
# A stored prefix length that is not one is ignored (it was read with
# atoi(): "abc" gave the target a /0).
lab_nbctl set Logical_Switch_Port default_vm4 'external_ids:"ovn-lm/prefix-len"=abc'
vm_add 2 vm4 r-dst >/dev/null || t_fail "ADD vm4 target"
dst_addr=$(json_get "${CNI_OUT:-{\}}" 'j["ips"][0]["address"]')
t_check "a garbage stored prefix length is ignored (target $dst_addr, source $src_addr)" \
    [ "$dst_addr" = "$src_addr" ]
send_rarp 2 vm4
wait_state vm4 activated || t_fail "vm4 not activated"
before=$(completed_sum)
nb_freeze
timeout 20 ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/migration-complete \
    default_vm4 >"$LAB_DIR/try-again.out" 2>&1 &
appctl=$!
sleep 0.5
nb_kill_restart
wait "$appctl"
rc=$?
t_check "the completion in flight when Northbound died fails (rc $rc: $(cat "$LAB_DIR/try-again.out"))" \
    [ "$rc" != 0 ]
t_check "... and was not committed" [ "$(mig_state vm4)" = activated ]
nb_up() {
    ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/connection-status |
        grep -q 'OVN_Northbound: connected'
}
lab_wait 20 "Northbound reconnection" nb_up || t_fail "chassis 2 not reconnected"
got=$(completed_sum)
t_check "a failed completion is not counted (completed $before -> $got)" \
    [ "$got" = "$before" ]
t_check "... nor recorded as finished ($(history_lines vm4) lines)" \
    [ "$(history_lines vm4)" = 0 ]
ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/migration-complete default_vm4 \
    >/dev/null
t_check "the retried completion commits" [ "$(mig_state vm4)" = completed ]
got=$(completed_sum)
t_check "completion counted exactly once (completed $before -> $got)" \
    [ "$got" = $((before + 1)) ]
t_check "... and recorded once in ovn-lm/migrations ($(history_lines vm4) lines)" \
    [ "$(history_lines vm4)" = 1 ]
t_check "vm4 reachable on chassis 2" pod_ping client "${VM4_IP:-x}"
# Timeline keys that are not times are ignored, not read as a prefix.
lab_nbctl set Logical_Switch_Port default_vm4 \
    'external_ids:"ovn-lm/migration-t-activated"="12junk"' \
    'external_ids:"ovn-lm/migration-t-duplicating"="-5"'
timeline=$(ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/migrations | grep '^default_vm4 ')
t_check "garbage timeline keys are not shown as times ($timeline)" \
    bash -c "! grep -q -e 'activated=' -e 'duplicating=' <<<'$timeline'"
events=$(ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/migration-events default_vm4)
t_check "... nor as events ($events)" \
    bash -c "! grep -q -e 'activated (RARP)' -e 'duplication on' <<<'$events'"

# The target's note of when duplication began is written while Northbound
# is frozen, and Northbound dies before reading it: the daemon must write
# it again once Northbound is back (a lost note loses the prepare time and
# the MigrationPrepared Event).  ovn-controller on the target is held until
# Northbound is frozen, so that the ADD's own transaction commits first.
ctl_pid=$(cat "$LAB_DIR/h2/ovn-controller.pid")
vm_add 1 vm5 n-src >/dev/null || t_fail "ADD vm5 source"
kill -STOP "$ctl_pid"
vm_add 2 vm5 n-dst >"$LAB_DIR/note-add.out" 2>&1 &
adder=$!
wait_state vm5 prepared || t_fail "vm5 not prepared"
sleep 0.3
nb_freeze
kill -CONT "$ctl_pid"
wait "$adder"
t_check "the target ADD succeeds while Northbound is frozen" [ $? = 0 ]
sleep 0.3
nb_kill_restart
t_dup() { [ -n "$(lsp_ext vm5 ovn-lm/migration-t-duplicating)" ]; }
t_check "the duplication time lost with Northbound is written again" \
    lab_wait 15 "ovn-lm/migration-t-duplicating" t_dup
t_check "... and shows in ovn-lm/migrations" bash -c \
    "ovs-appctl -t $LAB_H2_DAEMON_CTL ovn-lm/migrations | grep -q 'default_vm5 .*duplicating=+'"

# The same for a completion by the source's DEL (attach.c's teardown): the
# DEL whose Northbound transaction is lost fails and counts nothing; its
# retry completes, counted once.
send_rarp 2 vm5
wait_state vm5 activated || t_fail "vm5 not activated"
before=$(completed_sum)
nb_freeze
cni_run DEL cid-n-src "/run/netns/$(lab_ns_pod n-src)" eth0 "" "$(cni_conf 1)" &
deleter=$!
sleep 0.5
nb_kill_restart
wait "$deleter"
lab_wait 20 "Northbound reconnection" nb_up || t_fail "chassis 2 not reconnected"
t_check "the source DEL whose transaction was lost did not complete" \
    [ "$(mig_state vm5)" = activated ]
got=$(completed_sum)
t_check "... and is not counted (completed $before -> $got, $(history_lines vm5) history lines)" \
    [ "$got/$(history_lines vm5)" = "$before/0" ]
nb_up1() {
    ovs-appctl -t "$LAB_H1_DAEMON_CTL" ovn-lm/connection-status |
        grep -q 'OVN_Northbound: connected'
}
lab_wait 20 "Northbound reconnection" nb_up1 || t_fail "chassis 1 not reconnected"
cni_run DEL cid-n-src "/run/netns/$(lab_ns_pod n-src)" eth0 "" "$(cni_conf 1)"
t_check "the retried source DEL succeeds and completes" \
    [ "$CNI_RC/$(mig_state vm5)" = 0/completed ]
got=$(completed_sum)
t_check "... counted exactly once (completed $before -> $got, $(history_lines vm5) history lines)" \
    [ "$got/$(history_lines vm5)" = "$((before + 1))/1" ]

# --- Metrics ---------------------------------------------------------------------
t_begin metrics
done=0
for n in 1 2; do
    done=$((done + $(metric "$n" 'ovn_lm_migrations_total{outcome="completed"}')))
done
# Daemons restarted above start counting afresh: what is left is chassis
# 2's rollback through unixctl and the completions of vm3 and vm2.
t_check "completed migrations counted ($done)" [ "$done" -ge 2 ]
t_check "rollbacks counted" [ "$(( $(metric 1 'ovn_lm_migrations_total{outcome="rolled_back"}') + $(metric 2 'ovn_lm_migrations_total{outcome="rolled_back"}') ))" -ge 1 ]
t_check "activation phase observed" \
    [ "$(( $(metric 1 'ovn_lm_migration_phase_seconds_count{phase="activation"}') + $(metric 2 'ovn_lm_migration_phase_seconds_count{phase="activation"}') ))" -ge 2 ]

# --- Nothing left -------------------------------------------------------------
t_begin leaks
for p in client "$prev" a2-dst f3-dst r-src r-dst n-dst n-src; do
    n=$(lab_pod_chassis "$p")
    cni_run DEL "cid-$p" "/run/netns/$(lab_ns_pod "$p")" eth0 "" "$(cni_conf "$n")"
done
left=$(leaks)
t_check "no veth, OVS port, logical port or record left${left:+: $left}" [ -z "$left" ]
t_check "daemon logs hold no ERR" bash -c "! grep -h '|ERR|' $LAB_DIR/h*/ovn-controller-ext.log"
lab_daemons_exit

t_summary
