# lib-faults.sh: helpers for tests that break things under a live migration
# and check that it converges (lab-faults.sh, lab-upgrade.sh).  Source after
# lib-migration.sh; needs OVN_LM_PROBE (tools/ovn-lm-probe).  A case
# migrates its own workload vm-NAME from chassis 1 to chassis 2; its pods
# are NAME-src (chassis 1), NAME-dst and NAME-dst2.

FAULTS_TABLE=()

# restart_pidfile PIDFILE NETNS [PAUSE]: stops the process of PIDFILE
# (SIGTERM) and starts it again, PAUSE seconds later, with the same command
# line and environment in NETNS (the lab's daemons all --detach).
restart_pidfile() {
    local pidfile=$1 ns=$2 pause=${3:-0} pid argv envv
    pid=$(cat "$pidfile")
    mapfile -d '' argv <"/proc/$pid/cmdline"
    mapfile -d '' envv <"/proc/$pid/environ"
    kill -TERM "$pid"
    local i
    for ((i = 0; i < 100; i++)); do
        lab_pid_alive "$pid" || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    sleep "$pause"
    ip netns exec "$ns" env -i "${envv[@]}" "${argv[@]}" >/dev/null 2>&1
}

kill_daemon() {     # kill_daemon N: SIGKILL chassis N's ovn-controller-ext
    kill -KILL "$(cat "$(lab_var "LAB_H$1_DAEMON_PIDFILE")")"
}

# retry N CMD...: CMD until it succeeds, N times at most, 0.2 s apart.
retry() {
    local n=$1 i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

cni_ok() {          # cni_ok CMD CID POD N: the CNI call answered 0
    cni_run "$1" "$2" "/run/netns/$(lab_ns_pod "$3")" eth0 \
        "K8S_POD_NAMESPACE=default;K8S_POD_NAME=$3" \
        "$(cni_conf "$4" "$(vm_ann "$VM")")"
    [ "$CNI_RC" = 0 ]
}

# reachable IP: 300 ICMP probes at 1 kHz from pod "client", up to three
# times while OVN converges; sets LOST (of the first run) and TRIES.
reachable() {
    local json=$LAB_DIR/probe-$CASE.json
    LOST= TRIES=0
    while ((TRIES < 3)); do
        TRIES=$((TRIES + 1))
        "$OVN_LM_PROBE" --netns "$(lab_ns_pod client)" --mode icmp \
            --rate 1000 --count 300 --quiet --json "$json" "$1" \
            >/dev/null 2>&1
        LOST=${LOST:-$(json_get "$(cat "$json")" 'j["lost"]')}
        [ "$(json_get "$(cat "$json")" 'j["sent"] - j["lost"] > 0 and not (j["downtime"] or {}).get("open", False)')" = True ] &&
            return 0
    done
    return 1
}

# The common path: prepare (the target pod's ADD on chassis 2), activate
# (the workload's RARP there), complete (the source pod's DEL on chassis 1).
prepare() { vm_add 2 "$VM" "$CASE-dst" >/dev/null; }
activate() { send_rarp 2 "$VM" && wait_state "$VM" activated; }
complete() { cni_ok DEL "cid-$CASE-src" "$CASE-src" 1; }

# case_begin NAME: a fresh workload vm-NAME with its source pod on chassis 1.
case_begin() {
    CASE=$1 VM=vm-$1
    t_begin "$CASE"
    vm_add 1 "$VM" "$CASE-src" >/dev/null || t_fail "source ADD"
    VM_IP=$POD_IP
}

# case_end EXPECTED-STATE: the verdict (state, reachability), then the DELs
# of the case's pods and the check that nothing of the workload is left.
case_end() {
    local want=$1 state reach=no leak
    state=$(mig_state "$VM")
    if reachable "$VM_IP"; then reach=yes; fi
    local p
    for p in "$CASE-src" "$CASE-dst" "$CASE-dst2"; do
        [ -e "/run/netns/$(lab_ns_pod "$p")" ] || continue
        cni_run DEL "cid-$p" "/run/netns/$(lab_ns_pod "$p")" eth0 "" \
            "$(cni_conf "$(lab_pod_chassis "$p")")"
        lab_pod_netns_del "$p"
    done
    leak=$(leaks | grep -e "$VM" -e "cid-$CASE" || :)
    t_check "ends $want (is $state)" [ "$state" = "$want" ]
    t_check "workload reachable ($LOST of 300 probes lost, try $TRIES)" \
        [ "$reach" = yes ]
    t_check "nothing of it left after its DELs${leak:+: $leak}" [ -z "$leak" ]
    FAULTS_TABLE+=("$(printf '%-34s %-12s %-12s %-10s %s' "$CASE" "$want" \
        "$state" "$reach/$LOST/$TRIES" "${leak:+LEAK}${leak:-none}")")
}

# faults_table: prints one line per case_end.
faults_table() {
    echo
    printf '%-34s %-12s %-12s %-10s %s\n' case expected final \
        "reach/lost/try" leaks
    printf '%s\n' "${FAULTS_TABLE[@]}"
    echo
}
