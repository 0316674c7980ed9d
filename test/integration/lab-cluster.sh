#!/bin/bash
# Clustered OVN databases, as production runs them: NB and SB are 3-member
# Raft clusters (LAB_CLUSTER=1, one namespace per member on the underlay);
# the daemons, ovn-controller and ovn-northd reach every member over TCP.
#   burst      the NB leader killed during a burst of 20 concurrent ADDs
#   mig-*      the NB leader killed at each migration step (prepared,
#              while the workload's RARP is sent, during completion)
#   sb-leader  the SB leader killed while a target waits for activation
#   partition  the NB leader's member cut off the underlay (link down):
#              ADDs go on against the new leader; it rejoins when healed
# Every ADD ends in success or a retryable error (code 11) whose retry, as
# a runtime retries, succeeds; no port is created twice or lost; every
# migration converges; the daemons report the reconnection in
# ovn-lm/connection-status (NB is written, so the daemon follows its
# leader; SB is read from any member); nothing leaks.
#
# usage: lab-cluster.sh OVN-LM-BINARY DAEMON-BINARY
export LAB_CLUSTER=1
. "$(dirname "$0")/lab-common.sh" "$@"
. "$(dirname "$0")/lib-migration.sh"

# The plugin's default readyTimeout (20 s), as a deployment has it: a
# leader change takes ovn-northd's IDL several seconds of reconnect
# back-off to follow, and the ADD waits for northd's address and
# ovn-controller's flows.
export CNI_READY_TIMEOUT=20
CONF='{}'

# add_retrying N NAME [CONF-MERGE]: ADD pod NAME (its netns made here) on
# chassis N the way a runtime does: a failed ADD is retried, 0.5 s apart,
# up to 40 times; the failure must have been undone, so the retry starts
# afresh.  Writes "RC TRIES IP CODES" (the error codes seen, comma-
# separated) to $LAB_DIR/burst/NAME.
add_retrying() {
    local n=$1 name=$2 merge=${3:-$CONF} netns tries=0 ip= codes=
    netns=/run/netns/$(lab_ns_pod "$name")
    mkdir -p "$LAB_DIR/burst"
    while :; do
        tries=$((tries + 1))
        cni_run ADD "cid-$name" "$netns" eth0 \
            "K8S_POD_NAMESPACE=default;K8S_POD_NAME=$name" \
            "$(cni_conf "$n" "$merge")"
        ((CNI_RC != 0 && tries < 40)) || break
        codes+=,$(cni_code)
        sleep 0.5
    done
    ((CNI_RC != 0)) ||
        ip=$(json_get "$CNI_OUT" 'j["ips"][0]["address"].split("/")[0]')
    echo "$CNI_RC $tries ${ip:-none} ${codes#,}" >"$LAB_DIR/burst/$name"
}

# del_retrying N NAME [CONF-MERGE]: DEL pod NAME on chassis N, retried as a
# runtime retries it (code 11 while the daemon follows a new leader).
# Sets DEL_TRIES.
del_retrying() {
    DEL_TRIES=0
    while :; do
        DEL_TRIES=$((DEL_TRIES + 1))
        cni_run DEL "cid-$2" "/run/netns/$(lab_ns_pod "$2")" eth0 "" \
            "$(cni_conf "$1" "${3:-$CONF}")"
        ((CNI_RC != 0 && DEL_TRIES < 40)) || break
        sleep 0.5
    done
    [ "$CNI_RC" = 0 ]
}

# completed_on VM N: VM's migration completed with its port on chassis N.
completed_on() {
    [ "$(mig_state "$1")/$(lsp_opt "$1" requested-chassis)" = \
        "completed/$(lab_chassis_name "$2")" ]
}

lsp_gone() { ! lsp_exists "$1"; }

# leader_among_others nb|sb I: a member other than I is leader.
leader_among_others() {
    local i
    for ((i = 1; i <= LAB_CLUSTER_SIZE; i++)); do
        ((i != $2)) || continue
        lab_db_status "$1" "$i" | grep -qx 'Role: leader' && return 0
    done
    return 1
}

