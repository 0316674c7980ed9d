#!/bin/bash
#
# podman.sh - end-to-end test of the ovn-lm CNI plugin with a real CNI
# client: podman (Debian 12's 4.3, CNI network backend, runc) drives the
# ovn-lm binary, which talks to ovn-controller-ext running in the lab's
# chassis namespaces (test/lab).
#
# Usage (as root):
#
#     test/e2e/podman.sh [BUILD_DIR]
#
# BUILD_DIR (default $OVN_LM_BUILD_DIR, else ./build) holds the built
# cni/ovn-lm and ovn-controller-ext/ovn-controller-ext; OVN_LM_CNI and
# LAB_DAEMON override the two paths.  Other knobs:
#
#     PODMAN_E2E_SKIP="name ..."   tests to leave out (names in README.md)
#     PODMAN_E2E_TIMING_RUNS=N     runs per timing sample (default 5, 0: none)
#     PODMAN_E2E_LOG_DIR=DIR       copy the recorded CNI requests and the
#                                  daemons' logs there (kept on exit)
#
# Prints "ok"/"FAIL" per check and closes with "N passed, N failed".
# Exits 0 when everything passed, 1 on a failure, 77 (skipped, with
# "0 passed, 0 failed") only when podman cannot run a container on this
# machine at all or a required tool is missing.
#
# Nothing of the machine's podman state is used or changed: storage, run
# root, tmpdir, network config dir, plugin dir and containers.conf are in a
# temporary directory, containers run from a busybox rootfs built there
# (no image, no registry).  What podman itself puts outside it: its network
# namespaces /run/netns/netns-<uuid> (removed by podman; the trap removes
# ours if left over) and libcni's result cache /var/lib/cni/results/
# <network>-<id>-<ifname>; the networks are named after the lab prefix, so
# the trap removes exactly this run's cache files.
#
# See test/e2e/README.md for what podman sends and what this test found.

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/test/lab/lab.sh
# shellcheck source=test/lab/lib.sh
. "$ROOT/test/lab/lib.sh"

BUILD_DIR=${1:-${OVN_LM_BUILD_DIR:-$ROOT/build}}
OVN_LM_CNI=${OVN_LM_CNI:-$BUILD_DIR/cni/ovn-lm}
LAB_DAEMON=${LAB_DAEMON:-$BUILD_DIR/ovn-controller-ext/ovn-controller-ext}
SKIP=" ${PODMAN_E2E_SKIP:-} "
TIMING_RUNS=${PODMAN_E2E_TIMING_RUNS:-5}

# Pod MTU and addressing of the lab (test/lab/README.md).
SUBNET_RE='^10\.244\.0\.([0-9]+)$'
SUBNET_B_RE='^10\.245\.0\.([0-9]+)$'
GATEWAY=10.244.0.1
STATIC_IP=10.244.0.50
STATIC_MAC=0a:58:0a:f4:00:32
MAC_ONLY=0a:00:00:e2:e0:04

PASSED=0
FAILED=0
T=
LAB_IS_UP=0
FAILED_NAMES=()

say() { echo "podman-e2e: $*"; }

pass() {
    PASSED=$((PASSED + 1))
    echo "ok   $CUR: $*"
}

fail() {
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$CUR")
    echo "FAIL $CUR: $*"
}

# check DESC CMD...: one assertion of the current test.
# CMD runs in this shell (not a subshell), so it may set variables.
check() {
    local desc=$1 out rc
    shift
    "$@" >"$T/check.out" 2>&1
    rc=$?
    out=$(cat "$T/check.out")
    if ((rc == 0)); then
        pass "$desc"
    else
        fail "$desc${out:+: $out}"
    fi
    stop_if_interrupted
}

# Signals only set a flag, acted upon between checks: a trap that exited
# inside 'check' would run the exit trap with stdout still redirected to
# check.out, and the closing line would be lost.  A second signal exits at
# once.
INTERRUPTED=0
on_signal() {
    ((INTERRUPTED == 0)) || exit "$1"
    INTERRUPTED=$1
}

stop_if_interrupted() {
    ((INTERRUPTED == 0)) || exit "$INTERRUPTED"
}

die() {
    echo "podman-e2e: error: $*" >&2
    FAILED=$((FAILED + 1))
    exit 1
}

skip_all() {
    say "SKIP: $*"
    echo "0 passed, 0 failed"
    SKIPPED=1
    exit 77
}

# --- podman ------------------------------------------------------------------

PODMAN=()
RUN_OPTS=()

pm() { timeout 120 "${PODMAN[@]}" "$@"; }

# run_ctr NAME NETWORK [podman run options...]: a detached container that
# sleeps, attached to NETWORK.
run_ctr() {
    local name=$1 net=$2
    shift 2
    pm run -d --name "$name" --network "$net" "$@" "${RUN_OPTS[@]}" \
        sleep 3600 >/dev/null
}

cid_of() { pm inspect -f '{{.Id}}' "$1"; }

# net_field CTR NETWORK FIELD: a field of podman's view of the attachment.
net_field() {
    pm inspect -f "{{(index .NetworkSettings.Networks \"$2\").$3}}" "$1"
}

sandbox_of() { pm inspect -f '{{.NetworkSettings.SandboxKey}}' "$1"; }

# --- the recording wrapper -----------------------------------------------------

# The plugin directory holds 'ovn-lm', a wrapper that records every call
# (CNI_* environment, stdin, stdout, exit status, wall time) under
# $T/cni-log and runs the real binary.  For the timing runs it is replaced
# by a symlink to the binary itself.
install_wrapper() {
    # Never write through the symlink install_plain_plugin leaves.
    rm -f "$T/plugins/ovn-lm"
    cat >"$T/plugins/ovn-lm" <<EOF
#!/bin/bash
[[ -z \${OVN_LM_E2E_WRAPPED:-} ]] || { echo "wrapper recursion" >&2; exit 1; }
export OVN_LM_E2E_WRAPPED=1
b=$T/cni-log/\${EPOCHREALTIME/./}-\$\$.\${CNI_COMMAND:-none}
env | grep '^CNI_' | sort >"\$b.env"
cat >"\$b.in"
t0=\$EPOCHREALTIME
"$T/bin/ovn-lm" <"\$b.in" >"\$b.out"
rc=\$?
echo "\$rc \$t0 \$EPOCHREALTIME" >"\$b.rc"
cat "\$b.out"
exit \$rc
EOF
    chmod 755 "$T/plugins/ovn-lm"
}

