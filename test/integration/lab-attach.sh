#!/bin/bash
# Attach path, end to end: the ovn-lm CNI binary invoked exactly as a runtime
# does, against ovn-controller-ext on each chassis of a real OVN lab.
#
# usage: lab-attach.sh OVN-LM-BINARY DAEMON-BINARY
. "$(dirname "$0")/lab-common.sh" "$@"

ctl() { ovs-appctl -t "$(lab_var "LAB_H$1_DAEMON_CTL")" "${@:2}"; }

# --- Pods on three chassis talk over Geneve ---------------------------------
t_begin connectivity
cni_add_pod 1 a && IP_A=$POD_IP && RES_A=$CNI_OUT && t_ok "ADD a on chassis 1 ($IP_A)" || t_fail "ADD a"
cni_add_pod 2 b "K8S_POD_NAMESPACE=default;K8S_POD_NAME=b;IP=10.244.0.50" &&
    IP_B=$POD_IP && t_ok "ADD b on chassis 2 with static IP" || t_fail "ADD b"
t_check "b got the IP it asked for" [ "${IP_B:-}" = 10.244.0.50 ]
cni_add_pod 3 c "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=c;MAC=0a:58:00:00:00:63;FOO=bar" &&
    IP_C=$POD_IP && RES_C=$CNI_OUT && t_ok "ADD c on chassis 3 with static MAC, IgnoreUnknown" || t_fail "ADD c"
t_check "c has the MAC it asked for" \
    [ "$(json_get "${RES_C:-{\}}" 'j["interfaces"][1]["mac"]')" = 0a:58:00:00:00:63 ]
t_check "result names the sandbox and MTU" \
    [ "$(json_get "${RES_A:-{\}}" '(j["interfaces"][1]["sandbox"], j["cniVersion"], "mtu" in j["interfaces"][1])')" = "('$(lab_ns_pod a | sed 's|^|/run/netns/|')', '1.0.0', False)" ]
t_check "a pings b (chassis 1 -> 2)" pod_ping a "${IP_B:-x}"
t_check "b pings c (chassis 2 -> 3)" pod_ping b "${IP_C:-x}"
t_check "c pings a (chassis 3 -> 1)" pod_ping c "${IP_A:-x}"
t_check "pod MTU is underlay minus Geneve" \
    [ "$(ip -n "$(lab_ns_pod a)" -j link show eth0 | json_get "$(cat)" 'j[0]["mtu"]')" = 1442 ]
t_check "tx checksum offload is off in the pod" \
    bash -c "ip netns exec $(lab_ns_pod a) ethtool -k eth0 | grep -q '^tx-checksumming: off'"