# follows nb|sb I: member I is a follower that knows its leader.
follows() {
    local st
    st=$(lab_db_status "$1" "$2") || return 1
    grep -qx 'Role: follower' <<<"$st" && ! grep -q '^Leader: unknown' <<<"$st"
}

# reconnects N DB: chassis N's daemon's reconnection count for DB, from
# ovn-lm/connection-status.
reconnects() {
    ovs-appctl -t "$(lab_var "LAB_H$1_DAEMON_CTL")" ovn-lm/connection-status |
        sed -n "/^$2: /{n;s/^  reconnections: \([0-9]*\).*/\1/p}"
}

# row CASE FAULT OUTCOME: one line of the table printed at the end, "ok"
# if no check failed since the previous row.
TABLE=()
ROW_FAILED=0
row() {
    local verdict=ok
    ((T_FAILED == ROW_FAILED)) || verdict=FAILED
    ROW_FAILED=$T_FAILED
    TABLE+=("$(printf '%-10s %-44s %-6s %s' "$1" "$2" "$verdict" "$3")")
}

# kill_leader nb|sb: SIGKILLs the current leader's member and waits for a
# new leader; sets KILLED to the member and prints the failover time.
kill_leader() {
    local t0
    KILLED=$(lab_db_leader "$1") || { t_fail "no $1 leader to kill"; return 1; }
    t0=$(lab_now_ms)
    lab_db_kill "$1" "$KILLED"
    lab_wait 20 "a new $1 leader" lab_db_has_leader "$1" ||
        { t_fail "no new $1 leader"; return 1; }
    FAILOVER_MS=$(($(lab_now_ms) - t0))
    echo "    $1 leader member $KILLED killed; member $(lab_db_leader "$1") leads after $FAILOVER_MS ms"
}

# kill_leader_async nb|sb: the same, the kill itself in the background
# (so that it races with what the test does next); KILLED is set here.
# Call leader_back after 'wait'.
kill_leader_async() {
    KILLED=$(lab_db_leader "$1") || { t_fail "no $1 leader to kill"; return 1; }
    lab_db_kill "$1" "$KILLED" &
}
leader_back() {
    lab_wait 20 "a new $1 leader" lab_db_has_leader "$1" ||
        t_fail "no new $1 leader after killing member $KILLED"
}

# rejoin nb|sb I: restarts member I and waits until it follows a leader.
rejoin() {
    lab_db_start "$1" "$2" && lab_wait 20 "$1 member $2 to rejoin" follows "$1" "$2"
}

cni_add_pod 3 client >/dev/null || t_fail "ADD client"
CLIENT_IP=$POD_IP

t_begin setup
servers() {     # servers nb|sb: the members member 1 knows of
    lab_db_status "$1" 1 | sed -n '/^Servers:/,$p' | grep -c '(.* at tcp:'
}
t_check "NB and SB are 3-member clusters" [ "$(servers nb)/$(servers sb)" = 3/3 ]
t_check "the daemons list every NB member" bash -c \
    "ovs-appctl -t '$LAB_H1_DAEMON_CTL' ovn-lm/connection-status | grep -q 'OVN_Northbound: connected (tcp:.*,tcp:.*,tcp:.*)'"

# --- burst: the NB leader killed during 20 concurrent ADDs -----------------
t_begin burst
nb_before=$(reconnects 1 OVN_Northbound)
pids=()
for i in $(seq 1 20); do
    lab_pod_netns "b$i" >/dev/null
    add_retrying $(((i % 3) + 1)) "b$i" &
    pids+=($!)
done
sleep 0.3
kill_leader nb
wait "${pids[@]}"
ok=0 retried=0 bad=() seen=
for i in $(seq 1 20); do
    read -r rc tries ip codes <"$LAB_DIR/burst/b$i"
    if [[ $rc == 0 ]]; then ok=$((ok + 1)); else bad+=("b$i:rc=$rc"); fi
    ((tries == 1)) || { retried=$((retried + 1)); seen+=" b$i:$codes"; }
