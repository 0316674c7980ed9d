#!/bin/bash
# A DaemonSet rollout in the lab.  The kubelet stops the old pod with
# SIGTERM while CNI requests and migrations are in flight; the new daemon
# (the upgrade) starts once the old one is gone.  Checked:
#   burst      SIGTERM during 20 concurrent ADDs: each ends in success or in
#              code 11 whose retry (as a runtime retries) succeeds against
#              the new daemon; no port created twice or lost; what the old
#              daemon had accepted it finished.
#   deadline   an ADD that cannot finish (ovn-controller stopped) is
#              answered 11 at the drain timeout, its retry succeeds; while
#              draining the daemon refuses new connections at once and is
#              idle (CPU ticks).
#   unixctl    a migration command waiting for its transaction is answered
#              before the daemon exits.
#   migration  SIGTERM after prepare, during the target's ADD, after
#              activation, during completion and during a rollback: each
#              migration ends as decided (lib-faults.sh), workloads
#              reachable, nothing left.
# Every SIGTERM: exit status 0 within the drain timeout, CNI socket file,
# unixctl socket and pidfile gone.
#
# usage: lab-upgrade.sh OVN-LM-BINARY DAEMON-BINARY OVN-LM-PROBE-BINARY
OVN_LM_PROBE=$(realpath "$3")
# The drain timeout of the daemons here (the default, 25 s, fits the
# manifest's grace period; a test needs less).
DRAIN=8
export LAB_DAEMON_ARGS="--drain-timeout=$DRAIN"
. "$(dirname "$0")/lab-common.sh" "$1" "$2"
. "$(dirname "$0")/lib-migration.sh"
. "$(dirname "$0")/lib-faults.sh"

ctl() { ovs-appctl -t "$(lab_var "LAB_H$1_DAEMON_CTL")" "${@:2}"; }

# --- Daemons whose exit we watch ---------------------------------------------
# The lab's daemons --detach, so their exit status goes to init.  Chassis 1
# and 2 get daemons that run as children of this script instead, with the
# command line (less --detach) and environment of the lab's.
declare -A FG_PID FG_DRAIN FG_T0
fg_adopt() {        # fg_adopt N: replaces the lab's daemon N by ours
    local pid
    pid=$(lab_pidfile_pid "$(lab_var "LAB_H$1_DAEMON_PIDFILE")") || return 1
    grep -z -v -x -e --detach "/proc/$pid/cmdline" >"$LAB_DIR/fg$1.argv"
    cat "/proc/$pid/environ" >"$LAB_DIR/fg$1.env"
    "$LAB_SH" daemon-stop "$1" >/dev/null
    fg_start "$1"
}

fg_ready() {
    local s
    [ -S "$(lab_var "LAB_H$1_DAEMON_SOCK")" ] || return 1
    s=$(ctl "$1" ovn-lm/connection-status 2>/dev/null) || return 1
    grep -q '^Open_vSwitch: connected' <<<"$s" &&
        grep -q '^OVN_Northbound: connected' <<<"$s" &&
        grep -q '^OVN_Southbound: connected' <<<"$s"
}

# fg_start N [DRAIN]: starts daemon N (the upgrade), drain timeout DRAIN.
fg_start() {
    local n=$1 argv envv
    FG_DRAIN[$n]=${2:-$DRAIN}
    mapfile -d '' argv <"$LAB_DIR/fg$n.argv"
    mapfile -d '' envv <"$LAB_DIR/fg$n.env"
    ip netns exec "$(lab_var "LAB_H${n}_NETNS")" env -i "${envv[@]}" \
        "${argv[@]}" --drain-timeout="${FG_DRAIN[$n]}" \
        >>"$LAB_DIR/fg$n.out" 2>&1 &
    FG_PID[$n]=$!
    lab_wait 10 "daemon $n ready" fg_ready "$n" || t_fail "daemon $n start"
}

fg_kill() {         # fg_kill N: SIGTERM to daemon N, as the kubelet does
    FG_T0[$1]=$(lab_now_ms)
    kill -TERM "${FG_PID[$1]}"
}

