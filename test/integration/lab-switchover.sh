#!/bin/bash
# (a) A process workload switched from chassis A to B and back under a
# 2 kHz probe from a pod on a third chassis: the responder stops on A,
# answers on B, and B announces it with a RARP.  The port was prepared by
# the target pod's ovn-lm ADD; the source pod's DEL completes it.  Figures
# are reported, not judged (bench/migration-switchover.sh measures), for
# the switchover and for the completion that follows it.
#
# usage: lab-switchover.sh OVN-LM-BINARY DAEMON-BINARY OVN-LM-PROBE-BINARY
OVN_LM_PROBE=$(realpath "$3")
. "$(dirname "$0")/lab-common.sh" "$1" "$2"
. "$(dirname "$0")/lib-migration.sh"
SWITCHOVER=$TEST_HERE/../../bench/switchover.py
RESPONDERS=()
trap 'kill -9 "${RESPONDERS[@]}" 2>/dev/null; lab_teardown' EXIT

responder() {
    "$OVN_LM_PROBE" --responder --netns "$(lab_ns_pod "$1")" >/dev/null 2>&1 &
    RESPONDERS+=("$!")
    echo $!
}

cni_add_pod 3 client >/dev/null || t_fail "ADD client"
CLIENT_NS=$(lab_ns_pod client)
vm_add 1 wl sw-0 >/dev/null || t_fail "ADD source"
WL_IP=$POD_IP
pid=$(responder sw-0)
sleep 0.2

for i in 1 2 3; do
    from=$(((i % 2) ? 1 : 2)) to=$(((i % 2) ? 2 : 1))
    t_begin "switch $i ($from->$to)"
    vm_add "$to" wl "sw-$i" >/dev/null || t_fail "target ADD"
    new=$(responder "sw-$i")
    sleep 0.2
    coproc SW { ip netns exec "$(lab_ns_pod "sw-$i")" python3 "$SWITCHOVER" \
        rarp --kill "$pid" --iface eth0; }
    read -r line <&"${SW[0]}"
    "$OVN_LM_PROBE" --netns "$CLIENT_NS" --rate 2000 --duration 1.5 --quiet \
        --json "$LAB_DIR/probe-$i.json" "$WL_IP" &
    probe=$!
    sleep 0.5
    echo go >&"${SW[1]}"
    read -r line <&"${SW[0]}"
    wait "$SW_PID"
    wait "$probe"
    report() { json_get "$(cat "$LAB_DIR/probe-$i.json")" "$1"; }
    t_check "the probe saw the workload before and after" \
        [ "$(report '(j["downtime"] or {}).get("open", True)')" = False ]
    t_check "no reply came twice (the blocked target stayed silent)" \
        [ "$(report 'j["duplicated"]')" = 0 ]
    t_check "activated by the workload's RARP" wait_state wl activated
    echo "# switch $i: longest gap $(report 'j["downtime"]["duration_ms"]') ms," \
        "$(report 'j["lost"]') of $(report 'j["sent"]') probes lost"
    # Completion, under the probe too: it tears duplication down, and OVN
    # reprograms the flows of a port that stays where it is.
    "$OVN_LM_PROBE" --netns "$CLIENT_NS" --rate 2000 --duration 1.5 --quiet \
        --json "$LAB_DIR/complete-$i.json" "$WL_IP" &
    probe=$!
    sleep 0.5
    cni_run DEL "cid-sw-$((i - 1))" "/run/netns/$(lab_ns_pod "sw-$((i - 1))")" \
        eth0 "" "$(cni_conf "$from")"
    t_check "the source pod's DEL completes it" [ "$(mig_state wl)" = completed ]
    wait "$probe"
    creport() { json_get "$(cat "$LAB_DIR/complete-$i.json")" "$1"; }
    t_check "replies keep flowing through completion" \
        [ "$(creport '(j["downtime"] or {}).get("open", True)')" = False ]
    echo "# completion $i: longest gap $(creport 'j["downtime"]["duration_ms"]') ms," \
        "$(creport 'j["lost"]') of $(creport 'j["sent"]') probes lost"
    lab_pod_netns_del "sw-$((i - 1))"
    pid=$new
done

t_begin leaks
kill -9 "${RESPONDERS[@]}" 2>/dev/null
cni_run DEL cid-sw-3 "/run/netns/$(lab_ns_pod sw-3)" eth0 "" "$(cni_conf 2)"
cni_run DEL cid-client "/run/netns/$CLIENT_NS" eth0 "" "$(cni_conf 3)"
left=$(leaks)
t_check "no veth, OVS port, logical port or record left${left:+: $left}" [ -z "$left" ]
lab_daemons_exit
t_summary
