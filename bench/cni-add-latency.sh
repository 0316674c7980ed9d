#!/bin/bash
#
# cni-add-latency.sh - CNI ADD/DEL latency of ovn-lm, side by side with the
# reference "bridge" plugin, measured the way a container runtime sees it.
#
# See bench/README.md.  Must run as root (network namespaces).  Prints
# figures only; it never judges them.  Fails (exit 1) if any ADD or DEL
# failed or anything leaked.

set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
LAB=$REPO/test/lab/lab.sh
DRIVER=$HERE/cni-bench.py
# shellcheck source=../test/lab/lib.sh disable=SC1091
. "$REPO/test/lab/lib.sh"

usage() {
    cat <<EOF
usage: $0 [--pods N] [--skip-bridge] [--concurrency C]
          [--build-dir DIR] [--out DIR]

  --pods N          pods (ADDs) per plugin and round, 1..250 (default 100)
  --skip-bridge     time ovn-lm only
  --concurrency C   after the sequential round, one more round with C
                    ADDs/DELs in flight (default 4; 0 or 1: sequential only)
  --build-dir DIR   where cni/ovn-lm and ovn-controller-ext/ovn-controller-ext
                    were built (default \$OVN_LM_BUILD_DIR, else $REPO/build)
  --out DIR         keep the raw samples, the conflists and the logs of
                    ovn-controller-ext, ovn-controller and ovn-northd in DIR

Binaries can also be named one by one: OVN_LM_PLUGIN, OVN_LM_DAEMON.
The bridge plugin comes from \$CNI_BRIDGE_DIR (default /usr/lib/cni,
Debian's containernetworking-plugins).
EOF
}

PODS=100
SKIP_BRIDGE=0
CONC=4
BUILD_DIR=${OVN_LM_BUILD_DIR:-$REPO/build}
OUT=
while (($#)); do
    case $1 in
    --pods) PODS=${2:?--pods needs a value}; shift 2 ;;
    --pods=*) PODS=${1#*=}; shift ;;
    --skip-bridge) SKIP_BRIDGE=1; shift ;;
    --concurrency) CONC=${2:?--concurrency needs a value}; shift 2 ;;
    --concurrency=*) CONC=${1#*=}; shift ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a value}; shift 2 ;;
    --build-dir=*) BUILD_DIR=${1#*=}; shift ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

die() {
    echo "bench: error: $*" >&2
    exit 1
}
log() {
    echo "bench: $*" >&2
}

if ! [[ $PODS =~ ^[0-9]+$ ]] || ((PODS < 1 || PODS > 250)); then
    die "--pods wants 1..250 (the lab's logical switch is a /24)"
fi
if ! [[ $CONC =~ ^[0-9]+$ ]] || ((CONC > 64)); then
    die "--concurrency wants 0..64"
fi
[[ $(id -u) == 0 ]] || die "must run as root (network namespaces)"

PLUGIN=${OVN_LM_PLUGIN:-$BUILD_DIR/cni/ovn-lm}
DAEMON=${OVN_LM_DAEMON:-$BUILD_DIR/ovn-controller-ext/ovn-controller-ext}
BRIDGE_DIR=${CNI_BRIDGE_DIR:-/usr/lib/cni}
[[ -x $PLUGIN ]] || die "no CNI plugin at $PLUGIN (build it, or --build-dir)"
[[ -x $DAEMON ]] || die "no daemon at $DAEMON (build first, or --build-dir)"
if ((!SKIP_BRIDGE)); then
    [[ -x $BRIDGE_DIR/bridge && -x $BRIDGE_DIR/host-local ]] ||
        die "no bridge/host-local in $BRIDGE_DIR" \
            "(apt-get install containernetworking-plugins, or --skip-bridge)"
fi
command -v python3 >/dev/null || die "python3 is needed"

export LAB_PREFIX LAB_CHASSIS=3
LAB_PREFIX=$(lab_new_prefix)
lab_resolve
P=$LAB_PREFIX
WORK=$(mktemp -d "/tmp/ovn-lm-bench-$P.XXXXXX")
BHOST=${P}p-bhost         # the bridge plugin's "host": a throwaway netns
BR=${P}-br                # its bridge, inside $BHOST
LAB_STARTED=0
DONE_CLEAN=0

trap 'echo "bench: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR

# Our pod namespaces: ${P}p-lNNN (ovn-lm), ${P}p-bNNN (bridge), and $BHOST.
# All match the lab's pattern ${P}p-*, so 'lab.sh down' removes them too.
my_netns() {
    ip netns list | awk '{ print $1 }' |
        grep -E "^${P}p-(l[0-9]+|b[0-9]+|bhost)$" || true
}

teardown() {
    local ns rc=0
    mapfile -t ns < <(my_netns)
    if ((${#ns[@]})); then
        printf 'netns del %s\n' "${ns[@]}" | ip -force -batch - || rc=1
    fi
    if ((LAB_STARTED)); then
        "$LAB" down >"$WORK/lab-down.log" 2>&1 || {
            cat "$WORK/lab-down.log" >&2
            rc=1
        }
        LAB_STARTED=0
    fi
    return $rc
}

# leftovers: prints anything of this run that still exists.
leftovers() {
    local f
    ip netns list | awk '{ print $1 }' | grep "^$P" | sed 's/^/netns /' || true
    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
        grep "^$P" | sed 's/^/host link /' || true
    [[ ! -e $LAB_DIR ]] || echo "dir $LAB_DIR"
    # One grep over all command lines (a fork per process is slow here).
    grep -sla -- "${LAB_DIR}[/]" /proc/[0-9]*/cmdline 2>/dev/null |
        while read -r f; do
            echo "process ${f//[!0-9]/}: $(tr '\0' ' ' <"$f" 2>/dev/null)"
        done || true
}

cleanup() {
    local rc=$?
    trap - ERR EXIT
    if ((!DONE_CLEAN)); then
        teardown || rc=1
        local left
        left=$(leftovers)
        [[ -z $left ]] || {
            echo "bench: left behind:" >&2
            echo "$left" >&2
            rc=1
        }
    fi
    rm -rf -- "$WORK"
    ((rc == 0)) || echo "bench: FAILED (prefix $P)" >&2
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the lab and the pods -------------------------------------------------

t0=$(lab_now_ms)
log "prefix $P, $PODS pods per plugin, lab with 3 chassis," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
LAB_STARTED=1
LAB_DAEMON=$DAEMON "$LAB" up >"$WORK/lab-up.log" 2>&1 || {
    cat "$WORK/lab-up.log" >&2
    die "lab.sh up failed"
}
lab_load

make_netns() { # KIND(l|b) -> file of netns paths
    local kind=$1 i names=() f=$WORK/netns-$1
    for ((i = 0; i < PODS; i++)); do
        names+=("$(printf '%sp-%s%03d' "$P" "$kind" "$i")")
    done
    printf 'netns add %s\n' "${names[@]}" | ip -batch -
    for i in "${names[@]}"; do
        ip -n "$i" link set lo up # as the runtime's loopback plugin does
    done
    printf '/run/netns/%s\n' "${names[@]}" >"$f"
}
make_netns l

# One conflist per chassis, each pointing at that chassis' daemon.  cniVersion
# 1.0.0 is what Debian's runtimes speak.
LM_CONFS=()
for ((n = 1; n <= LAB_CHASSIS; n++)); do
    sock_var=LAB_H${n}_DAEMON_SOCK
    cat >"$WORK/ovn-lm-h$n.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "bench",
  "plugins": [
    {
      "type": "ovn-lm",
      "logicalSwitch": "$LAB_SWITCH",
      "socket": "${!sock_var}",
      "stateDir": "$WORK/ovn-lm-state",
      "readyTimeout": 20
    }
  ]
}
EOF
    LM_CONFS+=(--conflist "$WORK/ovn-lm-h$n.conflist")
done

if ((!SKIP_BRIDGE)); then
    make_netns b
    ip netns add "$BHOST"
    ip -n "$BHOST" link set lo up
    # The bridge plugin makes $BR itself on the first ADD, inside $BHOST.
    # No isGateway / ipMasq: nothing but links and addresses, all in our
    # namespaces.  host-local keeps its leases in our own dataDir.
    cat >"$WORK/bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "bench",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BR",
      "mtu": $LAB_POD_MTU,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "10.245.0.0/16" }]],
        "dataDir": "$WORK/host-local"
      }
    }
  ]
}
EOF
fi
log "lab and $(( (SKIP_BRIDGE ? 1 : 2) * PODS )) pod netns ready in" \
    "$(($(lab_now_ms) - t0)) ms"