install_plain_plugin() {
    rm -f "$T/plugins/ovn-lm"
    ln -s "$T/bin/ovn-lm" "$T/plugins/ovn-lm"
}

# all_succeeded CMD CID [IFNAME]: every recorded CMD call for CID exited 0.
all_succeeded() {
    local b ok=0
    for b in $(calls "$@"); do
        [[ $(call_rc "$b") == 0 ]] || { echo "${b##*/}: $(cat "$b.out")"; ok=1; }
    done
    return $ok
}

# calls CMD CID [IFNAME]: the recorded calls (file base names) of command
# CMD for container CID, oldest first.
calls() {
    local cmd=$1 cid=$2 ifname=${3:-eth0} f
    for f in "$T"/cni-log/*."$cmd".env; do
        [[ -e $f ]] || continue
        if grep -qxF "CNI_CONTAINERID=$cid" "$f" &&
            grep -qxF "CNI_IFNAME=$ifname" "$f"; then
            echo "${f%.env}"
        fi
    done
}

last_call() { calls "$@" | tail -n 1; }

# call_env BASE KEY: a CNI_ variable of a recorded call.
call_env() { sed -n "s/^$2=//p" "$1.env"; }

# call_rc BASE: the plugin's exit status.
call_rc() { cut -d' ' -f1 "$1.rc"; }

# --- OVN, OVS and kernel state ---------------------------------------------------

# lsp_names CID [IFNAME]: logical switch ports that carry container CID
# (and IFNAME) in their external_ids.
lsp_names() {
    local q=("external_ids:\"ovn-lm/container-id\"=\"$1\"")
    [[ -z ${2:-} ]] || q+=("external_ids:\"ovn-lm/ifname\"=\"$2\"")
    lab_nbctl --bare --columns=name find Logical_Switch_Port "${q[@]}"
}

lsp_col() { lab_nbctl --bare --columns="$2" list Logical_Switch_Port "$1"; }

# iface_names N CID [IFNAME]: OVS interfaces on chassis N for CID.
iface_names() {
    local n=$1 q=("external_ids:\"ovn-lm/container-id\"=\"$2\"")
    [[ -z ${3:-} ]] || q+=("external_ids:\"ovn-lm/ifname\"=\"$3\"")
    lab_vsctl "$n" --bare --columns=name find Interface "${q[@]}"
}

chassis_of() {
    local uuid
    uuid=$(lab_sbctl --bare --columns=chassis find Port_Binding \
        "logical_port=\"$1\"")
    [[ -n $uuid ]] || return 0
    lab_sbctl --bare --columns=name list Chassis "$uuid"
}

record_file() { echo "$T/state/$1/$2:${3:-eth0}"; }

# dp_packets N STRING...: packets of chassis N's datapath flows whose text
# holds every STRING (as in test/lab/smoke.sh).
dp_packets() {
    local n=$1 flow s sum=0 ok
    shift
    while IFS= read -r flow; do
        ok=1
        for s in "$@"; do
            [[ $flow == *"$s"* ]] || ok=0
        done
        if ((ok)) && [[ $flow =~ packets:([0-9]+) ]]; then
            sum=$((sum + BASH_REMATCH[1]))
        fi
    done < <(lab_ovs_appctl "$n" dpctl/dump-flows --names)
    echo "$sum"
}

# --- assertions used by several tests -------------------------------------------

# Each prints why it fails and returns non-zero.

want_eq() {
    [[ $1 == "$2" ]] || { echo "got '$1', want '$2'"; return 1; }
}

want_match() {
    [[ $1 =~ $2 ]] || { echo "got '$1', want it to match $2"; return 1; }
}

nonempty() { [[ -n $1 ]] || { echo "nothing found"; return 1; }; }

differ() { [[ $1 != "$2" ]] || { echo "both are '$1'"; return 1; }; }

NL=$'\n'

# attached N CTR NET IFNAME SUBNET_RE: podman, the container, OVN, OVS, the
# chassis kernel and the state dir all agree that CTR is attached to NET on
# chassis N through IFNAME.  Sets ATT_IP, ATT_MAC, ATT_LSP, ATT_IFACE.
ATT_IP='' ATT_MAC='' ATT_LSP='' ATT_IFACE='' 
attached() {
    local n=$1 ctr=$2 net=$3 ifname=$4 re=$5 cid addr lsp_addrs ids inst
    cid=$(cid_of "$ctr") || return 1
    ATT_IP=$(net_field "$ctr" "$net" IPAddress) || return 1
    ATT_MAC=$(net_field "$ctr" "$net" MacAddress) || return 1
    [[ $ATT_IP =~ $re && $ATT_IP != "$GATEWAY" ]] ||
        { echo "podman inspect: IP '$ATT_IP' not in the subnet"; return 1; }
    [[ $ATT_MAC =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]] ||
        { echo "podman inspect: MAC '$ATT_MAC'"; return 1; }
    addr=$(pm exec "$ctr" ip -o addr show dev "$ifname") ||
        { echo "no $ifname in the container"; return 1; }
    [[ $addr == *"inet $ATT_IP/24 "* ]] ||
        { echo "container $ifname: $addr"; return 1; }
    addr=$(pm exec "$ctr" ip -o link show dev "$ifname")
    [[ $addr == *"mtu $LAB_POD_MTU "* && $addr == *"ether $ATT_MAC "* ]] ||
        { echo "container link: $addr"; return 1; }
    ATT_LSP=$(lsp_names "$cid" "$ifname")
    [[ -n $ATT_LSP && $ATT_LSP != *$'\n'* ]] ||
        { echo "logical ports for $cid/$ifname: '$ATT_LSP'"; return 1; }
    lsp_addrs="$(lsp_col "$ATT_LSP" addresses) $(lsp_col "$ATT_LSP" \
        dynamic_addresses)"
    [[ $lsp_addrs == *"$ATT_MAC $ATT_IP"* ]] ||
        { echo "LSP $ATT_LSP addresses: $lsp_addrs"; return 1; }
    [[ $(lsp_col "$ATT_LSP" port_security) == "$ATT_MAC $ATT_IP" ]] ||
        { echo "LSP port_security: $(lsp_col "$ATT_LSP" port_security)"
          return 1; }
    ids=$(lab_nbctl get Logical_Switch_Port "$ATT_LSP" \
        'external_ids:"ovn-lm/network"')
    want_eq "${ids//\"/}" "$net" || { echo "(LSP ovn-lm/network)"; return 1; }
    want_eq "$(chassis_of "$ATT_LSP")" "$(lab_chassis_name "$n")" ||
        { echo "(port binding chassis)"; return 1; }
    ATT_IFACE=$(iface_names "$n" "$cid" "$ifname")
    [[ -n $ATT_IFACE ]] || { echo "no OVS interface on chassis $n"; return 1; }
    inst=$(lab_vsctl "$n" get Interface "$ATT_IFACE" \
        external_ids:ovn-installed external_ids:iface-id)
    want_eq "${inst//\"/}" "true"$'\n'"$ATT_LSP" ||
        { echo "(OVS ovn-installed, iface-id)"; return 1; }
    ip -n "$(lab_ns_chassis "$n")" link show "$ATT_IFACE" >/dev/null ||
        { echo "no veth $ATT_IFACE in chassis $n"; return 1; }
    [[ -f $(record_file "$net" "$cid" "$ifname") ]] ||
        { echo "no record $(record_file "$net" "$cid" "$ifname")"; return 1; }
}

# detached N CID NET IFNAME [IFACE] [SANDBOX]: nothing of the attachment
# is left.
detached() {
    local n=$1 cid=$2 net=$3 ifname=$4 iface=${5:-} sandbox=${6:-} x
    x=$(lsp_names "$cid" "$ifname")
    [[ -z $x ]] || { echo "logical port left: $x"; return 1; }
    x=$(iface_names "$n" "$cid" "$ifname")
    [[ -z $x ]] || { echo "OVS interface left on chassis $n: $x"; return 1; }
    if [[ -n $iface ]] && ip -n "$(lab_ns_chassis "$n")" link show "$iface" \
        >/dev/null 2>&1; then
        echo "veth $iface left in chassis $n"
        return 1
    fi
    [[ ! -e $(record_file "$net" "$cid" "$ifname") ]] ||
        { echo "record left: $(record_file "$net" "$cid" "$ifname")"; return 1; }
    [[ ! -e /var/lib/cni/results/$net-$cid-$ifname ]] ||
        { echo "libcni cache left: /var/lib/cni/results/$net-$cid-$ifname"
          return 1; }
    if [[ -n $sandbox && -e $sandbox ]]; then
        echo "podman netns $sandbox left"
        return 1
    fi
}

# ping_from CTR IP [COUNT]: busybox ping inside CTR.
ping_from() {
    pm exec "$1" ping -c "${3:-3}" -i 0.2 -W 2 "$2" >/dev/null ||
        { echo "ping $2 from $1 failed"; return 1; }
}

# ping_after CTR IP: the first packet after an attachment was (re)made.
# OVN's ovn-installed is local to the chassis: the remote chassis may take
# a moment longer to learn a new port binding.  A lost first packet is
# noted (printed at the end); the check fails only if 3 more get no reply.
ping_after() {
    pm exec "$1" ping -c 1 -W 2 "$2" >/dev/null && return 0
    ping_from "$1" "$2" 3 || return 1
    echo "$CUR: first packet $1 -> $2 got no reply" >>"$T/notes"
}

# --- setup and teardown ------------------------------------------------------------

make_rootfs() {
    local a
    mkdir -p "$T/rootfs"/{bin,etc,proc,sys,dev,tmp,run,www}
    cp /bin/busybox "$T/rootfs/bin/busybox"
    for a in $(/bin/busybox --list); do
        [[ -e $T/rootfs/bin/$a ]] || ln -s busybox "$T/rootfs/bin/$a"
    done
    head -c 1048576 /dev/urandom >"$T/rootfs/www/blob"
    BLOB_SUM=$(sha256sum <"$T/rootfs/www/blob" | cut -d' ' -f1)
}

write_podman_config() {
    mkdir -p "$T"/{net.d,plugins,bin,state,cni-log,tmp}
    cp "$OVN_LM_CNI" "$T/bin/ovn-lm"
    cat >"$T/containers.conf" <<EOF
[network]
network_backend = "cni"
cni_plugin_dirs = ["$T/plugins"]
network_config_dir = "$T/net.d"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/events.log"
runtime = "runc"
tmp_dir = "$T/tmp"
EOF
    cat >"$T/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$T/root"
runroot = "$T/runroot"
EOF
    export CONTAINERS_CONF=$T/containers.conf
    export CONTAINERS_STORAGE_CONF=$T/storage.conf
    PODMAN=(podman --root "$T/root" --runroot "$T/runroot"
        --storage-driver vfs --tmpdir "$T/tmp"
        --network-config-dir "$T/net.d" --cgroup-manager cgroupfs
        --events-backend file --runtime runc)
    # runc here cannot raise RLIMIT_NOFILE/NPROC to podman's defaults
    # ("error setting rlimit type 7: operation not permitted").
    RUN_OPTS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024
        --rootfs "$T/rootfs")
}

# conflist NAME CHASSIS SWITCH [GATEWAY]
conflist() {
    local name=$1 n=$2 ls=$3 gw=${4:-} sock
    sock=$(lab_chassis_dir "$n")/ovn-lm.sock
    cat >"$T/net.d/$name.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$name",
  "plugins": [
    {
      "type": "ovn-lm",
      "socket": "$sock",
      "logicalSwitch": "$ls",
      "stateDir": "$T/state",${gw:+
      \"gateway\": \"$gw\",}
      "readyTimeout": 20,
      "capabilities": {"mac": true, "ips": true, "portMappings": true,
                       "aliases": true}
    }
  ]
}
EOF
}

our_netns() {
    # podman's namespaces of this run, from the recorded CNI_NETNS.
    cat "$T"/cni-log/*.env 2>/dev/null | sed -n 's|^CNI_NETNS=/run/netns/||p' |
        grep '^netns-' | sort -u
}

cleanup() {
    local rc=$? ns f pid p
    trap - EXIT
    trap '' INT TERM
    ((INTERRUPTED == 0)) || say "interrupted (signal $((INTERRUPTED - 128)))"
    if [[ -n $T && -d $T ]]; then
        if ((${#PODMAN[@]})); then
            timeout 60 "${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1 || true
        fi
        if [[ -n ${PODMAN_E2E_LOG_DIR:-} ]]; then
            mkdir -p "$PODMAN_E2E_LOG_DIR"
            cp -r "$T/cni-log" "$PODMAN_E2E_LOG_DIR/" 2>/dev/null || true
            for f in "$LAB_DIR"/h*/ovn-controller-ext.log; do
                [[ -e $f ]] || continue
                p=${f%/*}
                cp "$f" "$PODMAN_E2E_LOG_DIR/ovn-controller-ext-${p##*/}.log"
            done
        fi
        for ns in $(our_netns); do
            if [[ -e /run/netns/$ns ]]; then
                say "removing leftover podman netns $ns"
                ip netns del "$ns" 2>/dev/null || true
            fi
        done
        # conmon of this run, should podman have left one.
        for pid in $(pgrep -x conmon 2>/dev/null); do
            if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
                grep -qF -- "$T/"; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
        # libcni's cache files of this run's networks.
        if [[ -n ${LAB_PREFIX:-} ]]; then
            for f in /var/lib/cni/results/"$LAB_PREFIX"-n*; do
                [[ -e $f ]] && rm -f -- "$f"
            done
        fi
        while read -r f; do
            umount -l "$f" 2>/dev/null || true
        done < <(awk -v t="$T/" 'index($2, t) == 1 { print $2 }' \
            /proc/self/mounts | sort -r)
    fi
    if ((LAB_IS_UP)); then
        if ((FAILED)); then
            say "daemon log WARN/ERR lines:"
            grep -hE '\|(WARN|ERR|EMER)\|' "$LAB_DIR"/h*/ovn-controller-ext.log \
                2>/dev/null | tail -n 20 | sed 's/^/    /'
        fi
        "$LAB" down >/dev/null 2>&1 || say "lab.sh down failed"
    fi
    [[ -z $T ]] || rm -rf -- "$T"
    if ((${SKIPPED:-0})); then
        exit 77
    fi
    if ((rc && !FAILED)); then
        FAILED=$((FAILED + 1))
    fi
    ((FAILED == 0)) || say "failed: ${FAILED_NAMES[*]:-setup}"
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0)) || exit 1
    exit 0
}

