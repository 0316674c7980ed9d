#!/bin/bash
#
# smoke.sh - proves the lab works, end to end, with no project code:
#
#   1. 'up' that fails midway (LAB_INJECT_FAIL) leaves nothing behind;
#   2. 'up' with 3 chassis (LAB_CHASSIS to change) and a stand-in for
#      ovn-controller-ext, which must run in each chassis netns with the
#      documented arguments; daemon-stop / daemon-start restart it;
#   3. two logical ports on ls0, plumbed by hand into pods on chassis 1 and
#      2, reach ovn-installed and ping each other across Geneve, at full
#      pod MTU, carry 4 MiB of TCP intact (needs python3), and the packets
#      really went through the tunnel;
#   4. dynamic addressing on ls0 hands out an address from LAB_SUBNET;
#   5. 'down' leaves no namespace, link, process or directory, and can run
#      again.
#
# Exits non-zero on the first failure; a trap tears the lab down.  Must run
# as root.  Prints how long each phase took.

set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
LAB=$HERE/lab.sh

LAB_PREFIX=${LAB_PREFIX:-$(lab_new_prefix)}
LAB_CHASSIS=${LAB_CHASSIS:-3}
export LAB_PREFIX LAB_CHASSIS
lab_resolve

STUB_DIR=
LAB_IS_UP=0

fail() {
    echo "smoke: FAIL: $*" >&2
    exit 1
}

trap 'echo "smoke: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR

cleanup() {
    local rc=$?
    trap - ERR
    if ((LAB_IS_UP)); then
        "$LAB" down || rc=1
    fi
    [[ -z $STUB_DIR ]] || rm -rf -- "$STUB_DIR"
    if ((rc)); then
        echo "smoke: FAILED (prefix $LAB_PREFIX)" >&2
    else
        echo "smoke: PASS"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# timed DESC CMD...: runs CMD and prints how long it took.
timed() {
    local desc=$1 t0 ms
    shift
    t0=$(lab_now_ms)
    "$@"
    ms=$(($(lab_now_ms) - t0))
    printf 'smoke: %-34s %d.%03ds\n' "$desc" $((ms / 1000)) $((ms % 1000))
}

# leftovers: prints anything of this lab that still exists.
leftovers() {
    local p cmd
    lab_netns_list | sed 's/^/netns /'
    [[ ! -e $LAB_DIR ]] || echo "dir $LAB_DIR"
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        [[ $cmd != *"$LAB_DIR/"* ]] || echo "process ${p#/proc/}: $cmd"
    done
    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
        grep "^$LAB_PREFIX" | sed 's/^/link /' || true
}

assert_nothing_left() {
    local left
    left=$(leftovers)
    [[ -z $left ]] || fail "left behind after $1:"$'\n'"$left"
}

# make_stub: a stand-in for ovn-controller-ext that records how it was
# started (arguments, netns, environment), honours --detach and --pidfile
# like an OVS daemon, and then sleeps until killed.
make_stub() {
    STUB_DIR=$(mktemp -d /tmp/ovn-lm-smoke.XXXXXX)
    cat >"$STUB_DIR/ovn-controller-ext" <<'EOF'
#!/bin/bash
set -eu
pidfile= detach=0 args=()
for a in "$@"; do
    case $a in
    --pidfile=*) pidfile=${a#*=} ;;
    --detach) detach=1; continue ;;
    esac
    args+=("$a")
done
[[ -n $pidfile ]] || { echo "no --pidfile" >&2; exit 1; }
if ((detach)); then
    rm -f "$pidfile"
    setsid "$0" "${args[@]}" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 100); do
        [[ -s $pidfile ]] && exit 0
        sleep 0.02
    done
    exit 1