# fg_reap N [MIN-MS]: waits for daemon N to exit (SIGKILL after its drain
# timeout + 5 s, as the kubelet would at the end of the grace period) and
# checks how: status 0, within the drain timeout (and after MIN-MS if
# given), its files gone.  Sets FG_MS.
fg_reap() {
    local n=$1 min=${2:-0} pid=${FG_PID[$1]} limit rc
    limit=$((FG_DRAIN[$n] * 1000))
    while lab_pid_alive "$pid" &&
        (($(lab_now_ms) - FG_T0[$n] < limit + 5000)); do
        sleep 0.02
    done
    FG_MS=$(($(lab_now_ms) - FG_T0[$n]))
    lab_pid_alive "$pid" && kill -KILL "$pid"
    wait "$pid"
    rc=$?
    unset "FG_PID[$n]"
    t_check "daemon $n exits with status 0 on SIGTERM (is $rc)" [ "$rc" = 0 ]
    t_check "daemon $n exits within its drain timeout (${FG_MS} ms of $limit${min:+, at least $min})" \
        [ "$FG_MS" -le $((limit + 1000)) -a "$FG_MS" -ge "$min" ]
    t_check "daemon $n removed its CNI socket file" \
        [ ! -e "$(lab_var "LAB_H${n}_DAEMON_SOCK")" ]
    t_check "daemon $n removed its unixctl socket and pidfile" \
        [ ! -e "$(lab_var "LAB_H${n}_DAEMON_CTL")" -a \
        ! -e "$(lab_var "LAB_H${n}_DAEMON_PIDFILE")" ]
}

fg_term() { fg_kill "$1" && fg_reap "$1"; }     # fg_term N: both

# upgrade N: SIGTERM to daemon N, then the new daemon.
upgrade() { fg_term "$1"; fg_start "$1"; }

# A socket that cannot be made: the daemon says so and exits 1 (under a
# sanitizer: without touching the freed server, which it once did).
t_begin socket-error
err=$(lab_exec_chassis 1 "$LAB_DAEMON" --ovs-db="unix:$LAB_H1_DIR/db.sock" \
    --socket="$LAB_DIR/nonexistent/ovn-lm.sock" --unixctl="$LAB_DIR/bad.ctl" \
    --metrics-address=none 2>&1 >/dev/null)
rc=$?
t_check "a socket in a missing directory: exit 1 ($rc), the path named" \
    bash -c '[ "$1" = 1 ] && grep -q "cannot serve CNI requests on $2" <<<"$3"' \
    _ "$rc" "$LAB_DIR/nonexistent/ovn-lm.sock" "$err"

t_begin setup
fg_adopt 1
fg_adopt 2
cni_add_pod 3 client >/dev/null || t_fail "ADD client"
CLIENT_IP=$POD_IP

# in_flight N: requests daemon N is working on.
in_flight() {
    ctl "$1" ovn-lm/stats 2>/dev/null |
        sed -n 's/.*requests-in-progress=\([0-9]*\).*/\1/p'
}

# --- SIGTERM during a burst of ADDs ------------------------------------------
t_begin burst
NB=20
mkdir -p "$LAB_DIR/burst" "$LAB_DIR/pods"
CONF1=$(cni_conf 1)
for ((i = 1; i <= NB; i++)); do
    lab_pod_netns "u$i" >/dev/null
    echo 1 >"$LAB_DIR/pods/u$i"
done
# burst_add I CID: ADD pod uI as CID; its status and output in burst/uI.
burst_add() {
    cni_run ADD "$2" "/run/netns/$(lab_ns_pod "u$1")" eth0 \
        "K8S_POD_NAMESPACE=default;K8S_POD_NAME=u$1" "$CONF1"
    printf '%s\n%s\n' "$CNI_RC" "$CNI_OUT" >"$LAB_DIR/burst/u$1"
    [ "$CNI_RC" = 0 ]
}
burst_del() {       # burst_del I CID: DEL of pod uI's sandbox CID
    cni_run DEL "$2" "/run/netns/$(lab_ns_pod "u$1")" eth0 "" "$CONF1"
    [ "$CNI_RC" = 0 ]
}
# 12 ADDs, held in flight by a stopped ovn-controller (they wait for
# ovn-installed, an ADD's longest step), SIGTERM, 8 more ADDs while the
# daemon drains, as the runtime goes on starting pods; half a second later
# ovn-controller goes on and the daemon can finish what it holds.
OVNC1=$(lab_pidfile_pid "$LAB_H1_DIR/ovn-controller.pid")
kill -STOP "$OVNC1"
pids=()
for ((i = 1; i <= 12; i++)); do
    burst_add "$i" "cid-u$i" &
    pids+=($!)
done
lab_wait 10 "12 ADDs in flight" bash -c "[ \"\$(ovs-appctl -t $LAB_H1_DAEMON_CTL ovn-lm/list-requests | grep -c 'state=wait-ovn-installed')\" = 12 ]" ||
    t_fail "the ADDs did not all reach wait-ovn-installed"