# --- tests ---------------------------------------------------------------------

CUR=setup
declare -A CID SANDBOX IFACE IP MAC

want() {
    local t=$1
    stop_if_interrupted
    CUR=$t
    if [[ $SKIP == *" $t "* ]]; then
        say "skipping $t (PODMAN_E2E_SKIP)"
        return 1
    fi
    say "--- $t"
}

# remember CTR NET IFNAME: keeps what is needed to check the teardown later.
remember() {
    CID[$1]=$(cid_of "$1")
    SANDBOX[$1]=$(sandbox_of "$1")
    IFACE[$1]=$ATT_IFACE
    IP[$1]=$ATT_IP
    MAC[$1]=$ATT_MAC
}

t_networks() {
    local ls
    ls=$(pm network ls --format '{{.Name}} {{.Driver}}' 2>&1)
    check "podman network ls shows $N1 with driver ovn-lm" \
        want_match "$ls" "(^|$NL)$N1 ovn-lm($NL|$)"
    check "podman network ls shows $N2 with driver ovn-lm" \
        want_match "$ls" "(^|$NL)$N2 ovn-lm($NL|$)"
    check "podman network inspect $N1: driver ovn-lm" \
        want_match "$(pm network inspect "$N1")" '"driver": "ovn-lm"'
}

