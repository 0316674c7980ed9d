#!/bin/bash
# The daemons' Kubernetes client against an API server that behaves as a
# real one does where our stand-in used to be kinder.  The server is
# test/k8s/kube-apiserver-standin.py -- a TEST STAND-IN, not a Kubernetes
# API server (none can be installed here) -- run with what a real
# kube-apiserver does: h2 by ALPN (--http2), a start-up window of 1 s that
# answers 403 (RBAC not loaded) and 503, rare conditional bookmarks (60 s,
# only when newer), and after a restart 410 for every older
# resourceVersion.
#   http2: each daemon multiplexes its three watches on one connection; a
#     dropped connection fails them all at once ("stream ... was not
#     closed cleanly"), and all come back
#   quiet: a watch that gets no event and no bookmark says it is watching
#   restart: three API server restarts during a migration (prepared; the
#     RARP and KubeVirt's verdict while it is down; completed): every daemon
#     lists and watches again, the time from /readyz to every watch up is
#     printed; 403/503 were retried; the Event of a step taken while it was
#     down is posted once it is back; no Event posted twice, no verdict
#     decided twice
#
# usage: lab-k8s-apiserver.sh OVN-LM-BINARY DAEMON-BINARY
. "$(dirname "$0")/lab-common.sh" "$@"
. "$(dirname "$0")/lib-migration.sh"
. "$(dirname "$0")/lib-k8s.sh"

trap 'k8s_stop; [ -z "${K8S_KEEP:-}" ] || cp -r "$LAB_DIR" "$K8S_KEEP"; lab_teardown' EXIT

if ! python3 -c 'import sys; sys.path.append("/usr/lib/python3/dist-packages"); import h2' 2>/dev/null; then
    echo "no python3-h2 (scripts/install-deps.sh): skipped"
    exit 77
fi

STANDIN_OPTS=(--http2 --startup-window 1)
N1=$(lab_chassis_hostname 1)
N2=$(lab_chassis_hostname 2)

