# lib-cni.sh: helpers for tests that drive the `ovn-lm` CNI binary exactly as
# a container runtime does (environment + network configuration on stdin)
# against ovn-controller-ext daemons in the lab (test/lab).  Source it after
# test/lab/lib.sh; needs OVN_LM_CNI (the plugin binary) and LAB_DAEMON.

# ---- Results -------------------------------------------------------------

T_PASSED=0
T_FAILED=0
T_NAME=

t_begin() {
    T_NAME=$1
}

t_ok() {
    T_PASSED=$((T_PASSED + 1))
    printf 'ok   %s%s\n' "${T_NAME:+$T_NAME: }" "$1"
}

t_fail() {
    T_FAILED=$((T_FAILED + 1))
    printf 'FAIL %s%s\n' "${T_NAME:+$T_NAME: }" "$1"
}

# t_check DESCRIPTION CMD...: passes if CMD succeeds.
t_check() {
    local what=$1
    shift
    if "$@"; then
        t_ok "$what"
    else
        t_fail "$what"
    fi
}

# t_summary: the closing line ctest and CI read; returns non-zero on failure.
# Sanitizer reports of the lab's daemons and of the plugin count as
# failures (lab-common.sh points ASan's log_path into the lab).
t_summary() {
    local f
    for f in "${LAB_DIR:-/nonexistent}"/sanitizer.*; do
        [[ -e $f ]] || continue
        t_fail "sanitizer report $f:"
        head -40 "$f"
    done
    echo "$T_PASSED passed, $T_FAILED failed"
    ((T_FAILED == 0))
}

# ---- The CNI binary -------------------------------------------------------

# cni_conf N [JSON-MERGE]: prints a network configuration for chassis N's
# daemon; JSON-MERGE (an object) overrides or adds keys.  readyTimeout is
# $CNI_READY_TIMEOUT, default 20 (the plugin's own default).
cni_conf() {
    local n=$1 merge=${2:-'{}'} sock
    sock=$(lab_var "LAB_H${n}_DAEMON_SOCK")
    python3 - "$sock" "$LAB_DIR/cni-state" "$merge" <<'PY'
import json, sys
import os
conf = {"cniVersion": "1.0.0", "name": "ovnlm", "type": "ovn-lm",
        "socket": sys.argv[1], "stateDir": sys.argv[2],
        "logicalSwitch": "ls0",
        "readyTimeout": float(os.environ.get("CNI_READY_TIMEOUT", "20"))}
conf.update(json.loads(sys.argv[3]))
print(json.dumps(conf))
PY
}