done
echo "    burst: $ok of 20 ADDs succeeded, $retried after a retry (codes:${seen:- none})"
t_check "every ADD ended in success, as a runtime retries${bad:+ (failed: ${bad[*]})}" [ "$ok" = 20 ]
row burst "NB leader killed during 20 concurrent ADDs" \
    "$ok/20 ADDs succeeded, $retried after code-11 retries; new leader in ${FAILOVER_MS:-?} ms"
names=$(lab_nbctl --bare --columns=name find Logical_Switch_Port \
    'external_ids:"ovn-lm/container-id"!=""' | grep '^default_b' | sort)
t_check "exactly one logical port per pod (20, none twice)" \
    [ "$(sort -u <<<"$names" | grep -c .)/$(grep -c . <<<"$names")" = 20/20 ]
ips=$(cut -d' ' -f3 "$LAB_DIR"/burst/b* | sort)
t_check "20 distinct addresses" [ "$(sort -u <<<"$ips" | grep -c '^10\.')" = 20 ]
t_check "a burst pod on chassis 1 reaches the client" \
    pod_ping b3 "$CLIENT_IP"
t_check "the client reaches a burst pod on chassis 2" \
    pod_ping client "$(cut -d' ' -f3 "$LAB_DIR/burst/b1")"
t_check "the daemon on chassis 1 reports the NB reconnection ($nb_before -> $(reconnects 1 OVN_Northbound))" \
    [ "$(reconnects 1 OVN_Northbound)" -gt "$nb_before" ]
rejoin nb "$KILLED" && t_ok "the killed member rejoined as a follower" ||
    t_fail "the killed member did not rejoin"
for i in $(seq 1 20); do
    del_retrying $(((i % 3) + 1)) "b$i" || t_fail "DEL b$i: $CNI_OUT"
    lab_pod_netns_del "b$i"
done
t_check "every burst port deleted" \
    [ -z "$(lab_nbctl --bare --columns=name find Logical_Switch_Port | grep '^default_b')" ]

# --- the NB leader killed at each migration step ---------------------------
# mig_case NAME STEP: vm-NAME migrates 1 -> 2; the NB leader dies at STEP
# (prepared | rarp | complete).
mig_case() {
    local name=$1 step=$2 vm=vm-$1 ip
    t_begin "mig-$step"
    vm_add 1 "$vm" "$name-src" >/dev/null || { t_fail "source ADD"; return; }
    ip=$POD_IP
    lab_pod_netns "$name-dst" >/dev/null
    add_retrying 2 "$name-dst" "$(vm_ann "$vm")"
    t_check "target ADD answered 0 (retries: $(cut -d' ' -f2 "$LAB_DIR/burst/$name-dst"))" \
        [ "$(cut -d' ' -f1 "$LAB_DIR/burst/$name-dst")" = 0 ]
    [ "$step" = prepared ] && kill_leader nb
    t_check "prepared" wait_state "$vm" prepared
    [ "$step" = rarp ] && kill_leader_async nb
    ip netns exec "$(lab_ns_pod "$name-dst")" python3 "$TEST_HERE/rarp.py" eth0
    wait
    [ "$step" = rarp ] && leader_back nb
    t_check "activated by the workload's RARP" lab_wait 20 activation wait_state "$vm" activated
    [ "$step" = complete ] && kill_leader_async nb
    del_retrying 1 "$name-src" "$(vm_ann "$vm")"
    wait
    [ "$step" = complete ] && leader_back nb
    t_check "source DEL succeeded (tries: $DEL_TRIES)" [ "$CNI_RC" = 0 ]
    t_check "completed on chassis 2" lab_wait 20 completion completed_on "$vm" 2
    t_check "the workload answers from chassis 2" pod_ping client "$ip"
    row "mig-$step" "NB leader killed at step '$step'" \
            "completed on chassis 2, reachable (source DEL tries: $DEL_TRIES)"
    rejoin nb "$KILLED" || t_fail "member $KILLED did not rejoin"
    del_retrying 2 "$name-dst" "$(vm_ann "$vm")"
    t_check "target DEL (tries: $DEL_TRIES)" [ "$CNI_RC" = 0 ]
    t_check "the port is gone with its last pod" lsp_gone "$vm"
    lab_pod_netns_del "$name-src"
    lab_pod_netns_del "$name-dst"
}
mig_case m1 prepared
mig_case m2 rarp
mig_case m3 complete