t_attach() {
    local t0 ms
    t0=$(lab_now_ms)
    if ! run_ctr a1 "$N1"; then
        fail "podman run --network $N1 (chassis 1) failed"
        return
    fi
    ms=$(($(lab_now_ms) - t0))
    pass "podman run -d --network $N1 (chassis 1) in ${ms} ms"
    check "a1 attached on chassis 1 (podman, container, LSP, OVS, veth, record)" \
        attached 1 a1 "$N1" eth0 "$SUBNET_RE"
    remember a1
    check "a1: default route via the conflist's gateway" \
        want_match "$(pm exec a1 ip route)" "default via $GATEWAY dev eth0"
    check "podman inspect a1: gateway $GATEWAY" \
        want_eq "$(net_field a1 "$N1" Gateway)" "$GATEWAY"

    t0=$(lab_now_ms)
    if ! run_ctr b2 "$N2"; then
        fail "podman run --network $N2 (chassis 2) failed"
        return
    fi
    ms=$(($(lab_now_ms) - t0))
    pass "podman run -d --network $N2 (chassis 2) in ${ms} ms"
    check "b2 attached on chassis 2" attached 2 b2 "$N2" eth0 "$SUBNET_RE"
    remember b2
    check "a1 and b2 got different addresses" \
        differ "${IP[a1]}" "${IP[b2]}"

    # What podman sent for a plain run.
    local c
    c=$(last_call ADD "${CID[a1]}")
    check "ADD env: CNI_ARGS IgnoreUnknown=1;K8S_POD_NAME=a1" \
        want_eq "$(call_env "$c" CNI_ARGS)" "IgnoreUnknown=1;K8S_POD_NAME=a1"
    check "ADD env: CNI_NETNS is podman's /run/netns/netns-<uuid>" \
        want_eq "$(call_env "$c" CNI_NETNS)" "${SANDBOX[a1]}"
    check "ADD env: CNI_PATH is the private plugin dir" \
        want_eq "$(call_env "$c" CNI_PATH)" "$T/plugins"
}

t_ping() {
    local enc dec
    check "ping a1 -> b2 (chassis 1 -> 2), one packet" \
        ping_from a1 "${IP[b2]}" 1
    check "ping b2 -> a1" ping_from b2 "${IP[a1]}"
    enc=$(dp_packets 1 "in_port(${IFACE[a1]})" "tnl_push(" "geneve(" \
        "dst=$LAB_H2_IP,")
    dec=$(dp_packets 2 "tunnel(" "src=$LAB_H1_IP,dst=$LAB_H2_IP" \
        "actions:${IFACE[b2]}")
    check "a1 -> b2 went through Geneve (encap $enc, decap $dec packets)" \
        test "$enc" -ge 1 -a "$dec" -ge 1
    # busybox ping has no -M: use the host's iputils ping inside podman's
    # namespace of a1 (podman made it; we only send to b2).
    check "full-MTU ping with DF ($LAB_POD_MTU bytes) a1 -> b2" \
        ip netns exec "${SANDBOX[a1]##*/}" ping -q -n -c 2 -i 0.2 -W 2 \
        -M "do" -s $((LAB_POD_MTU - 28)) "${IP[b2]}"
}