# cni_run COMMAND CONTAINERID NETNS IFNAME CNI_ARGS CONF: runs the plugin
# with that environment and CONF on stdin.  Sets CNI_OUT (stdout), CNI_ERR
# (stderr) and CNI_RC (exit status); always returns 0.
cni_run() {
    local cmd=$1 cid=$2 netns=$3 ifname=$4 args=$5 conf=$6 errf
    errf=$(mktemp)
    CNI_RC=0
    CNI_OUT=$(env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" \
        CNI_NETNS="$netns" CNI_IFNAME="$ifname" CNI_ARGS="$args" \
        CNI_PATH=/opt/cni/bin "$OVN_LM_CNI" <<<"$conf" 2>"$errf") ||
        CNI_RC=$?
    CNI_ERR=$(cat "$errf")
    rm -f "$errf"
    return 0
}

# json_get JSON EXPR: evaluates the Python expression EXPR on the parsed
# JSON (as 'j') and prints the result.
json_get() {
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# cni_code: the CNI error code in CNI_OUT, or "none".
cni_code() {
    python3 -c 'import json,sys
try:
    print(json.loads(sys.argv[1]).get("code", "none"))
except Exception:
    print("unparsable")' "$CNI_OUT"
}

# cni_add_pod N NAME [CNI_ARGS] [CONF-MERGE]: creates pod netns NAME and
# attaches it through chassis N.  Sets POD_IP and POD_CID.
cni_add_pod() {
    local n=$1 name=$2 args=${3:-} merge=${4:-'{}'} netns
    netns=$(lab_pod_netns "$name")
    POD_CID="cid-$name"
    cni_run ADD "$POD_CID" "$netns" eth0 \
        "${args:-K8S_POD_NAMESPACE=default;K8S_POD_NAME=$name}" \
        "$(cni_conf "$n" "$merge")"
    if ((CNI_RC != 0)); then
        echo "ADD $name failed ($CNI_RC): $CNI_OUT $CNI_ERR" >&2
        return 1
    fi
    POD_IP=$(json_get "$CNI_OUT" 'j["ips"][0]["address"].split("/")[0]')
    mkdir -p "$LAB_DIR/pods" && echo "$n" >"$LAB_DIR/pods/$name" &&
        printf '%s\n' "$CNI_OUT" >"$LAB_DIR/pods/$name.result"
}

# lab_pod_chassis NAME: the chassis cni_add_pod attached pod NAME to.
lab_pod_chassis() {
    cat "$LAB_DIR/pods/$1"
}

# ---- What exists ----------------------------------------------------------

# lab_var NAME: the value of variable NAME.
lab_var() {
    printf '%s' "${!1}"
}

# leaks: prints every veth, OVS port, ovn-lm logical port and attachment
# record that exists in the lab; empty output means nothing is left.
leaks() {
    local n
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        ip -n "$(lab_var "LAB_H${n}_NETNS")" -o link show 2>/dev/null |
            awk -F': ' '{print $2}' | sed 's/@.*//' |
            grep -E '^lm[0-9a-f]{12}$' | sed "s/^/h$n link /" || :
        lab_vsctl "$n" list-ports br-int 2>/dev/null |
            grep -E '^lm[0-9a-f]{12}$' |
            sed "s/^/h$n ovs-port /" || :
    done
    lab_nbctl --bare --columns=name,external_ids find Logical_Switch_Port \
        'external_ids:"ovn-lm/container-id"!=""' 2>/dev/null |
        grep -v '^$' | sed 's/^/nb /' || :
    find "$LAB_DIR/cni-state" -type f 2>/dev/null | sed 's/^/record /' || :
}

# cpu_ticks PID: user + system time of PID so far, in clock ticks.
cpu_ticks() {
    local stat f
    stat=$(cat "/proc/$1/stat") || return 1
    read -r -a f <<<"${stat##*) }"   # f[0] is field 3, the state
    echo $((f[11] + f[12]))         # utime, stime
}

# pod_ping FROM-POD IP: one-second ping from pod netns FROM-POD.
pod_ping() {
    ip netns exec "$(lab_ns_pod "$1")" ping -c 2 -i 0.2 -W 2 -q "$2" \
        >/dev/null 2>&1
}

# lab_daemons_exit: asks every chassis's daemon to exit (ovs-appctl exit)
# and waits for it, so that a sanitizer build writes its exit-time reports
# (LeakSanitizer) before t_summary reads them.
lab_daemons_exit() {
    local n pid
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        pid=$(lab_pidfile_pid "$(lab_var "LAB_H${n}_DAEMON_PIDFILE")") ||
            continue
        ovs-appctl -t "$(lab_var "LAB_H${n}_DAEMON_CTL")" exit >/dev/null 2>&1
        lab_wait 10 "daemon $n to exit" bash -c "! kill -0 $pid 2>/dev/null" ||
            t_fail "daemon on chassis $n did not exit"
    done
}

# metrics N: chassis N's daemon's Prometheus text (GET /metrics on its
# default address, inside the chassis namespace).
metrics() {
    ip netns exec "$(lab_var "LAB_H$1_NETNS")" python3 -c '
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9476/metrics", timeout=5).read().decode(), end="")'
}

# metric N NAME{LABELS}: one sample's value from chassis N's daemon.
metric() {
    metrics "$1" | awk -v k="$2" '$1 == k { print $2 }'
}

# ---- containerd's two DELs --------------------------------------------------
# containerd deletes a sandbox's network twice: StopPodSandbox with the
# netns and the ADD's result as prevResult, then, from the kubelet's garbage
# collection (RemovePodSandbox) up to about a minute later, again without
# prevResult and with an empty CNI_NETNS.

# cni_del_stop N POD [CNI_ARGS]: the first DEL of pod POD (added with
# cni_add_pod) on chassis N.  Sets CNI_RC/CNI_OUT.
cni_del_stop() {
    local prev
    prev=$(cat "$LAB_DIR/pods/$2.result" 2>/dev/null) || prev='{}'
    cni_run DEL "cid-$2" "/run/netns/$(lab_ns_pod "$2")" eth0 \
        "${3:-IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2;K8S_POD_INFRA_CONTAINER_ID=cid-$2}" \
        "$(cni_conf "$1" "{\"prevResult\": $prev}")"
}

# cni_del_gc N POD [CNI_ARGS]: the late second DEL of pod POD on chassis N:
# no prevResult, empty CNI_NETNS.  Sets CNI_RC/CNI_OUT.
cni_del_gc() {
    cni_run DEL "cid-$2" "" eth0 \
        "${3:-IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2;K8S_POD_INFRA_CONTAINER_ID=cid-$2}" \
        "$(cni_conf "$1")"
}