kubelet_add() {
    cni_add_pod "$1" "$2" "K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2" "${3:-}"
}
kubelet_del() {
    cni_run DEL "cid-$2" "/run/netns/$(lab_ns_pod "$2")" eth0 \
        "K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2" "$(cni_conf "$1")"
}
k8s_daemon_start() {
    LAB_DAEMON_ARGS="--kubeconfig=$K8S_DIR/kubeconfig --node-name={node}" \
        "$LAB_SH" daemon-start "$1" >/dev/null
}
all_synced() {
    kube_synced 1 && kube_synced 2 && kube_synced 3
}
events_of() {
    k8s_event_reasons "$1" | tr '\n' ' '
}
# verdicts WHAT: the migrations the three daemons ended on KubeVirt's word
# (WHAT: completed or "rolled back"), in all.
verdicts() {
    local n sum=0 v
    for n in 1 2 3; do
        v=$(kube_status "$n" | sed -n "s/^migrations completed: \([0-9]*\), rolled back: \([0-9]*\).*/\1 \2/p")
        if [ "$1" = completed ]; then v=${v% *}; else v=${v#* }; fi
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
# watchers_on PROTOCOL: how many of the stand-in's open watches use it.
watchers_on() {
    k8s watchers | python3 -c 'import json,sys; print(sum(w["protocol"] == sys.argv[1] for w in json.load(sys.stdin)))' "$1"
}
# api_connections: established connections to the stand-in, "N from M
# peers".
api_connections() {
    ip netns exec "$(lab_ns_central)" ss -Htn state established "( sport = :$K8S_PORT )" |
        awk '{ split($4, a, ":"); peers[a[1]] = 1; n++ } END { print n + 0, "from", length(peers), "peers" }'
}
# answered CODE: the stand-in answered the daemons CODE at least once.
answered() {
    k8s requests | python3 -c '
import json, sys
sys.exit(0 if any(r["code"] == int(sys.argv[1]) and (r["userAgent"] or "").startswith("ovn-controller-ext/")
                  for r in json.load(sys.stdin)) else 1)' "$1"
}
# status_lines_have TEXT: all three watch lines of every daemon have TEXT.
status_lines_have() {
    local n
    for n in 1 2 3; do
        [ "$(kube_status "$n" | grep -E '^(pods|virtualmachineinstances|virtualmachineinstancemigrations): ' |
            grep -c -- "$1")" = 3 ] || return 1
    done
}

# watch_errors N: chassis N's daemon's watches' error counts, "A,B,C".
watch_errors() {
    kube_status "$1" | sed -n 's/.*, errors \([0-9]*\).*/\1/p' | paste -sd,
}
# every_watch_failed BEFORE...: every watch of every daemon has counted an
# error since BEFORE[n] (from watch_errors).
every_watch_failed() {
    local n i old new
    for n in 1 2 3; do
        IFS=, read -r -a old <<<"$1"
        IFS=, read -r -a new <<<"$(watch_errors "$n")"
        shift
        [ "${#new[@]}" = 3 ] || return 1
        for i in 0 1 2; do
            [ "${new[i]}" -gt "${old[i]}" ] || return 1
        done
    done
}

# every_watch_up BEFORE...: every daemon watching (not connecting) with
# three more LISTs than BEFORE[n] (each of its watches listed again).
every_watch_up() {
    local n
    for n in 1 2 3; do
        kube_synced "$n" && [ "$(kube_lists "$n")" -ge $((${1} + 3)) ] || return 1
        shift
    done
}

# restart_api WHAT [EDIT]: stops the stand-in, runs EDIT on its state
# (what another API server replica wrote meanwhile), starts it again and
# measures the time from its /readyz answering 200 to every daemon's
# watches up again.  Appends it to RESTART_MS.
RESTART_MS=()
restart_api() {
    local what=$1 edit=${2:-} n before=() t_ready t_up i
    for n in 1 2 3; do
        before[n]=$(kube_lists "$n")
    done
    k8s_stop
    sleep 1
    [ -z "$edit" ] || "$edit" || { t_fail "$what: editing the state"; return 1; }
    k8s_start_with "${STANDIN_OPTS[@]}" || { t_fail "$what: the stand-in did not start"; return 1; }
    for ((i = 0; i < 200; i++)); do
        k8s_readyz && break
        sleep 0.02
    done
    t_ready=$(lab_now_ms)
    k8s_readyz || { t_fail "$what: /readyz never answered 200"; return 1; }
    for ((i = 0; i < 600; i++)); do
        every_watch_up "${before[1]}" "${before[2]}" "${before[3]}" && break
        sleep 0.02
    done
    t_up=$(lab_now_ms)
    if every_watch_up "${before[1]}" "${before[2]}" "${before[3]}"; then
        RESTART_MS+=($((t_up - t_ready)))
        echo "$what: /readyz -> every daemon's 3 watches listed and up again: $((t_up - t_ready)) ms"
        t_check "$what: every watch listed again and up within 10 s of /readyz ($((t_up - t_ready)) ms)" \
            [ $((t_up - t_ready)) -lt 10000 ]
    else
        t_fail "$what: not every watch came back within 12 s of /readyz"
        for n in 1 2 3; do kube_status "$n"; done
    fi
}

# vmim NAME: a VirtualMachineInstanceMigration of vm1; prints its uid.
vmim() {
    k8s_apply "{\"apiVersion\": \"kubevirt.io/v1\", \"kind\": \"VirtualMachineInstanceMigration\",
        \"metadata\": {\"name\": \"$1\", \"namespace\": \"default\"},
        \"spec\": {\"vmiName\": \"vm1\"}, \"status\": {\"phase\": \"Scheduling\"}}"
}
# migration_state UID SRC-NODE DST-NODE [EXTRA]: the VMI's migrationState.
migration_state() {
    k8s_patch VirtualMachineInstance vm1 "{\"status\": {\"migrationState\": null}}"
    k8s_patch VirtualMachineInstance vm1 "{\"status\": {\"migrationState\": {
        \"migrationUid\": \"$1\", \"sourceNode\": \"$2\", \"targetNode\": \"$3\"${4:+, $4}}}}"
}
# succeeded_offline: while the stand-in is down, KubeVirt's verdict on
# mig1 reaches etcd through another API server: the VMIM Succeeded, the
# VMI's migrationState completed.
succeeded_offline() {
    python3 - "$K8S_DIR/state.json" <<'PY'
import json, os, sys
path = sys.argv[1]
data = json.load(open(path))
rv = int(data["resourceVersion"])
for o in data["objects"]:
    if o["kind"] == "VirtualMachineInstanceMigration" and o["metadata"]["name"] == "mig1":
        rv += 1
        o["status"]["phase"] = "Succeeded"
        o["metadata"]["resourceVersion"] = str(rv)
    if o["kind"] == "VirtualMachineInstance" and o["metadata"]["name"] == "vm1":
        rv += 1
        o["status"]["migrationState"]["completed"] = True
        o["metadata"]["resourceVersion"] = str(rv)
data["resourceVersion"] = str(rv)
json.dump(data, open(path + ".tmp", "w"))
os.replace(path + ".tmp", path)
PY
}

# --- The stand-in as a real server, and the daemons on it ----------------------
t_begin setup
# A longer start-up window here, so that the daemons surely start within
# it however loaded the machine; 1 s for the restarts.
k8s_up && k8s_stop && k8s_start_with --http2 --startup-window 5 &&
    t_ok "API stand-in up (HTTP/2, start-up window, 60-s conditional bookmarks; pid $K8S_PID)" ||
    t_fail "the API stand-in did not start"
for n in 1 2 3; do
    "$LAB_SH" daemon-stop "$n" >/dev/null
    k8s_daemon_start "$n" || t_fail "daemon $n restart"
done
t_check "the daemons started within the start-up window got 403/503 and retried" \
    lab_wait 20 "every daemon synced" all_synced
t_check "  the stand-in answered them 403 (RBAC not loaded)" answered 403
t_check "  and 503" answered 503
t_check "  the daemons logged it" grep -qE 'HTTP (403|503)' "$LAB_DIR"/h*/ovn-controller-ext.log

# --- HTTP/2 ----------------------------------------------------------------------
t_begin http2
t_check "all 9 watches over HTTP/2" lab_wait 5 "9 h2 watches" [ "$(watchers_on HTTP/2)" = 9 ]
lab_wait 5 "one connection per daemon" [ "$(api_connections)" = "3 from 3 peers" ]
conns=$(api_connections)
t_check "each daemon multiplexes on one connection ($conns)" [ "$conns" = "3 from 3 peers" ]
for n in 1 2 3; do
    errors[n]=$(watch_errors "$n")
done
t0=$(lab_now_ms)
k8s drop-watches >/dev/null
t_check "a dropped connection: every watch of every daemon failed" \
    lab_wait 5 "every watch failing" every_watch_failed "${errors[1]}" "${errors[2]}" "${errors[3]}" ||
    { echo "errors before: ${errors[*]}"; for n in 1 2 3; do kube_status "$n"; done; }
echo "their errors:"
cat "$LAB_DIR"/h*/ovn-controller-ext.log | sed -n "s/.*|kube_watch|WARN|\([a-z]*\): watch failed: \(.*\); retrying in .*/  \1: \2/p" |
    sed 's/stream [0-9]*/stream N/' | sort | uniq -c
t_check "  with the HTTP/2 streams not closed cleanly" \
    grep -q 'watch failed: HTTP/2 stream [0-9]* was not closed cleanly' "$LAB_DIR"/h*/ovn-controller-ext.log
t_check "and all came back" lab_wait 10 "synced" all_synced
t_check "  still over HTTP/2" lab_wait 5 "9 h2 watches" [ "$(watchers_on HTTP/2)" = 9 ]
echo "dropped HTTP/2 connections -> every watch up again: $(($(lab_now_ms) - t0)) ms"

# --- A quiet watch ---------------------------------------------------------------
t_begin quiet
sleep 2
t_check "no event, no bookmark for 2 s: every watch says watching, live" \
    status_lines_have ': watching, synced, .*, live for [0-9]* s'
t_check "  none says connecting" bash -c "! ovs-appctl -t '$LAB_H1_DAEMON_CTL' ovn-lm/kube-status | grep -q connecting"

# --- API server restarts during a migration -----------------------------------
t_begin restart
k8s_vm_pod virt-launcher-vm1-a "$N1" vm1 >/dev/null
lab_wait 5 "pod in daemon 1's cache" \
    bash -c "ovs-appctl -t '$LAB_H1_DAEMON_CTL' ovn-lm/kube-status | grep -q '^pods: .* 1 objects'"
kubelet_add 1 virt-launcher-vm1-a >/dev/null && t_ok "ADD of the VM's pod on chassis 1" ||
    t_fail "ADD vm1 source"
k8s_apply "{\"apiVersion\": \"kubevirt.io/v1\", \"kind\": \"VirtualMachineInstance\",
    \"metadata\": {\"name\": \"vm1\", \"namespace\": \"default\"},
    \"status\": {\"nodeName\": \"$N1\", \"phase\": \"Running\"}}" >/dev/null
UID1=$(vmim mig1) || t_fail "VMIM mig1"
migration_state "$UID1" "$N1" "$N2"
k8s_vm_pod virt-launcher-vm1-b "$N2" vm1 "$UID1" >/dev/null
kubelet_add 2 virt-launcher-vm1-b >/dev/null && t_ok "target pod's ADD on chassis 2" ||
    t_fail "target ADD"
k8s_patch VirtualMachineInstanceMigration mig1 '{"status": {"phase": "Running"}}'
t_check "prepared" [ "$(mig_state vm1)" = prepared ]
t_check "Event: prepared" lab_wait 5 "event" [ "$(events_of virt-launcher-vm1-b)" = "MigrationPrepared " ]

restart_api "restart 1 (prepared)"
sleep 2
t_check "after the restart: still prepared" [ "$(mig_state vm1)" = prepared ]
t_check "  no Event again [$(events_of virt-launcher-vm1-b)]" [ "$(events_of virt-launcher-vm1-b)" = "MigrationPrepared " ]
t_check "  the relists changed nothing and said so" \
    grep -q 'virtualmachineinstancemigrations: listed 1 at resourceVersion [0-9]*, 0 changed' "$LAB_H2_DAEMON_LOG"

# While the API server is down: the workload's RARP activates the port (its
# Event cannot be posted yet), and KubeVirt's verdict reaches etcd through
# another API server.
activated_offline() {
    ip netns exec "$(lab_ns_pod virt-launcher-vm1-b)" python3 "$TEST_HERE/rarp.py" eth0 &&
        wait_state vm1 activated && succeeded_offline
}
restart_api "restart 2 (RARP and KubeVirt's verdict while it was down)" activated_offline
t_check "the relist brought the verdict: completed" lab_wait 5 "completed" wait_state vm1 completed
t_check "  requested-chassis is the target alone" [ "$(lsp_opt vm1 requested-chassis)" = "$(lab_chassis_name 2)" ]
t_check "the Event of the activation, posted while the server was down, came once it was back; then the completion's" \
    lab_wait 20 "events" [ "$(events_of virt-launcher-vm1-b | tr ' ' '\n' | sort | paste -sd' ')" = \
    "MigrationActivated MigrationCompleted MigrationPrepared" ]
t_check "  the daemon tried again" grep -q 'posting Event MigrationActivated for pod default/virt-launcher-vm1-b failed (.*); trying again' "$LAB_H2_DAEMON_LOG"

restart_api "restart 3 (completed)"
sleep 2
got=$(events_of virt-launcher-vm1-b | tr ' ' '\n' | sort | paste -sd' ')
t_check "after a restart after completion: each Event once [$got]" \
    [ "$got" = "MigrationActivated MigrationCompleted MigrationPrepared" ]
t_check "  3 Events in the stand-in in all" [ "$(k8s events | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ]
t_check "  one verdict by one daemon: completed $(verdicts completed), rolled back $(verdicts 'rolled back')" \
    [ "$(verdicts completed)/$(verdicts 'rolled back')" = 1/0 ]
t_check "  decided once in the logs" \
    [ "$(grep -c 'default_vm1: kubevirt: migration' "$LAB_DIR"/h*/ovn-controller-ext.log | awk -F: '{ n += $2 } END { print n }')" -le 1 ]
t_check "403 and 503 were retried after each restart: every daemon watches" all_synced

max=0
for ms in "${RESTART_MS[@]}"; do
    ((ms > max)) && max=$ms
done
echo "API server restarts: /readyz -> every watch of 3 daemons up: ${RESTART_MS[*]} ms (max $max ms; goal 2000 ms)"

# --- Clean up ----------------------------------------------------------------
t_begin cleanup
kubelet_del 1 virt-launcher-vm1-a
kubelet_del 2 virt-launcher-vm1-b
t_check "no veth, OVS port, logical port or record left" [ -z "$(leaks)" ]
lab_daemons_exit
k8s_stop
t_summary