t_tcp() {
    local sum i
    if ! pm exec -d b2 httpd -f -p 8000 -h /www >/dev/null; then
        fail "httpd in b2 did not start"
        return
    fi
    for i in $(seq 40); do
        sum=$(pm exec a1 sh -c "wget -q -O - http://${IP[b2]}:8000/blob |
            sha256sum" 2>/dev/null | cut -d' ' -f1)
        [[ -z $sum || $sum == e3b0c44298fc* ]] || break
        sleep 0.05
    done
    check "1 MiB over TCP b2 -> a1 across chassis, SHA-256 intact" \
        want_eq "$sum" "$BLOB_SUM"
}

t_static() {
    local c args
    if ! run_ctr s3 "$N1" --ip "$STATIC_IP" --mac-address "$STATIC_MAC"; then
        fail "podman run --ip $STATIC_IP --mac-address $STATIC_MAC failed"
        return
    fi
    pass "podman run --ip $STATIC_IP --mac-address $STATIC_MAC"
    check "s3 attached on chassis 1" attached 1 s3 "$N1" eth0 "$SUBNET_RE"
    remember s3
    check "podman inspect s3: IP $STATIC_IP" want_eq "${IP[s3]}" "$STATIC_IP"
    check "podman inspect s3: MAC $STATIC_MAC" \
        want_eq "${MAC[s3]}" "$STATIC_MAC"
    check "LSP addresses of s3 are static \"$STATIC_MAC $STATIC_IP\"" \
        want_eq "$(lsp_col "$ATT_LSP" addresses)" "$STATIC_MAC $STATIC_IP"
    c=$(last_call ADD "${CID[s3]}")
    args=$(call_env "$c" CNI_ARGS)
    check "podman sent IP= and MAC= in CNI_ARGS ($args)" \
        want_match "$args" "(^|;)IP=$STATIC_IP(;|$)"
    check "... MAC=$STATIC_MAC" want_match "$args" "(^|;)MAC=$STATIC_MAC(;|$)"
    check "ping b2 -> s3 ($STATIC_IP)" ping_from b2 "$STATIC_IP"

    if ! run_ctr m4 "$N2" --mac-address "$MAC_ONLY"; then
        fail "podman run --mac-address $MAC_ONLY (no --ip) failed"
        return
    fi
    pass "podman run --mac-address $MAC_ONLY, dynamic IP"
    check "m4 attached on chassis 2" attached 2 m4 "$N2" eth0 "$SUBNET_RE"
    remember m4
    check "m4 has MAC $MAC_ONLY" want_eq "${MAC[m4]}" "$MAC_ONLY"
    check "LSP addresses of m4: \"$MAC_ONLY dynamic\"" \
        want_eq "$(lsp_col "$ATT_LSP" addresses)" "$MAC_ONLY dynamic"
    check "ping a1 -> m4" ping_from a1 "${IP[m4]}"
}

t_conflict() {
    local c cid out
    if out=$(pm run -d --name x5 --network "$N2" --ip "$STATIC_IP" \
        "${RUN_OPTS[@]}" sleep 3600 2>&1); then
        fail "podman run --ip $STATIC_IP (in use by s3) succeeded"
        return
    fi
    check "podman run with s3's IP fails naming the holder" \
        want_match "$out" "IP $STATIC_IP is already used by logical port"
    cid=$(cid_of x5) || { fail "no container x5 after the failed run"; return; }
    c=$(last_call ADD "$cid")
    check "the plugin answered the ADD with code 100" \
        want_match "$(cat "$c.out" 2>/dev/null)" '"code":100'
    check "podman sent DEL after the failed ADD" \
        nonempty "$(last_call DEL "$cid")"
    check "nothing left of x5's attempt" detached 2 "$cid" "$N2" eth0
    check "s3 still answers after the conflict" ping_from b2 "$STATIC_IP" 1
    pm rm -f -t 0 x5 >/dev/null 2>&1
}

t_stop_start() {
    local old_if=${IFACE[b2]}
    if ! pm stop -t 0 b2 >/dev/null; then
        fail "podman stop b2"
        return
    fi
    pass "podman stop b2"
    check "podman stop sent DEL with prevResult" \
        grep -q '"prevResult"' "$(last_call DEL "${CID[b2]}").in"
    check "after stop: no LSP, OVS port, veth, record, cache, netns" \
        detached 2 "${CID[b2]}" "$N2" eth0 "$old_if" "${SANDBOX[b2]}"
    if ! pm start b2 >/dev/null; then
        fail "podman start b2"
        return
    fi
    pass "podman start b2"
    check "b2 attached again" attached 2 b2 "$N2" eth0 "$SUBNET_RE"
    remember b2
    check "ping a1 -> b2 after start" ping_after a1 "${IP[b2]}"

    if ! pm restart -t 0 s3 >/dev/null; then
        fail "podman restart s3"
        return
    fi
    check "s3 after restart: attached" attached 1 s3 "$N1" eth0 "$SUBNET_RE"
    remember s3
    check "s3 kept IP $STATIC_IP and MAC $STATIC_MAC over restart" \
        want_eq "${IP[s3]} ${MAC[s3]}" "$STATIC_IP $STATIC_MAC"
    check "ping b2 -> s3 after restart" ping_after b2 "$STATIC_IP"
}

t_connect() {
    local a_if b_if
    lab_nbctl ls-add ls1 -- set Logical_Switch ls1 \
        other_config:subnet=10.245.0.0/24 || { fail "ls-add ls1"; return; }
    if ! pm network connect "$N1B" a1; then
        fail "podman network connect $N1B a1"
        return
    fi
    pass "podman network connect $N1B a1 (eth1 on ls1, chassis 1)"
    check "a1 eth1 attached" attached 1 a1 "$N1B" eth1 "$SUBNET_B_RE"
    a_if=$ATT_IFACE
    check "a1's eth1 port is named <id>_eth1" \
        want_eq "$ATT_LSP" "${CID[a1]}_eth1"
    if ! pm network connect "$N2B" b2; then
        fail "podman network connect $N2B b2"
        return
    fi
    check "b2 eth1 attached" attached 2 b2 "$N2B" eth1 "$SUBNET_B_RE"
    local b_ip=$ATT_IP
    b_if=$ATT_IFACE
    check "ping on ls1 a1 eth1 -> b2 eth1" ping_after a1 "$b_ip"
    check "network connect sent ADD with CNI_IFNAME=eth1" \
        nonempty "$(last_call ADD "${CID[a1]}" eth1)"

    check "podman network disconnect $N1B a1" \
        pm network disconnect "$N1B" a1
    check "podman network disconnect $N2B b2" \
        pm network disconnect "$N2B" b2
    check "a1 eth1 gone everywhere" \
        detached 1 "${CID[a1]}" "$N1B" eth1 "$a_if"
    check "b2 eth1 gone everywhere" \
        detached 2 "${CID[b2]}" "$N2B" eth1 "$b_if"
    check "a1 has no eth1 any more" \
        bash -c '! "$@" ip link show eth1 >/dev/null 2>&1' _ "${PODMAN[@]}" \
        exec a1

    check "a1 eth0 untouched by the disconnect" \
        attached 1 a1 "$N1" eth0 "$SUBNET_RE"
    check "ping a1 -> b2 on ls0 after disconnect" ping_after a1 "${IP[b2]}"
}

t_oneshot() {
    local cid iface t0 ms
    rm -f "$T/o6.cid"
    t0=$(lab_now_ms)
    if pm run --rm --name o6 --cidfile "$T/o6.cid" --network "$N2" \
        "${RUN_OPTS[@]}" ping -c 1 -W 3 "${IP[a1]}" >/dev/null; then
        ms=$(($(lab_now_ms) - t0))
        pass "podman run --rm: a new container's first ping (chassis 2 -> 1)" \
            "in ${ms} ms total"
    else
        fail "podman run --rm ... ping -c 1 ${IP[a1]} failed"
    fi
    cid=$(cat "$T/o6.cid" 2>/dev/null)
    if [[ -z $cid ]]; then
        fail "no cidfile from podman run --rm"
        return
    fi
    check "--rm sent DEL" nonempty "$(last_call DEL "$cid")"
    check "nothing left of the --rm container" \
        detached 2 "$cid" "$N2" eth0 "" \
        "$(call_env "$(last_call ADD "$cid")" CNI_NETNS)"

    # A container whose process exits: conmon runs podman's cleanup,
    # which sends DEL.
    if ! pm run -d --name e7 --network "$N1" "${RUN_OPTS[@]}" sleep 1 \
        >/dev/null; then
        fail "podman run e7"
        return
    fi
    cid=$(cid_of e7)
    iface=$(iface_names 1 "$cid" eth0)
    check "an exited container is detached by podman's cleanup" \
        lab_wait 15 "DEL of e7" detached 1 "$cid" "$N1" eth0 "$iface"
    pm rm -f -t 0 e7 >/dev/null 2>&1
}

# reload_one CTR NET N PEER: 'podman network reload CTR' tears CTR's
# attachment down and sets it up again, asking for the addresses it had
# as static ones.  CTR must come back with them and reach PEER.
reload_one() {
    local ctr=$1 net=$2 n=$3 peer=$4 c ips
    if ! pm network reload "$ctr" >/dev/null 2>"$T/reload.err"; then
        fail "podman network reload $ctr: $(tail -n 1 "$T/reload.err")"
    else
        pass "podman network reload $ctr"
    fi
    c=$(last_call ADD "${CID[$ctr]}")
    ips=$(grep -o '"ips":\[[^]]*\]' "$c.in")
    say "reload $ctr ADD: CNI_ARGS=$(call_env "$c" CNI_ARGS)" \
        "runtimeConfig ${ips:-without ips}: exit $(call_rc "$c")" \
        "$(grep -o '"msg":.*' "$c.out")"
    check "$ctr attached after reload" attached "$n" "$ctr" "$net" eth0 \
        "$SUBNET_RE"
    check "$ctr kept ${IP[$ctr]} ${MAC[$ctr]} over reload" \
        want_eq "$ATT_IP $ATT_MAC" "${IP[$ctr]} ${MAC[$ctr]}"
    [[ -z $ATT_IFACE ]] || IFACE[$ctr]=$ATT_IFACE
    check "ping $ctr -> $peer after reload" ping_after "$ctr" "$peer"
    check "every DEL of $ctr succeeded" all_succeeded DEL "${CID[$ctr]}"
}

t_reload() {
    # A container with a dynamic address: podman asks for it back with
    # CNI_ARGS IP= (and MAC=).
    reload_one a1 "$N1" 1 "${IP[b2]}"
    # One started with --ip: podman now has two static IPs for it (the
    # --ip and the current one, equal) and sends them as runtimeConfig.ips,
    # plain addresses without a prefix length.
    reload_one s3 "$N1" 1 "${IP[b2]}"
}

t_daemon_down() {
    local cid out c iface rc
    "$LAB" daemon-stop 2 >/dev/null || { fail "daemon-stop 2"; return; }
    if out=$(pm run -d --name d8 --network "$N2" "${RUN_OPTS[@]}" \
        sleep 3600 2>&1); then
        fail "podman run succeeded with the daemon down"
    else
        check "podman run with the daemon down fails: try again later" \
            want_match "$out" "try again later"
    fi
    cid=$(cid_of d8 2>/dev/null)
    if [[ -n $cid ]]; then
        c=$(last_call ADD "$cid")
        check "... the ADD was answered with code 11" \
            want_match "$(cat "$c.out" 2>/dev/null)" '"code":11'
        check "... no record left by the unsent ADD" \
            test ! -e "$(record_file "$N2" "$cid")"
        pm rm -f -t 0 d8 >/dev/null 2>&1
    fi
    "$LAB" daemon-start 2 >/dev/null || { fail "daemon-start 2"; return; }

    # Removal while the daemon is down: DEL says "try again later" and
    # keeps the record; podman 4.3 logs the error, removes the container
    # anyway and never retries (it has no GC either).
    if ! run_ctr k9 "$N2"; then
        fail "podman run k9"
        return
    fi
    cid=$(cid_of k9)
    iface=$(iface_names 2 "$cid" eth0)
    "$LAB" daemon-stop 2 >/dev/null
    pm rm -f -t 0 k9 >/dev/null 2>"$T/k9.err"
    rc=$?
    "$LAB" daemon-start 2 >/dev/null || { fail "daemon-start 2"; return; }
    check "podman rm -f with the daemon down exits 0 (error only logged)" \
        want_eq "$rc" 0
    c=$(last_call DEL "$cid")
    check "... the DEL was answered with code 11" \
        want_match "$(cat "$c.out" 2>/dev/null)" '"code":11'
    # podman never retries: the restarted daemon's sweep (the pod's
    # namespace is gone) removes the logical port, OVS port, veth and the
    # plugin's record by itself.
    swept() {
        [[ -z $(lsp_names "$cid") ]] &&
            test ! -e "$(record_file "$N2" "$cid")"
    }
    check "... and the restarted daemon sweeps what the DEL left" \
        lab_wait 5 "the sweep" swept
    # A retrying runtime's DEL still succeeds afterwards.
    check "a repeated DEL (by hand, as a retrying runtime would) succeeds" \
        env CNI_COMMAND=DEL CNI_CONTAINERID="$cid" CNI_IFNAME=eth0 \
        CNI_NETNS= CNI_PATH="$T/plugins" CNI_ARGS="IgnoreUnknown=1" \
        "$T/bin/ovn-lm" <"$c.in"
    # podman keeps libcni's cache entry of a failed DEL; ours to remove.
    check "podman left libcni's cache entry of the failed DEL" \
        test -e "/var/lib/cni/results/$N2-$cid-eth0"
    rm -f "/var/lib/cni/results/$N2-$cid-eth0"
    check "... and leaves nothing of k9" detached 2 "$cid" "$N2" eth0 "$iface"
    check "chassis 2 serves ADD again after the restart" \
        run_ctr k10 "$N2"
    pm rm -f -t 0 k10 >/dev/null 2>&1
}

# time_ms CMD...: runs CMD, prints its wall time in ms; fails with it.
time_ms() {
    local t0
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || return 1
    echo $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
}

median() { sort -n | awk '{ v[NR] = $1 } END {
    if (NR) printf "%d (min %d, max %d)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }

t_timing() {
    local i ms name run_net=() run_none=() rm_net=() rm_none=()
    local once_net=() once_none=() ready
    ((TIMING_RUNS > 0)) || { say "timing skipped"; return; }
    install_plain_plugin
    local mark
    mark=$(wc -l <"$LAB_H1_DAEMON_LOG")
    for ((i = 0; i < TIMING_RUNS; i++)); do
        stop_if_interrupted
        name=tn$i
        ms=$(time_ms pm run -d --name "$name" --network "$N1" \
            "${RUN_OPTS[@]}" sleep 3600) || { fail "timing run $name"; break; }
        run_net+=("$ms")
        ms=$(time_ms pm rm -f -t 0 "$name") || { fail "timing rm $name"; break; }
        rm_net+=("$ms")
        name=tx$i
        ms=$(time_ms pm run -d --name "$name" --network none \
            "${RUN_OPTS[@]}" sleep 3600) || { fail "timing run $name"; break; }
        run_none+=("$ms")
        ms=$(time_ms pm rm -f -t 0 "$name") || { fail "timing rm $name"; break; }
        rm_none+=("$ms")
        ms=$(time_ms pm run --rm --network "$N1" "${RUN_OPTS[@]}" true) ||
            { fail "timing run --rm"; break; }
        once_net+=("$ms")
        ms=$(time_ms pm run --rm --network none "${RUN_OPTS[@]}" true) ||
            { fail "timing run --rm none"; break; }
        once_none+=("$ms")
    done
    install_wrapper
    ready=$(tail -n +"$((mark + 1))" "$LAB_H1_DAEMON_LOG" |
        sed -n 's/.*|attach|INFO|ADD .* ready in \([0-9.]*\) ms.*/\1/p' |
        awk '{ printf "%d\n", $1 + 0.5 }' | median)
    say "timing, ms, median of $TIMING_RUNS (plugin binary called directly):"
    say "  podman run -d   --network ovn-lm: $(printf '%s\n' "${run_net[@]}" | median)"
    say "  podman run -d   --network none:   $(printf '%s\n' "${run_none[@]}" | median)"
    say "  podman run --rm --network ovn-lm: $(printf '%s\n' "${once_net[@]}" | median)"
    say "  podman run --rm --network none:   $(printf '%s\n' "${once_none[@]}" | median)"
    say "  podman rm -f    --network ovn-lm: $(printf '%s\n' "${rm_net[@]}" | median)"
    say "  podman rm -f    --network none:   $(printf '%s\n' "${rm_none[@]}" | median)"
    say "  daemon ADD 'ready in':            $ready"
    check "timing runs left no logical port behind" \
        want_eq "$(lab_nbctl --bare --columns=name find Logical_Switch_Port \
            "external_ids:\"ovn-lm/network\"=\"$N1\"" \
            "external_ids:\"ovn-lm/container-id\"!=\"${CID[a1]}\"" \
            "external_ids:\"ovn-lm/container-id\"!=\"${CID[s3]}\"")" ""
}

t_remove_all() {
    local ctr n net
    declare -A chassis=([a1]=1 [b2]=2 [s3]=1 [m4]=2)
    declare -A netof=([a1]=$N1 [b2]=$N2 [s3]=$N1 [m4]=$N2)
    check "podman rm -f -t 0 a1 b2 s3 m4" pm rm -f -t 0 a1 b2 s3 m4
    for ctr in a1 b2 s3 m4; do
        [[ -n ${CID[$ctr]:-} ]] || continue
        n=${chassis[$ctr]}
        net=${netof[$ctr]}
        check "$ctr: DEL left no LSP, OVS port, veth, record, cache, netns" \
            detached "$n" "${CID[$ctr]}" "$net" eth0 "${IFACE[$ctr]}" \
            "${SANDBOX[$ctr]}"
    done
    check "no logical switch port left on ls0/ls1" \
        want_eq "$(lab_nbctl --bare --columns=name list Logical_Switch_Port)" ""
    for n in 1 2; do
        check "chassis $n: br-int holds only tunnel ports" \
            want_eq "$(lab_vsctl "$n" list-ports br-int | grep -v '^ovn-')" ""
        check "chassis $n: the same links as before the test" \
            want_eq "$(links_of "$n")" "${LINKS[$n]}"
    done
    check "stateDir holds no record" \
        want_eq "$(find "$T/state" -type f)" ""
    check "no libcni cache file of this run" \
        want_eq "$(ls /var/lib/cni/results/"$LAB_PREFIX"-n* 2>/dev/null)" ""
    local left=()
    for n in $(our_netns); do
        [[ ! -e /run/netns/$n ]] || left+=("$n")
    done
    check "no podman netns of this run left" want_eq "${left[*]}" ""
    check "the plugin never exited non-zero except where the test wanted" \
        want_eq "$(unexpected_errors)" ""
    check "daemons logged no ERR" \
        bash -c '! grep -h "|ERR|\||EMER|" "$@"' _ \
        "$LAB_DIR"/h*/ovn-controller-ext.log
    check "podman did not change the network config dir" \
        want_eq "$(cd "$T/net.d" && sha256sum ./*.conflist | sort)" "$NETD_SUM"
}

# unexpected_errors: failed plugin calls other than the ones provoked
# (codes 11 and 100, and the DEL that follows a failed ADD).
unexpected_errors() {
    local rc b out
    for rc in "$T"/cni-log/*.rc; do
        [[ -e $rc ]] || continue
        b=${rc%.rc}
        [[ $(call_rc "$b") != 0 ]] || continue
        out=$(cat "$b.out")
        [[ $out == *'"code":11,'* || $out == *'"code":100,'* ]] && continue
        echo "${b##*/}: $(call_env "$b" CNI_COMMAND) $(call_env "$b" CNI_ARGS): $out"
    done
}