ROUNDS=(--concurrency 1)
((CONC <= 1)) || ROUNDS+=(--concurrency "$CONC")

# --- checks -----------------------------------------------------------------

# leak WHAT LIST: reports leftovers (a newline-separated LIST) and sets the
# caller's 'bad'.
leak() {
    echo "$1: ${2//$'\n'/ }"
    bad=1
}

# ovn-lm's host-side interface names: "lm" and 12 hex digits (pod-net.h).
# Exact, so that the lab's own links (${P}nN, and P may start with "lm") are
# never taken for ovn-lm's.
LM_IF_RE='^lm[0-9a-f]{12}$'

# check_lm_added: every pod's host port is on a br-int and ovn-installed.
check_lm_added() {
    local n total=0 c
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        c=$(lab_vsctl "$n" --bare --columns=name find Interface \
            external_ids:ovn-installed=true | grep -cE "$LM_IF_RE" || true)
        total=$((total + c))
    done
    ((total == PODS)) ||
        { echo "$total of $PODS lm* interfaces are ovn-installed"; return 1; }
}

# check_lm_clean: nothing of ovn-lm is left after the DELs.
check_lm_clean() {
    local n bad=0 x
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        x=$(lab_vsctl "$n" list-ports br-int | grep -E "$LM_IF_RE" || true)
        [[ -z $x ]] || leak "chassis $n: OVS ports" "$x"
        x=$(lab_vsctl "$n" --bare --columns=name list Interface |
            grep -E "$LM_IF_RE" || true)
        [[ -z $x ]] || leak "chassis $n: OVS interfaces" "$x"
        x=$(ip -n "$(lab_ns_chassis "$n")" -o link show |
            awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
            grep -E "$LM_IF_RE" || true)
        [[ -z $x ]] || leak "chassis $n: veths" "$x"
    done
    x=$(lab_nbctl --bare --columns=name,external_ids list Logical_Switch_Port |
        grep -c 'ovn-lm/container-id' || true)
    ((x == 0)) ||
        leak NB "$x logical switch ports with ovn-lm/container-id"
    x=$(find "$WORK/ovn-lm-state" -type f 2>/dev/null || true)
    [[ -z $x ]] || leak "ovn-lm attachment records" "$x"
    return $bad
}