fi
dir=${pidfile%/*}
{
    printf '%s\n' "$@"
    echo "netns=$(readlink /proc/self/ns/net)"
    echo "OVS_RUNDIR=${OVS_RUNDIR:-}"
    echo "OVN_RUNDIR=${OVN_RUNDIR:-}"
} >"$dir/stub.args"
echo $$ >"$pidfile"
# Keep the pidfile path in our command line, as a real daemon would have.
exec -a "ovn-controller-ext-stub --pidfile=$pidfile" sleep infinity
EOF
    chmod +x "$STUB_DIR/ovn-controller-ext"
}

# check_daemon N: the stand-in runs on chassis N with the right arguments,
# inside the chassis netns and with the chassis' OVS/OVN directories.
check_daemon() {
    local n=$1 d a ns_inode
    d=$(lab_chassis_dir "$n")
    lab_pidfile_pid "$d/ovn-controller-ext.pid" >/dev/null ||
        fail "ovn-controller-ext not running on chassis $n"
    ns_inode=$(ip netns exec "$(lab_ns_chassis "$n")" \
        readlink /proc/self/ns/net)
    for a in "--ovs-db=unix:$d/db.sock" "--ovn-nb-db=$LAB_NB_DB" \
        "--socket=$d/ovn-lm.sock" "--log-file=$d/ovn-controller-ext.log" \
        "--unixctl=$d/ovn-controller-ext.ctl" --smoke-extra "netns=$ns_inode" \
        "OVS_RUNDIR=$d" "OVN_RUNDIR=$d"; do
        grep -qxF -- "$a" "$d/stub.args" ||
            fail "chassis $n daemon: '$a' missing in $(cat "$d/stub.args")"
    done
}

# daemon_cycle: stop and start chassis 2's daemon by PID, as tests will.
daemon_cycle() {
    local pf old new
    pf=$(lab_chassis_dir 2)/ovn-controller-ext.pid
    old=$(lab_pidfile_pid "$pf")
    if "$LAB" daemon-start 2 2>/dev/null; then
        fail "daemon-start succeeded while the daemon runs"
    fi
    "$LAB" daemon-stop 2
    ! lab_pid_alive "$old" || fail "daemon-stop left pid $old running"
    "$LAB" daemon-stop 2 # already stopped: fine
    "$LAB" daemon-start 2
    new=$(lab_pidfile_pid "$pf") || fail "daemon-start did not start it"
    [[ $new != "$old" ]] || fail "daemon-start reused pid $old"
    check_daemon 2
    lab_pidfile_pid "$(lab_chassis_dir 1)/ovn-controller-ext.pid" \
        >/dev/null || fail "restarting chassis 2 touched chassis 1"
}

# chassis_of PORT: the SB chassis name PORT is bound to.
chassis_of() {
    local uuid
    uuid=$(lab_sbctl --bare --columns=chassis find Port_Binding \
        "logical_port=$1")
    [[ -n $uuid ]] || return 0
    lab_sbctl --bare --columns=name list Chassis "$uuid"
}

# dp_packets N STRING...: packets counted by chassis N's datapath flows
# whose text holds every STRING.  Datapath flows show what really happened
# to the traffic (the tunnel port's own counters only see slow-path
# packets in the userspace datapath).
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

# check_geneve: pod1's packets left chassis 1 Geneve-encapsulated towards
# chassis 2, and chassis 2 decapsulated them into pod2.
check_geneve() {
    local enc dec
    enc=$(dp_packets 1 "in_port(v-p1)" "tnl_push(" "geneve(" \
        "dst=$LAB_H2_IP,")
    dec=$(dp_packets 2 "tunnel(" "src=$LAB_H1_IP,dst=$LAB_H2_IP" \
        "in_port(genev_sys_6081)" "actions:v-p2")
    ((enc >= 5 && dec >= 5)) ||
        fail "want >= 5 packets through Geneve 1 -> 2," \
            "got $enc encapsulated, $dec decapsulated"
    echo "smoke: Geneve 1 -> 2: $enc packets encapsulated," \
        "$dec decapsulated"
}

plumb_pods() {
    lab_nbctl lsp-add ls0 p1 \
        -- lsp-set-addresses p1 "0a:00:00:00:00:01 10.244.0.11"
    lab_nbctl lsp-add ls0 p2 \
        -- lsp-set-addresses p2 "0a:00:00:00:00:02 10.244.0.12"
    lab_pod_netns p1 >/dev/null
    lab_pod_netns p2 >/dev/null
    lab_pod_attach 1 p1 p1 0a:00:00:00:00:01 10.244.0.11/24
    lab_pod_attach 2 p2 p2 0a:00:00:00:00:02 10.244.0.12/24
}

wait_installed() {
    lab_wait_ovn_installed 1 v-p1
    lab_wait_ovn_installed 2 v-p2
}

pod_ping() {
    lab_exec_pod p1 ping -q -n "$@" 10.244.0.12 >/dev/null
}

# tcp_transfer: 4 MiB over TCP from pod1 to pod2, checked by SHA-256.  TCP
# is where a checksum left to an offload the userspace datapath never does
# shows up (ICMP checksums are computed in full and would pass).
tcp_transfer() {
    local server rc=0 out
    lab_exec_pod p2 timeout 10 python3 -c '
import hashlib, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.244.0.12", 5001))
s.listen(1)
c, _ = s.accept()
h = hashlib.sha256()
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
c.sendall(h.hexdigest().encode())
' &
    server=$!
    out=$(lab_exec_pod p1 timeout 10 python3 -c '
import hashlib, os, socket, time
data = os.urandom(4 << 20)
for _ in range(100):
    try:
        s = socket.create_connection(("10.244.0.12", 5001), timeout=5)
        break
    except ConnectionRefusedError:
        time.sleep(0.02)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
print("ok" if s.recv(100).decode() == hashlib.sha256(data).hexdigest()
      else "corrupt")
') || rc=1
    wait "$server" || rc=1
    [[ $rc == 0 && $out == ok ]] || fail "TCP transfer pod1 -> pod2: '$out'"
}

dynamic_address() {
    local a
    a=$(lab_nbctl get Logical_Switch_Port p3 dynamic_addresses)
    [[ $a =~ ^\"([0-9a-f:]{17})\ (10\.244\.0\.([0-9]+))\"$ ]] || return 1
    [[ ${BASH_REMATCH[2]} != "$LAB_EXCLUDE_IPS" ]] ||
        fail "dynamic address $a uses an excluded IP"
    echo "smoke: p3 got dynamic address ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}

main() {
    local n down_twice
    echo "smoke: prefix $LAB_PREFIX, $LAB_CHASSIS chassis, dir $LAB_DIR"
    ((LAB_CHASSIS >= 2)) || fail "LAB_CHASSIS must be at least 2"
    [[ -z $(leftovers) ]] ||
        fail "prefix $LAB_PREFIX is in use; pick another LAB_PREFIX"
    make_stub

    # 1. A failure midway through 'up' must undo everything.  (Should 'up'
    #    wrongly succeed, the exit trap takes the lab down.)
    LAB_IS_UP=1
    if LAB_INJECT_FAIL=chassis2 "$LAB" up >/dev/null 2>&1; then
        fail "up with an injected failure succeeded"
    fi
    assert_nothing_left "a failed up"
    echo "smoke: failed up cleaned up after itself"

    # 2. Bring it up, with the stand-in daemon.
    LAB_IS_UP=1
    LAB_DAEMON=$STUB_DIR/ovn-controller-ext LAB_DAEMON_ARGS=--smoke-extra \
        timed "lab.sh up" "$LAB" up
    lab_load
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        check_daemon "$n"
    done
    daemon_cycle
    echo "smoke: daemon-start/daemon-stop OK on all chassis"

    # 3. Two pods on two chassis, by hand.
    timed "plumb two pods" plumb_pods
    timed "ovn-installed on both" wait_installed
    [[ $(chassis_of p1) == "$LAB_H1_CHASSIS" ]] ||
        fail "p1 bound to '$(chassis_of p1)', not $LAB_H1_CHASSIS"
    [[ $(chassis_of p2) == "$LAB_H2_CHASSIS" ]] ||
        fail "p2 bound to '$(chassis_of p2)', not $LAB_H2_CHASSIS"
    timed "first ping pod1 -> pod2" pod_ping -c 1 -W 2
    timed "5 pings, no loss" pod_ping -c 5 -i 0.1 -W 1
    # 1414 bytes of ICMP payload + 28 = 1442, the pod MTU; with DF set it
    # must cross the 1500-byte underlay inside Geneve without fragments.
    timed "full-MTU ping (DF)" pod_ping -c 2 -i 0.1 -W 1 -M "do" -s 1414
    check_geneve
    if command -v python3 >/dev/null; then
        timed "4 MiB over TCP" tcp_transfer
    else
        echo "smoke: no python3, TCP transfer skipped"
    fi

    # 4. Dynamic addressing.
    lab_nbctl lsp-add ls0 p3 -- lsp-set-addresses p3 dynamic
    lab_wait 5 "dynamic address for p3" dynamic_address
    dynamic_address

    # 5. Down, twice, and nothing left.
    timed "lab.sh down" "$LAB" down
    LAB_IS_UP=0
    assert_nothing_left "down"
    down_twice=$("$LAB" down 2>&1) || fail "second down failed: $down_twice"
    assert_nothing_left "a second down"
    echo "smoke: nothing left after down; second down OK"
}

main "$@"