# --- the SB leader killed while a target waits for activation --------------
t_begin sb-leader
sb_before=$(reconnects 2 OVN_Southbound)
vm_add 1 vm-s "s-src" >/dev/null || t_fail "source ADD"
S_IP=$POD_IP
vm_add 2 vm-s "s-dst" >/dev/null || t_fail "target ADD"
t_check "prepared" wait_state vm-s prepared
kill_leader sb
ip netns exec "$(lab_ns_pod s-dst)" python3 "$TEST_HERE/rarp.py" eth0
t_check "activated although SB's leader changed while it waited" \
    lab_wait 20 activation wait_state vm-s activated
# The daemon reads SB from any member (not leader-only, as ovn-controller):
# a leader change is a reconnection only if it was on the killed member.
t_check "the daemon on chassis 2 reads SB again (reconnections $sb_before -> $(reconnects 2 OVN_Southbound))" \
    bash -c "ovs-appctl -t '$LAB_H2_DAEMON_CTL' ovn-lm/connection-status | grep -q '^OVN_Southbound: connected'"
del_retrying 1 s-src "$(vm_ann vm-s)"
t_check "completed by the source's DEL" lab_wait 10 completion wait_state vm-s completed
t_check "reachable on chassis 2" pod_ping client "$S_IP"
row sb-leader "SB leader killed while the target waits" \
        "activated by its RARP, completed, reachable"
rejoin sb "$KILLED" && t_ok "the SB member rejoined" || t_fail "SB member did not rejoin"
del_retrying 2 s-dst "$(vm_ann vm-s)"
t_check "target DEL (tries: $DEL_TRIES)" [ "$CNI_RC" = 0 ]
lab_pod_netns_del s-src
lab_pod_netns_del s-dst

# --- the NB leader's member partitioned away --------------------------------
t_begin partition
P=$(lab_db_leader nb)
lab_db_partition "$P"
t0=$(lab_now_ms)
t_check "the other two elect a leader" lab_wait 20 "a leader among the rest" \
    leader_among_others nb "$P"
echo "    NB member $P partitioned; a new leader after $(($(lab_now_ms) - t0)) ms"
lab_pod_netns "p1" >/dev/null
t0=$(lab_now_ms)
add_retrying 1 p1
read -r rc tries ip code <"$LAB_DIR/burst/p1"
ADD_MS=$(($(lab_now_ms) - t0))
echo "    ADD during the partition: rc $rc after $tries tries, $ADD_MS ms"
t_check "an ADD during the partition succeeds (as retried)" [ "$rc" = 0 ]
t_check "... and its pod reaches the client" pod_ping p1 "$CLIENT_IP"
row partition "NB leader's member partitioned (link down)" \
        "ADD succeeded after $tries tries in $ADD_MS ms"
lab_db_heal "$P"
t_check "the healed member follows the leader again" lab_wait 20 "member $P to rejoin" \
    follows nb "$P"
del_retrying 1 p1
t_check "DEL after healing (tries: $DEL_TRIES)" [ "$CNI_RC" = 0 ]
lab_pod_netns_del p1

# --- the end -----------------------------------------------------------------
t_begin end
del_retrying 3 client || t_fail "DEL client: $CNI_OUT"
lab_pod_netns_del client
left=$(leaks)
t_check "nothing leaked${left:+: $left}" [ -z "$left" ]
echo "--- fault table ---"
printf '%s\n' "${TABLE[@]}"
lab_daemons_exit
if [[ -n ${LAB_KEEP_LOGS:-} ]]; then     # for a failure's post-mortem
    mkdir -p "$LAB_KEEP_LOGS" &&
        (cd "$LAB_DIR" && find . -name '*.log' | cpio -pdm --quiet "$LAB_KEEP_LOGS")
fi
t_summary