check_bridge_clean() {
    local bad=0 x
    x=$(ip -n "$BHOST" -o link show master "$BR" 2>/dev/null |
        awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' || true)
    [[ -z $x ]] || leak "bridge $BR still has ports" "$x"
    x=$(find "$WORK/host-local" -type f ! -name lock \
        ! -name 'last_reserved_ip.*' 2>/dev/null || true)
    [[ -z $x ]] || leak "host-local leases" "$x"
    return $bad
}

# The driver runs check_lm_added after the ADDs, in a child bash.
export -f check_lm_added lab_vsctl lab_ovs_db
export PODS LM_IF_RE

# --- the runs ---------------------------------------------------------------

FAILED=()                   # why the run failed, one reason an entry
RESULTS=()

log "ovn-lm: $PODS ADDs then $PODS DELs, round-robin over $LAB_CHASSIS chassis"
python3 "$DRIVER" run --label ovn_lm --bin "$PLUGIN" --cni-path "$BRIDGE_DIR" \
    "${LM_CONFS[@]}" --netns-file "$WORK/netns-l" "${ROUNDS[@]}" \
    --after-add-hook check_lm_added \
    --out "$WORK/ovn_lm.json" ||
    FAILED+=("ovn-lm: a call or a check of the driver failed")
RESULTS+=("$WORK/ovn_lm.json")
if ! out=$(check_lm_clean); then
    echo "bench: ovn-lm leaked after DEL:" >&2
    echo "$out" >&2
    FAILED+=("ovn-lm leaked after DEL")
fi

if ((!SKIP_BRIDGE)); then
    log "bridge: $PODS ADDs then $PODS DELs, plugin run inside netns $BHOST"
    ip netns exec "$BHOST" python3 "$DRIVER" run --label bridge \
        --bin "$BRIDGE_DIR/bridge" --cni-path "$BRIDGE_DIR" \
        --conflist "$WORK/bridge.conflist" --netns-file "$WORK/netns-b" \
        "${ROUNDS[@]}" --out "$WORK/bridge.json" ||
        FAILED+=("bridge: a call or a check of the driver failed")
    RESULTS+=("$WORK/bridge.json")
    if ! out=$(check_bridge_clean); then
        echo "bench: bridge leaked after DEL:" >&2
        echo "$out" >&2
        FAILED+=("bridge leaked after DEL")
    fi
fi

LOGS=()
if [[ -n $OUT ]]; then
    mkdir -p "$WORK/logs/central"
    cp "$LAB_DIR/central/ovn-northd.log" "$WORK/logs/central/" 2>/dev/null ||
        true
fi
for ((n = 1; n <= LAB_CHASSIS; n++)); do
    v=LAB_H${n}_DAEMON_LOG
    mkdir -p "$WORK/logs/h$n"
    cp "${!v}" "$WORK/logs/h$n/ovn-controller-ext.log" 2>/dev/null || true
    [[ -z $OUT ]] || cp "$LAB_DIR/h$n/ovn-controller.log" "$WORK/logs/h$n/" \
        2>/dev/null || true
    LOGS+=(--daemon-log "$WORK/logs/h$n/ovn-controller-ext.log")
done

# --- teardown and the leak check --------------------------------------------

t1=$(lab_now_ms)
teardown || FAILED+=("teardown failed")
left=$(leftovers)
if [[ -n $left ]]; then
    echo "bench: left behind after teardown:" >&2
    echo "$left" >&2
    FAILED+=("left behind after teardown")
else
    log "teardown in $(($(lab_now_ms) - t1)) ms, nothing of prefix $P left"
fi
DONE_CLEAN=1

python3 "$DRIVER" report "${LOGS[@]}" "${RESULTS[@]}" ||
    FAILED+=("the report failed")
if [[ -n $OUT ]]; then
    mkdir -p "$OUT"
    cp -r "$WORK"/*.json "$WORK"/*.conflist "$WORK/logs" "$OUT"/ 2>/dev/null ||
        true
fi
log "total $(($(lab_now_ms) - t0)) ms, load average now" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
if ((${#FAILED[@]})); then
    die "$(printf '%s; ' "${FAILED[@]}")details above"
fi