inflight=$(in_flight 1)
fg_kill 1
for ((i = 13; i <= NB; i++)); do
    burst_add "$i" "cid-u$i" &
    pids+=($!)
done
sleep 0.5
kill -CONT "$OVNC1"
wait "${pids[@]}"
fg_reap 1
DRAIN_MS=$FG_MS
ok=0 refused=0 cut=0 aborted=0 other=0
retry_list=()
for ((i = 1; i <= NB; i++)); do
    { read -r rc; out=$(cat); } <"$LAB_DIR/burst/u$i"
    CNI_OUT=$out
    if [ "$rc" = 0 ]; then
        ok=$((ok + 1))
        continue
    fi
    retry_list+=("$i")
    msg=$(json_get "$out" 'j.get("msg")' 2>/dev/null)
    if [ "$(cni_code)" != 11 ]; then
        other=$((other + 1))
        echo "ADD u$i: $out"
    elif [[ $msg == *"closed the connection"* || $msg == *"without a reply"* ]]; then
        cut=$((cut + 1))
    elif [[ $msg == "cannot reach "* ]]; then
        refused=$((refused + 1))
    else
        aborted=$((aborted + 1))
        echo "ADD u$i: $msg"
    fi
done
echo "burst: $inflight of $NB ADDs in flight at SIGTERM; $ok succeeded," \
    "$refused refused at connect (code 11), $cut cut off (code 11)," \
    "$aborted answered 11 by the daemon, $other other; drained in $DRAIN_MS ms"
t_check "every ADD ended in success or code 11 ($other other)" [ "$other" = 0 ]
t_check "no ADD cut off mid-request ($cut)" [ "$cut" = 0 ]
t_check "no ADD abandoned by the draining daemon ($aborted)" [ "$aborted" = 0 ]
t_check "the $inflight in flight at SIGTERM all succeeded ($ok succeeded)" \
    [ "$ok" -ge "$inflight" ]
fg_start 1
# The runtime retries: the same ADD (a retried CNI call), or every other
# time a new sandbox (DEL of the failed one, then an ADD with a new ID).
declare -A CID
for ((i = 1; i <= NB; i++)); do CID[$i]=cid-u$i; done
retried_ok=0
for i in "${retry_list[@]}"; do
    if ((i % 2)); then
        retry 20 burst_add "$i" "cid-u$i"
    else
        retry 20 burst_del "$i" "cid-u$i" || echo "DEL u$i: $CNI_OUT"
        CID[$i]=cid-u$i-2
        retry 20 burst_add "$i" "${CID[$i]}"
    fi
    rc=$(head -1 "$LAB_DIR/burst/u$i")
    if [ "$rc" = 0 ]; then
        retried_ok=$((retried_ok + 1))
    else
        echo "retried ADD u$i: $(tail -n +2 "$LAB_DIR/burst/u$i")"
    fi
done
t_check "every retry against the new daemon succeeded ($retried_ok of ${#retry_list[@]})" \
    [ "$retried_ok" = "${#retry_list[@]}" ]
dups=0 lost=0 unreach=0
ips=()
for ((i = 1; i <= NB; i++)); do
    n=$(lab_nbctl --bare --columns=_uuid find Logical_Switch_Port \
        name="default_u$i" | grep -c .)
    holder=$(lab_nbctl --if-exists get Logical_Switch_Port "default_u$i" \
        'external_ids:"ovn-lm/container-id"' 2>/dev/null | tr -d '"')
    if ((n > 1)); then dups=$((dups + 1)); fi
    if ((n == 0)) || [ "$holder" != "${CID[$i]}" ]; then
        lost=$((lost + 1))
        echo "u$i: $n logical ports, held by '$holder', want ${CID[$i]}"
    fi
    ip=$(ip -n "$(lab_ns_pod "u$i")" -4 -o addr show eth0 2>/dev/null |
        awk '{print $4}' | cut -d/ -f1)
    ips+=("${ip:-none}")
    pod_ping client "${ip:-x}" || unreach=$((unreach + 1))
done
nports=$(lab_vsctl 1 list-ports br-int | grep -c '^lm')
iface_ids=$(lab_vsctl 1 --bare --columns=external_ids find Interface \
    'external_ids:"ovn-lm/container-id"!=""' | tr ' ' '\n' |
    sed -n 's/^iface-id=//p' | sort | uniq -d)
t_check "no logical port created twice ($dups)" [ "$dups" = 0 ]
t_check "no logical port lost or held by the wrong sandbox ($lost)" [ "$lost" = 0 ]
t_check "$NB OVS ports on chassis 1, one per logical port (is $nports${iface_ids:+, shared: $iface_ids})" \
    [ "$nports" = "$NB" -a -z "$iface_ids" ]
