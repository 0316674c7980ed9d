#!/bin/bash
#
# selftest.sh - a real QEMU live migration, KubeVirt bridge binding style,
# without OVN.
#
#   netns ${P}sw: Linux bridge br0 ("the network")
#     port pa -- veth -- netns ${P}pa eth0   pod A (source virt-launcher)
#     port pb -- veth -- netns ${P}pb eth0   pod B (target virt-launcher)
#     port pc -- veth -- netns ${P}cl eth0   client, 10.244.0.50
#
# Pods A and B get the same MAC/IP (what the CNI plugin gives both pods of
# one VM); vm_pod_bridge turns each into KubeVirt's k6t-eth0/tap0 layout.
# The guest boots in A; a target QEMU waits in B; from the client a TCP
# echo connection (a line every 10 ms, traffic.py) and ovn-lm-probe (ICMP
# at 1 kHz: the guest's kernel answers, nothing of ours runs in the guest)
# run while the VM migrates A -> B (and back, VM_SELFTEST_ROUNDS > 1).
# tcpdump on
# the switch ports records the announce frames (RARP 0x8035 and gratuitous
# ARP) from the guest MAC.
#
# Checks: the guest boots, the target waits, MTU-sized DF pings pass, each
# migration completes with the target running, the TCP connection survives
# (every line echoed, in order, same connection, echoes after the last
# migration), the probe is answered after the last migration, and the
# target sends RARP from the guest MAC after each migration.  Prints timings
# (per migration: QEMU's figures, the probe's reply gap over the pause and
# the probes lost in it, the TCP echo gap) and 'N passed, N failed'.  Cleans up everything (trap), also on failure.
#
# Environment:
#   OVN_LM_PROBE        the ovn-lm-probe binary
#                       [build/tools/ovn-lm-probe/ovn-lm-probe in the repo]
#   VM_SELFTEST_ROUNDS  migrations (alternating A->B, B->A...)   [1]
#   VM_SELFTEST_MTU     pod MTU (the lab's pod MTU)              [1442]
#   VM_SELFTEST_KEEP    1: keep the artifacts dir even on success
#   VM_SELFTEST_PREFIX  names prefix (default: random lvXXXX)
#   and vm.sh's (VM_DOWNTIME_LIMIT, VM_MEM, VM_GUEST_DIR, ...)
#
# Needs root, qemu-system-x86, iproute2, ethtool, tcpdump, iputils-ping,
# python3, a built ovn-lm-probe (exit 77, skipped, without it), and what
# build-guest.sh needs.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

if [[ $EUID -ne 0 ]]; then
    echo "selftest: needs root (network namespaces)" >&2
    exit 1
fi

PROBE=${OVN_LM_PROBE:-$REPO/build/tools/ovn-lm-probe/ovn-lm-probe}
if [[ ! -f $PROBE || ! -x $PROBE ]]; then
    echo "selftest: SKIP: ovn-lm-probe not found at $PROBE; build it" \
        "(cmake -S $REPO -B $REPO/build && make -C $REPO/build" \
        "ovn-lm-probe) or set OVN_LM_PROBE" >&2
    exit 77
fi

new_prefix() {
    local chars=abcdefghijklmnopqrstuvwxyz0123456789 p i
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=lv
        for i in 1 2 3 4; do
            p+=${chars:SRANDOM % 36:1}
        done
        if ! compgen -G "/run/netns/$p*" >/dev/null &&
            [[ ! -e /tmp/ovn-lm-vm-$p ]]; then
            echo "$p"
            return 0
        fi
    done
    echo "selftest: no free prefix" >&2
    return 1
}

P=${VM_SELFTEST_PREFIX:-$(new_prefix)}
[[ $P =~ ^[a-z][a-z0-9]{0,7}$ ]] || { echo "bad prefix $P" >&2; exit 1; }
ROUNDS=${VM_SELFTEST_ROUNDS:-1}
MTU=${VM_SELFTEST_MTU:-1442}
export VM_RUN_DIR=/tmp/ovn-lm-vm-$P
ART=$VM_RUN_DIR/artifacts
# shellcheck source=vm.sh
. "$HERE/vm.sh"

NS_SW=${P}sw NS_A=${P}pa NS_B=${P}pb NS_CL=${P}cl
GUEST_MAC=0a:58:0a:f4:00:09
GUEST_IP=10.244.0.9
CLIENT_IP=10.244.0.50
PLEN=24