links_of() {
    ip -n "$(lab_ns_chassis "$1")" -o link show |
        awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | tr '\n' ' '
}

# report_sent: what podman actually sent, per command.
report_sent() {
    say "what podman sent (from the recording wrapper):"
    python3 - "$T/cni-log" <<'EOF' | sed 's/^/podman-e2e:   /'
import glob, json, os, sys
d = sys.argv[1]
seen = {}
times = {}
for envf in sorted(glob.glob(os.path.join(d, "*.env"))):
    base = envf[:-4]
    env = dict(l.rstrip("\n").split("=", 1) for l in open(envf) if "=" in l)
    cmd = env.get("CNI_COMMAND", "?")
    try:
        conf = json.load(open(base + ".in"))
    except Exception:
        conf = {}
    args = sorted(kv.split("=", 1)[0]
                  for kv in env.get("CNI_ARGS", "").split(";") if kv)
    rc = conf.get("runtimeConfig", {})
    key = (cmd, tuple(sorted(env)), tuple(args), tuple(sorted(conf)),
           tuple(sorted(rc)))
    s = seen.setdefault(key, [0, env, conf])
    s[0] += 1
    try:
        rc, t0, t1 = open(base + ".rc").read().split()
        if rc == "0":
            times.setdefault(cmd, []).append((float(t1) - float(t0)) * 1000)
    except Exception:
        pass
for (cmd, envk, args, confk, rck), (n, env, conf) in sorted(seen.items()):
    print("%s x%d: env %s; CNI_ARGS keys %s; stdin keys %s; "
          "runtimeConfig keys %s" % (cmd, n, ",".join(envk), ",".join(args),
                                     ",".join(confk), ",".join(rck) or "-"))
    print("    e.g. CNI_ARGS=%s CNI_NETNS=%s runtimeConfig=%s" % (
        env.get("CNI_ARGS", ""), env.get("CNI_NETNS", ""),
        json.dumps(conf.get("runtimeConfig", {}), sort_keys=True)))
for cmd, v in sorted(times.items()):
    v.sort()
    print("%s: the plugin process took %.1f ms median (min %.1f, max %.1f, "
          "%d successful calls)" % (cmd, v[(len(v) - 1) // 2], v[0], v[-1],
                                    len(v)))
EOF
}

# --- main -----------------------------------------------------------------------

main() {
    local t missing=() p
    ((EUID == 0)) || skip_all "must run as root (network namespaces)"
    for p in podman runc conmon busybox ovn-nbctl ovs-vsctl ovsdb-server \
        ovn-northd ovn-controller python3 ip; do
        command -v "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    ((${#missing[@]} == 0)) || skip_all "missing ${missing[*]}" \
        "(apt-get install podman runc busybox-static ovn-central ovn-host" \
        "openvswitch-switch)"
    [[ -x $OVN_LM_CNI ]] || die "no plugin binary $OVN_LM_CNI (build first)"
    [[ -x $LAB_DAEMON ]] || die "no daemon binary $LAB_DAEMON (build first)"

    T=$(mktemp -d /tmp/ovn-lm-podman.XXXXXX)
    trap cleanup EXIT
    trap 'on_signal 130' INT
    trap 'on_signal 143' TERM
    say "temp dir $T, plugin $OVN_LM_CNI, daemon $LAB_DAEMON"
    say "$(podman --version), $(runc --version | head -n 1)"

    write_podman_config
    make_rootfs
    install_wrapper

    # Can podman run a container here at all?
    local out
    if ! out=$(pm run --rm --network none "${RUN_OPTS[@]}" true 2>&1); then
        skip_all "podman cannot run a container here: $out"
    fi
    stop_if_interrupted

    LAB_PREFIX=$(lab_new_prefix) || die "no lab prefix"
    export LAB_PREFIX LAB_CHASSIS=2 LAB_DAEMON
    lab_resolve || die "lab_resolve"
    N1=$LAB_PREFIX-n1 N2=$LAB_PREFIX-n2
    N1B=$LAB_PREFIX-n1b N2B=$LAB_PREFIX-n2b
    LAB_IS_UP=1
    "$LAB" up || die "lab.sh up failed"
    stop_if_interrupted
    lab_load || die "lab_load"
    declare -gA LINKS
    LINKS[1]=$(links_of 1)
    LINKS[2]=$(links_of 2)
    for p in 1 2; do
        ovs-appctl -t "$(lab_chassis_dir "$p")/ovn-controller-ext.ctl" \
            vlog/set attach:file:dbg >/dev/null || true
    done

    conflist "$N1" 1 ls0 "$GATEWAY"
    conflist "$N2" 2 ls0 "$GATEWAY"
    conflist "$N1B" 1 ls1
    conflist "$N2B" 2 ls1
    NETD_SUM=$(cd "$T/net.d" && sha256sum ./*.conflist | sort)

    for t in networks attach ping tcp static conflict stop_start connect \
        oneshot reload daemon_down timing remove_all; do
        if want "$t"; then
            "t_$t"
        fi
    done
    CUR=report
    if [[ -s $T/notes ]]; then
        say "NOTE: lost first packets (passed on a retry):"
        sed 's/^/podman-e2e:   /' "$T/notes"
    fi
    report_sent
}

main "$@"