t_check "$NB distinct pod addresses" \
    [ "$(printf '%s\n' "${ips[@]}" | grep -v none | sort -u | grep -c .)" = "$NB" ]
t_check "every pod reachable from the client ($unreach not)" [ "$unreach" = 0 ]
for ((i = 1; i <= NB; i++)); do
    burst_del "$i" "${CID[$i]}" || t_fail "DEL u$i: $CNI_OUT"
    lab_pod_netns_del "u$i"
done
left=$(leaks | grep -e default_u -e cid-u || :)
t_check "nothing of the burst left after its DELs${left:+: $left}" [ -z "$left" ]

# --- A request that cannot finish within the drain timeout -------------------
# pod_add_ok CID POD N: ADD of pod POD as CID through chassis N succeeded.
pod_add_ok() {
    cni_run ADD "$1" "/run/netns/$(lab_ns_pod "$2")" eth0 \
        "K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2" "$(cni_conf "$3")"
    [ "$CNI_RC" = 0 ]
}

t_begin deadline
fg_term 1
fg_start 1 3
kill -STOP "$OVNC1"
ns=$(lab_pod_netns s1)
echo 1 >"$LAB_DIR/pods/s1"
(
    cni_run ADD cid-s1 "$ns" eth0 "K8S_POD_NAMESPACE=default;K8S_POD_NAME=s1" \
        "$CONF1"
    printf '%s\n%s\n' "$CNI_RC" "$CNI_OUT" >"$LAB_DIR/s1.out"
) &
adder=$!
lab_wait 5 "the ADD to wait for ovn-installed" \
    bash -c "ovs-appctl -t $LAB_H1_DAEMON_CTL ovn-lm/list-requests | grep -q 'container=cid-s1 .*state=wait-ovn-installed'" ||
    t_fail "the ADD never reached wait-ovn-installed"
fg_kill 1
sleep 0.3
pid1=${FG_PID[1]}
t_check "while draining the CNI socket file is gone already" \
    [ ! -e "$LAB_H1_DAEMON_SOCK" ]
ns2=$(lab_pod_netns s2)
echo 1 >"$LAB_DIR/pods/s2"
t0=$(lab_now_ms)
cni_run ADD cid-s2 "$ns2" eth0 "K8S_POD_NAMESPACE=default;K8S_POD_NAME=s2" \
    "$CONF1"
ms=$(($(lab_now_ms) - t0))
t_check "a new ADD while draining gets code 11 at once ($ms ms: $(json_get "$CNI_OUT" 'j.get("msg")' 2>/dev/null))" \
    [ "$(cni_code)" = 11 -a "$ms" -lt 1000 ]
t_check "... and leaves no record" [ ! -e "$LAB_DIR/cni-state/ovnlm/cid-s2:eth0" ]
if t0=$(cpu_ticks "$pid1"); then
    sleep 1
    ticks=$(($(cpu_ticks "$pid1") - t0))
    t_check "while draining it is idle ($ticks of $(getconf CLK_TCK) clock ticks in 1 s)" \
        [ "$ticks" -lt 20 ]
    [ "$ticks" -lt 20 ] || ctl 1 coverage/show | grep -E 'poll_|txn_' >&2
else
    t_fail "the daemon is gone before its drain timeout"
fi
fg_reap 1 2800
wait "$adder"
{ read -r rc; out=$(cat); } <"$LAB_DIR/s1.out"
CNI_OUT=$out
t_check "the unfinished ADD is answered 11 at the drain timeout ($(json_get "$out" 'j.get("msg")' 2>/dev/null))" \
    bash -c '[ "$1" = 11 ] && [[ $2 == *"drain timeout"* ]]' _ "$(cni_code)" "$out"
t_check "... and the plugin keeps its attachment record" \
    [ -e "$LAB_DIR/cni-state/ovnlm/cid-s1:eth0" ]
kill -CONT "$OVNC1"
fg_start 1
retry 20 pod_add_ok cid-s1 s1 1
t_check "its retry against the new daemon succeeds ($CNI_RC)" [ "$CNI_RC" = 0 ]
S1_IP=$(json_get "$CNI_OUT" 'j["ips"][0]["address"].split("/")[0]' 2>/dev/null)
retry 20 pod_add_ok cid-s2 s2 1
t_check "so does the refused one's" [ "$CNI_RC" = 0 ]
t_check "one logical port and one OVS port for the resumed ADD" \
    [ "$(lab_nbctl --bare --columns=_uuid find Logical_Switch_Port name=default_s1 | grep -c .)/$(lab_vsctl 1 list-ports br-int | grep -c '^lm')" = 1/2 ]