PASSED=0 FAILED=0
BG_PIDS=()
FINAL_ART=""

ok() {
    PASSED=$((PASSED + 1))
    echo "ok - $*"
}
fail() {
    FAILED=$((FAILED + 1))
    echo "not ok - $*"
}
check() { # check DESC CMD...
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else fail "$desc"; fi
}
info() { echo "# $*"; }

cleanup() {
    local rc=$? pid ns
    set +e
    for pid in "${BG_PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null
    done
    for pid in "${BG_PIDS[@]}"; do
        # Our children: wait reaps them.
        timeout 3 tail --pid="$pid" -f /dev/null 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ -d $ART ]] &&
        { ((FAILED > 0 || rc != 0)) || [[ ${VM_SELFTEST_KEEP:-} == 1 ]]; }
    then
        FINAL_ART=/tmp/ovn-lm-vm-selftest-$P
        rm -rf "$FINAL_ART"
        cp -a "$ART" "$FINAL_ART"
        for d in "$VM_RUN_DIR"/*/; do
            [[ -d $d && ${d%/} != "$ART" ]] || continue
            cp -a "${d%/}" "$FINAL_ART/vm-$(basename "$d")" 2>/dev/null
        done
        echo "# artifacts kept in $FINAL_ART"
    fi
    vm_cleanup_all
    for ns in "$NS_CL" "$NS_A" "$NS_B" "$NS_SW"; do
        [[ -e /run/netns/$ns ]] && ip netns del "$ns"
    done
    rm -rf "$VM_RUN_DIR"
    if ((rc != 0 && PASSED + FAILED > 0 && FAILED == 0)); then
        FAILED=1
        echo "not ok - selftest aborted (exit $rc)"
    fi
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0)) || exit 1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bg_forget PID: PID was reaped; never signal it again.
bg_forget() {
    local i
    for i in "${!BG_PIDS[@]}"; do
        [[ ${BG_PIDS[i]} == "$1" ]] && unset 'BG_PIDS[i]'
    done
    return 0
}

nsx() { # nsx NETNS CMD...
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# veth NS_SWITCH PORT NS_POD: veth PORT (switch side) <-> eth0 (pod side),
# tx checksum offload off on both ends as in the lab.
veth() {
    ip link add "$2" netns "$1" type veth peer name eth0 netns "$3"
    nsx "$1" ip link set "$2" mtu "$MTU" master br0 up
    nsx "$3" ip link set eth0 mtu "$MTU"
    nsx "$1" ethtool -K "$2" tx off >/dev/null
    nsx "$3" ethtool -K eth0 tx off >/dev/null
}

# ms_between T0 T1: (T1 - T0) in ms with one decimal.
ms_between() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'
}

# json FILE KEY: a top-level value of a JSON object (traffic.py summary,
# ovn-lm-probe report).
json() {
    python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]
print("" if v is None else str(v).lower() if isinstance(v, bool) else v)' \
        "$1" "$2"
}

# kv FILE KEY: a value of vm_migrate's key=value output.
kv() { sed -n "s/^$2=//p" "$1"; }

# guest_alive NAME: QEMU of VM NAME runs and its guest did not panic.
guest_alive() {
    [[ -n $(vm_pid "$1") ]] &&
        ! grep -aq 'Kernel panic\|BUG: \|Oops' "$(vm_dir "$1")/console.log"
}

# round_gap FILE STOP_TS RESUME_TS: the longest reply gap that overlaps
# the migration's pause (source STOP .. target RESUME), as "GAP_MS (ends
# +X ms after resume)", or "none".  FILE is a traffic.py summary (gaps:
# [start, end] in seconds) or an ovn-lm-probe report (gaps: the --gaps
# longest, each with start/end.unix_ns); for the probe also how many probes
# sent within that gap were never answered (at 1 kHz, ms of real outage:
# the rest of the gap is replies that came late).
round_gap() {
    python3 - "$@" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
stop, resume = float(sys.argv[2]), float(sys.argv[3])
probe = res.get("tool") == "ovn-lm-probe"
best = None
for g in res.get("gaps") or []:
    if probe:
        a, b = g["start"]["unix_ns"] / 1e9, g["end"]["unix_ns"] / 1e9
    else:
        a, b = g
    if a <= resume and b >= stop and (best is None or b - a > best[1] - best[0]):
        best = (a, b, g)
if best:
    a, b, g = best
    out = "%.1f ms (ends %+.1f ms after resume)" % ((b - a) * 1000,
                                                     (b - resume) * 1000)
    if probe:
        out += ", %d lost" % g["probes_lost"]
        if g["open"]:
            out += ", still open at the end"
else:
    out = "none"
print(out)
PY
}

# probe_answered_after FILE TS: the ovn-lm-probe report FILE shows replies
# after TS: a gap containing TS ended with a reply (not open), or, if no
# listed gap contains TS, no listed gap is open and the run went on after
# TS (unlisted gaps are shorter than every listed one).
probe_answered_after() {
    python3 - "$@" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
ts = float(sys.argv[2])
if not res.get("received"):
    sys.exit(1)
gaps = [(g["start"]["unix_ns"] / 1e9, g["end"]["unix_ns"] / 1e9, g["open"])
        for g in res.get("gaps") or []]
for a, b, is_open in gaps:
    if a <= ts <= b:
        sys.exit(1 if is_open else 0)
shortest = min((b - a for a, b, _ in gaps), default=0)
end = res["end"]["unix_ns"] / 1e9
sys.exit(0 if not any(o for _, _, o in gaps) and end - shortest > ts else 1)
PY
}

float_gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

# wait_line FILE REGEX SECONDS
wait_line() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

mkdir -p "$ART"
info "prefix $P, run dir $VM_RUN_DIR, accel $VM_ACCEL, rounds $ROUNDS," \
    "pod MTU $MTU"

# --- guest --------------------------------------------------------------
t0=$(vm_now_ms)
check "guest built (or cached)" vm_guest_ensure
info "guest ready in $(($(vm_now_ms) - t0)) ms: $(grep -h KERNEL_PKG= \
    "$VM_GUEST_DIR/guest.env" | tr '\n' ' ')"

# --- topology -----------------------------------------------------------
for ns in "$NS_SW" "$NS_A" "$NS_B" "$NS_CL"; do
    ip netns add "$ns"
    nsx "$ns" ip link set lo up
    nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
done
nsx "$NS_SW" ip link add br0 type bridge
nsx "$NS_SW" ip link set br0 up
veth "$NS_SW" pa "$NS_A"
veth "$NS_SW" pb "$NS_B"
veth "$NS_SW" pc "$NS_CL"
# What the CNI plugin gives both pods of the VM: same MAC and IP.
for ns in "$NS_A" "$NS_B"; do
    nsx "$ns" ip link set eth0 address "$GUEST_MAC"
    nsx "$ns" ip addr add "$GUEST_IP/$PLEN" dev eth0
    nsx "$ns" ip link set eth0 up
done
nsx "$NS_CL" ip addr add "$CLIENT_IP/$PLEN" dev eth0
nsx "$NS_CL" ip link set eth0 up

# pod NS -> its switch port
port_of() { [[ $1 == "$NS_A" ]] && echo pa || echo pb; }

# --- source VM in pod A -------------------------------------------------
eval "$(vm_pod_bridge "$NS_A" eth0)"
check "bridge binding in pod A keeps MAC/IP/MTU for the guest" \
    test "$VM_MAC $VM_IP $VM_MTU" == "$GUEST_MAC $GUEST_IP/$PLEN $MTU"
BOOT_MS=""
if vm_start vm1 "$NS_A" "$VM_TAP" "$VM_MAC" "$VM_IP"; then
    BOOT_MS=$(<"$(vm_dir vm1)/boot_ms")
    ok "guest boots in pod A ($BOOT_MS ms)"
else
    fail "guest boots in pod A"
    exit 1
fi

eval "$(vm_pod_bridge "$NS_B" eth0)"
check "bridge binding in pod B" test "$VM_MAC $VM_IP" == \
    "$GUEST_MAC $GUEST_IP/$PLEN"

# ping_ok ARGS...: ping from the client, quiet unless it fails.
ping_ok() {
    local o
    o=$(nsx "$NS_CL" ping -q "$@" 2>&1) || {
        printf '#   %s\n' "${o//$'\n'/$'\n'#   }"
        return 1
    }
}
check "client pings the guest" ping_ok -c 3 -i 0.2 -W 2 "$GUEST_IP"
check "DF ping of MTU $MTU reaches the guest" \
    ping_ok -c 1 -W 2 -M "do" -s $((MTU - 28)) "$GUEST_IP"

# --- captures and traffic -------------------------------------------------
for port in pa pb; do
    nsx "$NS_SW" tcpdump -i "$port" -nn -U --immediate-mode \
        -w "$ART/$port.pcap" 'ether proto 0x8035 or arp' \
        2>"$ART/tcpdump-$port.err" &
    BG_PIDS+=($!)
done
for port in pa pb; do
    wait_line "$ART/tcpdump-$port.err" 'listening on' 10 ||
        { fail "tcpdump on $port starts"; exit 1; }
done

STOP=$ART/stop
nsx "$NS_CL" python3 "$HERE/traffic.py" tcp-echo "$GUEST_IP" 7 \
    --interval-ms 10 --duration 300 --stop-file "$STOP" \
    --out "$ART/tcp.json" >"$ART/tcp.out" 2>&1 &
TCP_PID=$!
BG_PIDS+=("$TCP_PID")
# ICMP at 1 kHz from the client's namespace until SIGINT; -v prints
# "sent N, replies M" every second (how we see it is answered).
"$PROBE" --netns "$NS_CL" --mode icmp --rate 1000 --gaps 100 -v \
    --json "$ART/probe.json" "$GUEST_IP" >"$ART/probe.out" 2>&1 &
PROBE_PID=$!
BG_PIDS+=("$PROBE_PID")
check "TCP echo connection established" wait_line "$ART/tcp.out" ready 10
check "ICMP probe (ovn-lm-probe) answered" \
    wait_line "$ART/probe.out" 'replies [1-9]' 10
sleep 1

# --- migrations -------------------------------------------------------
src=vm1 src_ns=$NS_A dst_ns=$NS_B
declare -a R_TOTAL R_DOWN R_S2R R_RARP R_GARP R_STOP R_RESUME
LAST_RESUME=""
for ((r = 1; r <= ROUNDS; r++)); do
    dst=vm$((r + 1))
    if ! vm_start "$dst" "$dst_ns" tap0 "$GUEST_MAC" "$GUEST_IP/$PLEN" \
        --incoming auto; then
        fail "round $r: target QEMU waits in $dst_ns"
        break
    fi
    ok "round $r: target QEMU waits in $dst_ns"
    sleep 0.5
    out=$ART/migrate-$r.out
    vm_migrate "$src" "$dst" >"$out" || true
    sed 's/^/#   /' "$out"
    got="$(kv "$out" status) $(kv "$out" target_status) $(kv "$out" \
        source_status)"
    check "round $r: migration completed, target running, source paused" \
        test "$got" == "completed running postmigrate"
    if [[ $got != "completed running postmigrate" ]]; then
        break
    fi
    R_TOTAL[r]=$(kv "$out" total_time_ms)
    R_DOWN[r]=$(kv "$out" downtime_ms)
    R_S2R[r]=$(kv "$out" stop_to_resume_ms)
    LAST_RESUME=$(kv "$out" dst_resume_ts)
    R_STOP[r]=$(kv "$out" src_stop_ts)
    R_RESUME[r]=$LAST_RESUME
    # Let the announce rounds (50..800 ms after resume) and the traffic
    # run, then end the source as KubeVirt does.
    sleep 1.5
    vm_stop "$src"
    # Announce frames from the guest MAC on the target's switch port,
    # after this migration's resume.
    port=$(port_of "$dst_ns")
    resume=${LAST_RESUME:-0}
    stop_ts=$(kv "$out" src_stop_ts)
    tcpdump -r "$ART/$port.pcap" -tt -nn -e 2>/dev/null |
        awk -v t="${stop_ts:-0}" '$1 >= t' >"$ART/announce-$r.txt" || true
    R_RARP[r]=$(awk -v m="$GUEST_MAC" -v t="$resume" \
        '$2 == m && /Reverse ARP/ { printf "%s%.1f", s, ($1 - t) * 1000;
         s = " " }' "$ART/announce-$r.txt")
    R_GARP[r]=$(awk -v m="$GUEST_MAC" -v t="$resume" -v ip="$GUEST_IP" \
        '$2 == m && /ethertype ARP/ && $0 ~ "who-has " ip " tell " ip {
         printf "%s%.1f", s, ($1 - t) * 1000; s = " " }' \
        "$ART/announce-$r.txt")
    check "round $r: target sent RARP from $GUEST_MAC on $port" \
        test -n "${R_RARP[r]}"
    check "round $r: guest alive on the target (no panic, QEMU up)" \
        guest_alive "$dst"
    info "round $r: RARP at ms after target resume: ${R_RARP[r]:-none}"
    info "round $r: guest GARP at ms after resume: ${R_GARP[r]:-none}"
    src=$dst
    tmp=$src_ns src_ns=$dst_ns dst_ns=$tmp
done

# --- traffic results --------------------------------------------------
sleep 0.5
touch "$STOP"
kill -INT "$PROBE_PID"
PROBE_RC=0
wait "$PROBE_PID" || PROBE_RC=$?
bg_forget "$PROBE_PID"
wait "$TCP_PID" || true
bg_forget "$TCP_PID"
if [[ -s $ART/tcp.json ]]; then
    info "tcp: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
d.pop("gaps"); print(d)' "$ART/tcp.json")"
    check "TCP connection survived: every line echoed in order, no error" \
        test "$(json "$ART/tcp.json" ok)" == true
    check "TCP echoes on the same connection after the last migration" \
        float_gt "$(json "$ART/tcp.json" last_rx)" "${LAST_RESUME:-9e99}"
else
    fail "TCP client wrote its summary"
fi
check "ovn-lm-probe measured (exit 0 after SIGINT)" test "$PROBE_RC" -eq 0
if [[ -s $ART/probe.json ]]; then
    python3 -c 'import json,sys
for w in json.load(open(sys.argv[1]))["warnings"]: print("# probe warning:", w)' \
        "$ART/probe.json"
    check "ICMP probe answered after the last migration" \
        probe_answered_after "$ART/probe.json" "${LAST_RESUME:-9e99}"
else
    fail "ovn-lm-probe wrote its report"
fi
check "guest answers ping after migration (from pod $(port_of "$src_ns"))" \
    ping_ok -c 3 -i 0.2 -W 2 "$GUEST_IP"
check "guest alive at the end" guest_alive "$src"

# --- summary ----------------------------------------------------------
echo "# ---- timings (accel $VM_ACCEL, ${VM_MEM} MiB guest," \
    "downtime-limit $VM_DOWNTIME_LIMIT ms) ----"
echo "# guest boot (QEMU start -> banner): ${BOOT_MS:-?} ms"
for ((r = 1; r <= ${#R_TOTAL[@]}; r++)); do
    echo "# migration $r: total ${R_TOTAL[r]:-?} ms, QEMU downtime" \
        "${R_DOWN[r]:-?} ms, source stop -> target resume" \
        "${R_S2R[r]:-?} ms"
    if [[ -n ${R_STOP[r]:-} && -n ${R_RESUME[r]:-} && -s $ART/probe.json &&
        -s $ART/tcp.json ]]; then
        echo "#   ICMP probe gap: $(round_gap "$ART/probe.json" \
            "${R_STOP[r]}" "${R_RESUME[r]}"); TCP echo gap: $(round_gap \
            "$ART/tcp.json" "${R_STOP[r]}" "${R_RESUME[r]}")"
    fi
    echo "#   RARP (ms after resume): ${R_RARP[r]:-none}; guest GARP:" \
        "${R_GARP[r]:-none}"
done
if [[ -s $ART/tcp.json ]]; then
    echo "# TCP echo: longest gap $(json "$ART/tcp.json" max_gap_ms) ms," \
        "$(json "$ART/tcp.json" received)/$(json "$ART/tcp.json" sent) echoed"
fi
if [[ -s $ART/probe.json ]]; then
    python3 - "$ART/probe.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
dt = d["downtime"]
print("# ICMP 1 kHz probe (ovn-lm-probe): downtime (longest reply gap) %s,"
      " lost %d/%d, duplicated %d, longest loss run %d"
      % ("%.3f ms%s" % (dt["duration_ms"], " (open)" if dt["open"] else "")
         if dt else "none", d["lost"], d["sent"], d["duplicated"],
         d["loss_run"]["count"]))
PY
fi