t_check "logical port named namespace_pod, requested-chassis set" \
    [ "$(lab_nbctl get Logical_Switch_Port default_a options:requested-chassis | tr -d '"')" = "$(lab_chassis_name 1)" ]
t_check "ovn-lm/list-ports shows the port" bash -c "ovs-appctl -t $LAB_H1_DAEMON_CTL ovn-lm/list-ports | grep -q 'port=default_a .*installed=true nb=owned'"
t_check "ovn-lm/connection-status reports the databases" bash -c "ovs-appctl -t $LAB_H1_DAEMON_CTL ovn-lm/connection-status | grep -q 'OVN_Northbound: connected'"

# --- CHECK ----------------------------------------------------------------
t_begin check
conf_prev() { cni_conf 1 "{\"cniVersion\": \"1.0.0\", \"prevResult\": $1}"; }
cni_run CHECK cid-a "/run/netns/$(lab_ns_pod a)" eth0 "" "$(conf_prev "$RES_A")"
t_check "CHECK of a healthy pod succeeds" [ "$CNI_RC" = 0 ]
ip -n "$(lab_ns_pod a)" link set eth0 mtu 1300
cni_run CHECK cid-a "/run/netns/$(lab_ns_pod a)" eth0 "" "$(conf_prev "$RES_A")"
t_check "CHECK sees a changed MTU (code 104)" [ "$(cni_code)" = 104 ]
ip -n "$(lab_ns_pod a)" link set eth0 mtu 1442
lab_vsctl 1 remove Interface "$(json_get "$RES_A" 'j["interfaces"][0]["name"]')" external_ids ovn-installed
cni_run CHECK cid-a "/run/netns/$(lab_ns_pod a)" eth0 "" "$(conf_prev "$RES_A")"
t_check "CHECK sees the port no longer installed" [ "$(cni_code)" = 104 ]
lab_vsctl 1 set Interface "$(json_get "$RES_A" 'j["interfaces"][0]["name"]')" external_ids:ovn-installed=true

# An ADD of the existing attachment a, asking for b's address: refused, and
# a is left exactly as it was.
cni_run ADD cid-a "/run/netns/$(lab_ns_pod a)" eth0 \
    "K8S_POD_NAMESPACE=default;K8S_POD_NAME=a;IP=${IP_B:-10.244.0.50}" "$(cni_conf 1)"
t_check "a re-ADD asking for a held address is refused (100)" [ "$(cni_code)" = 100 ]
cni_run CHECK cid-a "/run/netns/$(lab_ns_pod a)" eth0 "" "$(conf_prev "$RES_A")"
t_check "... and the existing attachment is untouched" [ "$CNI_RC" = 0 ]
t_check "... record included" [ -e "$LAB_DIR/cni-state/ovnlm/cid-a:eth0" ]

# --- Metrics -----------------------------------------------------------------
t_begin metrics
# The exposition as a whole: HELP/TYPE for every family, cumulative
# buckets ending in +Inf == _count, _sum, no duplicate series.
for n in 1 2 3; do
    problems=$(metrics "$n" | python3 "$TEST_HERE/check-metrics.py" 2>&1)
    t_check "chassis $n's metrics are well-formed${problems:+: $problems}" [ -z "$problems" ]
done
# Exact counts after the sequence above on chassis 1: ADD a, the refused
# re-ADD; CHECKs: healthy, MTU changed, not installed, untouched.
for want in 'requests_total{command="ADD",result="success"} 1' \
            'requests_total{command="ADD",result="error"} 1' \
            'requests_total{command="CHECK",result="success"} 2' \
            'requests_total{command="CHECK",result="error"} 2' \
            'requests_total{command="DEL",result="success"} 0' \
            'request_duration_seconds_count{command="ADD",result="success"} 1' \
            'request_duration_seconds_count{command="ADD",result="error"} 1' \
            'request_duration_seconds_count{command="CHECK",result="success"} 2' \
            'request_duration_seconds_count{command="CHECK",result="error"} 2'; do
    got=$(metric 1 "ovn_lm_cni_${want% *}")
    t_check "ovn_lm_cni_${want% *} is ${want##* } (got ${got:-none})" [ "$got" = "${want##* }" ]
done
t_check "databases reported connected" \
    [ "$(metric 3 'ovn_lm_database_connected{database="OVN_Northbound"}')" = 1 ]
t_check "current ports gauge" [ "$(metric 3 ovn_lm_ports)" = 1 ]

# --- DEL --------------------------------------------------------------------
t_begin del
conf_del_prev="$(conf_prev "$RES_A")"
cni_run DEL cid-a "/run/netns/$(lab_ns_pod a)" eth0 "K8S_POD_NAMESPACE=default;K8S_POD_NAME=a" "$conf_del_prev"
t_check "DEL a with prevResult" [ "$CNI_RC" = 0 ]
t_check "logical port of a is gone" [ -z "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=default_a)" ]
t_check "veth of a is gone in the pod" bash -c "! ip -n $(lab_ns_pod a) link show eth0 >/dev/null 2>&1"
cni_run DEL cid-a "/run/netns/$(lab_ns_pod a)" eth0 "" "$(cni_conf 1)"
t_check "second DEL, without prevResult, succeeds" [ "$CNI_RC" = 0 ]
cni_run DEL cid-a "" eth0 "" "$(cni_conf 1)"
t_check "DEL with empty CNI_NETNS succeeds" [ "$CNI_RC" = 0 ]
lab_pod_netns_del b
cni_run DEL cid-b "/run/netns/$(lab_ns_pod b)" eth0 "" "$(cni_conf 2)"
t_check "DEL after the netns vanished succeeds" [ "$CNI_RC" = 0 ]
t_check "logical port of b is gone" [ -z "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=default_b)" ]
t_check "OVS port of b is gone" [ -z "$(lab_vsctl 2 list-ports br-int | grep '^lm')" ]
cni_run DEL never-added "" eth0 "" "$(cni_conf 3)"
t_check "DEL of something never added, with no netns, succeeds" [ "$CNI_RC" = 0 ]
cni_run DEL never-added "/run/netns/nope" eth0 "" "$(cni_conf 3)"
t_check "DEL of something never added, with a netns that is gone, succeeds" [ "$CNI_RC" = 0 ]

# --- A kubelet retrying a failing ADD ------------------------------------------
# The kubelet retries a failing ADD for as long as the pod exists: the
# daemon's warning about it is rate-limited (a burst of 20, then 10 a
# minute: the 60 tries take well under a minute).
t_begin log-flood
flood_ns=$(lab_pod_netns flood)
flood_conf=$(cni_conf 3 '{"logicalSwitch": "no-such-switch"}')
flood_log=$LAB_DIR/h3/ovn-controller-ext.log
flood_lines() { grep -c 'ADD cid-flood/eth0 failed' "$flood_log"; }
codes=""
for ((i = 0; i < 60; i++)); do
    cni_run ADD cid-flood "$flood_ns" eth0 "K8S_POD_NAMESPACE=default;K8S_POD_NAME=flood" "$flood_conf"
    codes+=" $(cni_code)"
done
t_check "each of the 60 failing ADDs answers error 7" \
    [ "$(tr ' ' '\n' <<<"$codes" | sort -u | tr -d '\n')" = 7 ]
n=$(flood_lines)
t_check "... and the daemon logged it 1 to 30 times, not 60 (got $n)" \
    [ "$n" -ge 1 -a "$n" -le 30 ]
lab_pod_netns_del flood

# --- GC ---------------------------------------------------------------------
t_begin gc
gc_conf() {
    cni_conf 1 "{\"cniVersion\": \"1.1.0\", \"cni.dev/valid-attachments\": [{\"containerID\": \"cid-g1\", \"ifname\": \"eth0\"}], \"cni.dev/attachments\": [{\"containerID\": \"cid-c\", \"ifname\": \"eth0\"}]}"
}
cni_add_pod 1 g1 >/dev/null && cni_add_pod 1 g2 >/dev/null && t_ok "two pods on chassis 1" || t_fail "ADD g1/g2"
cni_run GC "" "" "" "" "$(gc_conf)"
t_check "GC succeeds" [ "$CNI_RC" = 0 ]
t_check "GC kept the valid attachment" [ -n "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=default_g1)" ]
t_check "GC removed the stale one" [ -z "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=default_g2)" ]
t_check "GC removed the stale veth" bash -c "! ip -n $(lab_ns_pod g2) link show eth0 >/dev/null 2>&1"
t_check "GC left other chassis alone (c on chassis 3)" [ -n "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=default_c)" ]
t_check "GC removed the stale record" [ ! -e "$LAB_DIR/cni-state/ovnlm/cid-g2:eth0" ]

# --- STATUS and a stopped daemon --------------------------------------------
t_begin daemon-down
status_conf=$(cni_conf 1 '{"cniVersion": "1.1.0"}')
cni_run STATUS "" "" "" "" "$status_conf"
t_check "STATUS with the daemon up succeeds" [ "$CNI_RC" = 0 ]
"$LAB_SH" daemon-stop 1 >/dev/null
cni_run STATUS "" "" "" "" "$status_conf"
t_check "STATUS with the daemon stopped: code 50" [ "$(cni_code)" = 50 ]
ns=$(lab_pod_netns h)
cni_run ADD cid-h "$ns" eth0 "K8S_POD_NAMESPACE=default;K8S_POD_NAME=h" "$(cni_conf 1)"
t_check "ADD with the daemon stopped: code 11" [ "$(cni_code)" = 11 ]
cni_run DEL cid-h "$ns" eth0 "" "$(cni_conf 1)"
t_check "DEL of a never-created attachment with the daemon stopped succeeds" [ "$CNI_RC" = 0 ]
cni_run DEL cid-g1 "/run/netns/$(lab_ns_pod g1)" eth0 "" "$(cni_conf 1)"
t_check "DEL of a live attachment with the daemon stopped: code 11" [ "$(cni_code)" = 11 ]
"$LAB_SH" daemon-start 1 >/dev/null
cni_run DEL cid-g1 "/run/netns/$(lab_ns_pod g1)" eth0 "" "$(cni_conf 1)"
t_check "the retried DEL succeeds once the daemon is back" [ "$CNI_RC" = 0 ]

# --- A pod that vanished without a DEL (a runtime that gave up) --------------
t_begin sweep
cni_add_pod 2 s1 >/dev/null || t_fail "ADD s1"
"$LAB_SH" daemon-stop 2 >/dev/null
lab_pod_netns_del s1
cni_run DEL cid-s1 "/run/netns/$(lab_ns_pod s1)" eth0 "" "$(cni_conf 2)"
t_check "DEL with the daemon down: code 11, and the runtime gives up" [ "$(cni_code)" = 11 ]
"$LAB_SH" daemon-start 2 >/dev/null
gone() {
    [ -z "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=default_s1)" ] &&
        [ -z "$(lab_vsctl 2 list-ports br-int | grep '^lm')" ] &&
        [ ! -e "$LAB_DIR/cni-state/ovnlm/cid-s1:eth0" ]
}
t_check "the restarted daemon sweeps its port, OVS port and record" lab_wait 5 "sweep" gone
# ovn-lm/sweep answers once its job is done: its effect is there when it
# returns, with no wait.
cni_add_pod 2 s2 >/dev/null || t_fail "ADD s2"
cni_add_pod 2 s3 >/dev/null && S3_HOST=$(json_get "$CNI_OUT" 'j["interfaces"][0]["name"]') || t_fail "ADD s3"
lab_pod_netns_del s3
swept=$(ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/sweep)
t_check "ovn-lm/sweep reports what it removed ($swept)" [ "$swept" = "1 attachment(s) removed" ]
t_check "... the logical port of the vanished pod is gone when it returns" \
    [ -z "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=default_s3)" ]
s3_ovs_gone() { ! lab_vsctl 2 list-ports br-int | grep -qx "${S3_HOST:-x}"; }
t_check "... and its OVS port" s3_ovs_gone
t_check "... and its record" [ ! -e "$LAB_DIR/cni-state/ovnlm/cid-s3:eth0" ]
t_check "a sweep leaves live pods alone" [ -n "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name=default_s2)" ]
cni_run DEL cid-s2 "/run/netns/$(lab_ns_pod s2)" eth0 "" "$(cni_conf 2)"

# --- Daemon restart keeps attachments ----------------------------------------
t_begin restart
"$LAB_SH" daemon-restart 3 >/dev/null
t_check "after a restart the daemon still lists c" bash -c "ovs-appctl -t $LAB_H3_DAEMON_CTL ovn-lm/list-ports | grep -q 'port=default_c '"
cni_run CHECK cid-c "/run/netns/$(lab_ns_pod c)" eth0 "" "$(cni_conf 3 "{\"prevResult\": $RES_C}")"
t_check "CHECK of c after the restart succeeds" [ "$CNI_RC" = 0 ]
cni_run DEL cid-c "/run/netns/$(lab_ns_pod c)" eth0 "" "$(cni_conf 3)"
t_check "DEL c" [ "$CNI_RC" = 0 ]

# --- Nothing left ------------------------------------------------------------
t_begin leaks
left=$(leaks)
t_check "no veth, OVS port, logical port or record left${left:+: $left}" [ -z "$left" ]
t_check "daemon logs hold no ERR" bash -c "! grep -h '|ERR|' $LAB_DIR/h*/ovn-controller-ext.log"
lab_daemons_exit

t_summary