t_check "the resumed pod is reachable (${S1_IP:-no address})" \
    lab_wait 5 "ping s1" pod_ping client "${S1_IP:-x}"
for p in s1 s2; do
    cni_run DEL "cid-$p" "/run/netns/$(lab_ns_pod "$p")" eth0 "" "$CONF1"
    [ "$CNI_RC" = 0 ] || t_fail "DEL $p: $CNI_OUT"
    lab_pod_netns_del "$p"
done

# --- A migration command waiting for its transaction --------------------------
case_begin unixctl-pending
prepare && activate || t_fail "prepare/activate"
fg_term 2
fg_start 2 3
NBPID=$(lab_pidfile_pid "$LAB_CENTRAL_DIR/ovsdb-nb.pid")
kill -STOP "$NBPID"
ctl 2 ovn-lm/migration-complete "default_$VM" >"$LAB_DIR/appctl.out" \
    2>"$LAB_DIR/appctl.err" &
appctl=$!
sleep 0.3
fg_kill 2
wait "$appctl"
rc=$?
kill -CONT "$NBPID"
t_check "the pending command is answered, with an error, before the exit ($(cat "$LAB_DIR/appctl.err"))" \
    bash -c '[ "$1" != 0 ] && grep -q "not confirmed: ovn-controller-ext is exiting" "$2"' \
    _ "$rc" "$LAB_DIR/appctl.err"
fg_reap 2 2800
fg_start 2
t_check "the migration is activated or completed, nothing else ($(mig_state "$VM"))" \
    bash -c '[[ $1 == activated || $1 == completed ]]' _ "$(mig_state "$VM")"
retry 20 complete || t_fail "complete"
case_end completed

# --- SIGTERM at each step of a migration --------------------------------------
case_begin term-after-prepare
prepare || t_fail "prepare"
upgrade 2
t_check "prepared, options intact" \
    [ "$(mig_state "$VM")/$(lsp_opt "$VM" activation-strategy)/$(lsp_opt "$VM" requested-chassis)" = "prepared/rarp/$(lab_chassis_name 1),$(lab_chassis_name 2)" ]
activate || t_fail "activate"
complete || t_fail "complete"
case_end completed

case_begin term-during-target-add
echo 2 >"$LAB_DIR/pods/$CASE-dst"
lab_pod_netns "$CASE-dst" >/dev/null
cni_ok ADD "cid-$CASE-dst" "$CASE-dst" 2 &
adder=$!
sleep 0.1
fg_term 2
wait "$adder" || echo "the target's ADD failed; retried"
fg_start 2
retry 20 cni_ok ADD "cid-$CASE-dst" "$CASE-dst" 2 || t_fail "target ADD (retried)"
t_check "prepared" [ "$(mig_state "$VM")" = prepared ]
activate || t_fail "activate"
complete || t_fail "complete"
case_end completed

case_begin term-after-activation
prepare && activate || t_fail "prepare/activate"
upgrade 2
t_check "still activated after the upgrade" [ "$(mig_state "$VM")" = activated ]
upgrade 1
t_check "still activated after the source's upgrade" [ "$(mig_state "$VM")" = activated ]
complete || t_fail "complete"
case_end completed

case_begin term-during-completion
prepare && activate || t_fail "prepare/activate"
complete &
deleter=$!
sleep 0.1
fg_term 1
wait "$deleter" || echo "the source's DEL failed; retried"
fg_start 1
retry 20 complete || t_fail "complete (retried)"
case_end completed

case_begin term-during-rollback
prepare || t_fail "prepare"
cni_ok DEL "cid-$CASE-dst" "$CASE-dst" 2 &
deleter=$!
sleep 0.1
fg_term 2
wait "$deleter" || echo "the target's DEL failed; retried"
fg_start 2
retry 20 cni_ok DEL "cid-$CASE-dst" "$CASE-dst" 2 || t_fail "target DEL (retried)"
case_end rolled-back

faults_table

# --- Nothing left ------------------------------------------------------------
t_begin leaks
cni_run DEL cid-client "/run/netns/$(lab_ns_pod client)" eth0 "" "$(cni_conf 3)"
left=$(leaks)
t_check "nothing left at all${left:+: $left}" [ -z "$left" ]
t_check "daemon logs hold no ERR" bash -c "! grep -h '|ERR|' $LAB_DIR/h*/ovn-controller-ext.log"
fg_term 1
fg_term 2
lab_daemons_exit
t_summary
