#!/bin/bash
# Bad input, table-driven: every case must answer the CNI spec's error code
# with a message naming the culprit, and leave no veth, OVS port, logical
# port or attachment record behind.
#
# usage: lab-bad-input.sh OVN-LM-BINARY DAEMON-BINARY
. "$(dirname "$0")/lab-common.sh" "$@"

NS=$(lab_pod_netns victim)
ENV_OK=(CNI_COMMAND=ADD CNI_CONTAINERID=cid-bad CNI_NETNS="$NS" CNI_IFNAME=eth0
        CNI_PATH=/opt/cni/bin CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=victim")

# A port that already holds 10.244.0.60 and a MAC, for the conflict cases.
cni_add_pod 2 holder "K8S_POD_NAMESPACE=default;K8S_POD_NAME=holder;IP=10.244.0.60;MAC=0a:58:00:00:00:60" ||
    t_fail "setting up the holder pod"
: >"$LAB_DIR/not-a-netns"
BASELINE=$(leaks)

# case NAME CODE MSG-REGEX STDIN [VAR=VALUE...]: runs the plugin with the
# good environment overridden by the VAR=VALUE words ("VAR=" unsets VAR),
# through the command words in CASE_WRAP if any.
CASE_WRAP=()
case_run() {
    local name=$1 code=$2 re=$3 conf=$4
    shift 4
    local envs=("${ENV_OK[@]}") kv k out rc=0
    for kv in "$@"; do
        k=${kv%%=*}
        envs=("${envs[@]/#$k=*/}")
        [[ $kv == "$k=" ]] || envs+=("$kv")
    done
    local clean=()
    for kv in "${envs[@]}"; do [[ -n $kv ]] && clean+=("$kv"); done
    out=$(env -i PATH="$PATH" "${clean[@]}" "${CASE_WRAP[@]}" "$OVN_LM_CNI" <<<"$conf" 2>/dev/null) || rc=$?
    CNI_OUT=$out
    local got msg
    got=$(cni_code)
    msg=$(json_get "$out" 'j.get("msg","") + " " + j.get("details","")' 2>/dev/null)
    t_begin "$name"
    if [[ $got == "$code" && $rc != 0 && $msg =~ $re ]]; then
        t_ok "code $code: $msg"
    else
        t_fail "want code $code matching /$re/, got code $got (exit $rc): $out"
    fi
    local left
    left=$(diff <(echo "$BASELINE") <(leaks) | grep '^[<>]' || :)
    t_check "nothing left behind or lost${left:+: $left}" [ -z "$left" ]
}

GOOD=$(cni_conf 1)
v() { cni_conf 1 "$1"; }

case_run missing-containerid 4 'CNI_CONTAINERID' "$GOOD" CNI_CONTAINERID=
case_run missing-netns-ifname 4 'CNI_NETNS.*CNI_IFNAME|CNI_IFNAME.*CNI_NETNS' "$GOOD" CNI_NETNS= CNI_IFNAME=
case_run missing-command 4 'CNI_COMMAND' "$GOOD" CNI_COMMAND=FROB
case_run malformed-json 6 '.' '{"cniVersion": "1.0.0", "name": '
case_run bad-container-id 4 'CNI_CONTAINERID' "$GOOD" 'CNI_CONTAINERID=../etc'
case_run ifname-too-long 4 'interface name|ifname|CNI_IFNAME' "$GOOD" CNI_IFNAME=abcdefghijklmnop
case_run ifname-slash 4 'interface name|ifname|CNI_IFNAME' "$GOOD" CNI_IFNAME=a/b
case_run ifname-dotdot 4 'interface name|ifname|CNI_IFNAME' "$GOOD" CNI_IFNAME=..
case_run unknown-cni-arg 4 'FOO' "$GOOD" 'CNI_ARGS=K8S_POD_NAME=victim;FOO=bar'
case_run bad-cni-arg-ip 4 'IP' "$GOOD" 'CNI_ARGS=K8S_POD_NAME=victim;IP=10.244.0.999'
case_run unsupported-version 1 '0\.2\.0' "$(v '{"cniVersion": "0.2.0"}')"
case_run check-on-0.3.1 1 'CHECK|version' "$(v '{"cniVersion": "0.3.1"}')" CNI_COMMAND=CHECK
case_run missing-name 7 'name' '{"cniVersion": "1.0.0", "type": "ovn-lm", "logicalSwitch": "ls0"}'
case_run missing-logical-switch 7 'logicalSwitch' "$(v '{"logicalSwitch": null}')"
case_run unknown-logical-switch 7 'nosuchswitch' "$(v '{"logicalSwitch": "nosuchswitch"}')"
case_run mtu-out-of-range 7 'mtu' "$(v '{"mtu": 20}')"
case_run nonexistent-netns 4 'nonexistent' "$GOOD" CNI_NETNS=/run/netns/nonexistent
case_run netns-not-a-namespace 4 'not-a-netns' "$GOOD" CNI_NETNS="$LAB_DIR/not-a-netns"
# A namespace the runtime pinned in a directory that is not mounted into the
# daemon's mount namespace: the plugin runs (as the runtime does) in a
# private mount namespace where $HIDDEN/pod is the victim's namespace; the
# daemon sees an empty $HIDDEN.
HIDDEN=$LAB_DIR/runtime-netns
mkdir -p "$HIDDEN"
CASE_WRAP=(unshare -m --propagation private sh -c \
    'mount -t tmpfs lab-runtime-netns "$1" && touch "$1/pod" && mount --bind "$2" "$1/pod" && shift 2 && exec "$@"' \
    sh "$HIDDEN" "$NS")
case_run netns-not-visible-to-daemon 4 \
    "CNI_NETNS $HIDDEN/pod: no such file in ovn-controller-ext's mount namespace.*directory $HIDDEN into the daemon's container.*HostToContainer" \
    "$GOOD" CNI_NETNS="$HIDDEN/pod"
CASE_WRAP=()
t_check "the daemon still sees an empty $HIDDEN (the mount stayed private)" \
    [ -z "$(ls -A "$HIDDEN")" ]
case_run static-ip-in-use 100 '10\.244\.0\.60.*default_holder' "$GOOD" \
    'CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME=victim;IP=10.244.0.60'
case_run static-mac-in-use 100 '0a:58:00:00:00:60.*default_holder' "$GOOD" \
    'CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME=victim;MAC=0a:58:00:00:00:60'
case_run unreachable-daemon 11 'socket|daemon|connect' "$(v "{\"socket\": \"$LAB_DIR/no-daemon.sock\"}")"

# The holder pod was never touched by any of it.
t_begin holder
t_check "the holder's logical port is intact" \
    [ "$(lab_nbctl get Logical_Switch_Port default_holder addresses | tr -d '[]"')" = "0a:58:00:00:00:60 10.244.0.60" ]
cni_run DEL cid-holder "/run/netns/$(lab_ns_pod holder)" eth0 "" "$(cni_conf 2)"
left=$(leaks)
t_check "after the holder's DEL nothing is left${left:+: $left}" [ -z "$left" ]

t_summary
