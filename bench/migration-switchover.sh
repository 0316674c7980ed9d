#!/bin/bash
# migration-switchover.sh - how long a moving workload is unreachable at the
# switchover: OVN multi-chassis binding + RARP (ovn-lm) next to the naive
# approach (flip requested-chassis to the target), in the same run, with the
# Northbound database loaded with other logical ports.
#
#   sudo bench/migration-switchover.sh [--migrations N] [--load N]
#        [--rate HZ] [--window S] [--build-dir DIR] [--out DIR]
#
# The workload is a process: ovn-lm-probe --responder in a pod.  A client
# pod on chassis 3 probes it (ovn-lm-probe, UDP, kernel timestamps) while it
# moves between chassis 1 and 2, N times back and forth per approach:
#
#   multi-chassis  the target pod's CNI ADD (ovn-lm) prepared the port
#                  (requested-chassis=SRC,DST, activation-strategy=rarp);
#                  at the switchover the source process is killed and the
#                  target sends the workload's RARP, as QEMU does; the source
#                  pod's CNI DEL then completes the migration.
#   naive          the port is bound to the source alone and the target pod
#                  is plumbed with the same iface-id; at the switchover the
#                  source process is killed and requested-chassis is set to
#                  the target.
#
# The switchover itself is bench/switchover.py, prepared in advance, so the
# two pay the same tiny cost outside OVN.  The figure per migration is the
# probe's longest reply gap.  For multi-chassis, each of the three phases is
# probed on its own, over the same window (--window seconds, the action
# 0.4 s in): prepare (the target's ADD: SRC -> SRC,DST), switchover (kill +
# RARP) and completion (the source's DEL: -> DST).  Before each migration
# the same probe runs with nothing happening: the baseline, measured in the
# same run, under the same load.  Prints, per phase, the longest reply gap
# (min/p50/p99/max), the probes lost (total, and in how many migrations),
# the machine's load average, the naive/multi-chassis ratio, and a JSON
# line; never judges them.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

N=20 LOAD=2000 RATE=10000 WINDOW=2 BUILD=${OVN_LM_BUILD_DIR:-$ROOT/build} OUT=
while (($#)); do
    case $1 in
    --migrations) N=$2; shift 2 ;;
    --load) LOAD=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --build-dir) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "migration-switchover.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

# shellcheck source=../test/lab/lib.sh
. "$ROOT/test/lab/lib.sh"
# shellcheck source=../test/integration/lib-cni.sh
. "$ROOT/test/integration/lib-cni.sh"
# shellcheck source=../test/integration/lib-migration.sh
. "$ROOT/test/integration/lib-migration.sh"
OVN_LM_CNI=$BUILD/cni/ovn-lm
LAB_DAEMON=$BUILD/ovn-controller-ext/ovn-controller-ext
PROBE=$BUILD/tools/ovn-lm-probe/ovn-lm-probe
for b in "$OVN_LM_CNI" "$LAB_DAEMON" "$PROBE"; do
    [[ -x $b ]] || { echo "missing $b: build first" >&2; exit 1; }
done
LAB_PREFIX=$(lab_new_prefix)
LAB_DIR=/tmp/ovn-lm-lab-$LAB_PREFIX
export OVN_LM_CNI LAB_DAEMON LAB_PREFIX LAB_DIR
WORK=${OUT:-$LAB_DIR/bench}
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || :; done
    if [[ -n $OUT ]]; then
        local h
        for h in 1 2 3; do
            cp "$LAB_DIR/h$h/ovn-controller-ext.log" \
                "$OUT/ovn-controller-ext-$h.log" 2>/dev/null || :
            cp "$LAB_DIR/h$h/ovn-controller.log" \
                "$OUT/ovn-controller-$h.log" 2>/dev/null || :
        done
    fi
    "$ROOT/test/lab/lab.sh" down >/dev/null 2>&1 || :
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/test/lab/lab.sh" up >/dev/null
lab_load
mkdir -p "$WORK"
C1=$(lab_chassis_name 1) C2=$(lab_chassis_name 2)

# --- The load: LOAD other logical ports, in one transaction -----------------
t0=$(lab_now_ms)
python3 - "$LOAD" >"$WORK/load.args" <<'PY'
import sys
n = int(sys.argv[1])
args = ["ls-add", "ls-load"]
for i in range(n):
    mac = "0a:59:00:00:%02x:%02x" % (i >> 8 & 255, i & 255)
    ip = "10.250.%d.%d" % (i >> 8 & 255, i & 255)
    args += ["--", "lsp-add", "ls-load", f"load{i}",
             "--", "lsp-set-addresses", f"load{i}", f"{mac} {ip}"]
sys.stdout.write("\0".join(args) + "\0")
PY
mapfile -d '' load_args <"$WORK/load.args"
ovn-nbctl --db="$LAB_NB_DB" "${load_args[@]}" >/dev/null
lab_nbctl --wait=sb sync
echo "NB: $(lab_nbctl --bare --columns=name list Logical_Switch_Port | grep -c .) logical ports ($(( $(lab_now_ms) - t0 )) ms to load)"

cni_add_pod 3 client >/dev/null
CLIENT_NS=$(lab_ns_pod client)

# The probe sleeps between sends (no busy wait): on a 2-core machine a
# spinning prober would take the CPU the datapath needs (every phase alike).
RT=(--spin-us 0)
responder() {     # responder POD: starts one, prints its PID
    "$PROBE" --responder --netns "$(lab_ns_pod "$1")" \
        >/dev/null 2>&1 &
    echo $!
}

# record PHASE BASE EVENT-MS: appends, from the probe's report BASE.json and
# its probes BASE.csv, the window's longest reply gap (ms) and lost count,
# then the same within 50 ms before to 250 ms after the phase's event (the
# moment the daemon acted, EVENT-MS, wall clock).
record() {
    python3 - "$2" "$3" >>"$WORK/$1" <<'PY'
import csv, json, sys
base, ev = sys.argv[1], float(sys.argv[2]) * 1e6
d = json.load(open(base + ".json"))
g = (d.get("downtime") or {}).get("duration_ms", 0)
lo, hi = ev - 50e6, ev + 250e6
lost, rx = 0, []
with open(base + ".csv") as f:
    for r in csv.reader(f):
        if not r or not r[0].isdigit():
            continue
        if r[2]:
            rx.append(int(r[2]))
        elif lo <= int(r[1]) <= hi:
            lost += 1
rx.sort()
gap = max([(b - a) / 1e6 for a, b in zip(rx, rx[1:]) if b >= lo and a <= hi]
          or [0.0])
print("%s %d %.3f %d" % (g, d.get("lost", 0), gap, lost))
PY
}

# probe_around PHASE IP EVENT CMD...: probes IP for WINDOW seconds and runs
# CMD 0.4 s in; records the phase's figures.  EVENT: the port's
# external_ids key with the time the daemon acted, or "-" for when CMD ran.
probe_around() {
    local phase=$1 ip=$2 event=$3 n=$((++PROBES)) probe t
    shift 3
    "$PROBE" --netns "$CLIENT_NS" "${RT[@]}" --rate "$RATE" \
        --duration "$WINDOW" --quiet --json "$WORK/$phase-$n.json" \
        --raw "$WORK/$phase-$n.csv" "$ip" &
    probe=$!
    sleep 0.4
    t=$(lab_now_ms)
    "$@"
    wait "$probe" || :
    if [[ $event != - ]]; then
        t=$(lsp_ext wl "$event")
    fi
    record "$phase" "$WORK/$phase-$n" "$t"
}
PROBES=0

# switch_once MODE TARGET-POD OLD-PID ARGS...: probe across one switchover;
# appends the probe's longest gap (ms) and lost count to $WORK/MODE.
switch_once() {
    local mode=$1 pod=$2 old=$3 ip=$4
    shift 4
    local n=$((++SWITCHES)) sw probe
    coproc SW { ip netns exec "$(lab_ns_pod "$pod")" python3 \
        "$HERE/switchover.py" "$mode" --kill "$old" "$@"; }
    read -r line <&"${SW[0]}"
    [[ $line == ready ]] || { echo "switchover.py: $line" >&2; exit 1; }
    "$PROBE" --netns "$CLIENT_NS" "${RT[@]}" --rate "$RATE" \
        --duration "$WINDOW" --quiet --json "$WORK/$mode-$n.json" \
        --raw "$WORK/$mode-$n.csv" "$ip" &
    probe=$!
    sleep 0.4
    echo go >&"${SW[1]}"
    read -r line <&"${SW[0]}"
    echo "$line" >"$WORK/$mode-$n.switch"
    wait "$SW_PID" || { echo "switchover.py failed" >&2; exit 1; }
    wait "$probe" || :
    record "$mode" "$WORK/$mode-$n" "$(python3 -c '
import json, sys
print(int(json.load(open(sys.argv[1]))["t_kill"] * 1000))' \
        "$WORK/$mode-$n.switch")"
}
SWITCHES=0

prepare() {        # prepare CHASSIS POD: the target's ADD
    vm_add "$1" wl "$2" >/dev/null
}
complete_mig() {   # complete_mig CHASSIS POD: the source's DEL
    cni_run DEL "cid-$2" "/run/netns/$(lab_ns_pod "$2")" eth0 "" \
        "$(cni_conf "$1")"
}

# --- Multi-chassis + RARP, through ovn-lm ------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "multi-chassis: $N migrations (load average $LOAD_BEFORE) ..."
vm_add 1 wl mc-0 >/dev/null
WL_IP=$POD_IP
pid=$(responder mc-0)
PIDS+=("$pid")
: >"$WORK/rarp"
for f in baseline prepare completion; do : >"$WORK/$f"; done
sleep 0.2
for ((i = 1; i <= N; i++)); do
    from=$(((i % 2) ? 1 : 2)) to=$(((i % 2) ? 2 : 1))
    probe_around baseline "$WL_IP" - :
    probe_around prepare "$WL_IP" ovn-lm/migration-t-add \
        prepare "$to" "mc-$i"
    new=$(responder "mc-$i")
    PIDS+=("$new")
    sleep 0.2
    switch_once rarp "mc-$i" "$pid" "$WL_IP" --iface eth0
    wait_state wl activated || { echo "migration $i not activated" >&2; exit 1; }
    probe_around completion "$WL_IP" ovn-lm/migration-t-end \
        complete_mig "$from" "mc-$((i - 1))"
    [[ $CNI_RC == 0 && $(mig_state wl) == completed ]] ||
        { echo "migration $i did not complete: $CNI_OUT" >&2; exit 1; }
    lab_pod_netns_del "mc-$((i - 1))"
    pid=$new
done
kill -9 "$pid" 2>/dev/null || :
LOAD_MC=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Naive: flip requested-chassis --------------------------------------------
echo "naive: $N migrations ..."
NMAC=0a:58:0a:f4:00:fa NIP=10.244.0.250
lab_nbctl lsp-add ls0 naive -- lsp-set-addresses naive "$NMAC $NIP" \
    -- lsp-set-port-security naive "$NMAC $NIP" \
    -- lsp-set-options naive "requested-chassis=$C1"
lab_pod_netns nv-0 >/dev/null
lab_pod_attach 1 nv-0 naive "$NMAC" "$NIP/24"
lab_wait_ovn_installed 1 v-nv-0
pid=$(responder nv-0)
PIDS+=("$pid")
: >"$WORK/naive"
for ((i = 1; i <= N; i++)); do
    from=$(((i % 2) ? 1 : 2)) to=$(((i % 2) ? 2 : 1))
    lab_pod_netns "nv-$i" >/dev/null
    lab_pod_attach "$to" "nv-$i" naive "$NMAC" "$NIP/24"
    new=$(responder "nv-$i")
    PIDS+=("$new")
    sleep 0.2
    switch_once naive "nv-$i" "$pid" "$NIP" --nb-sock "$LAB_NB_SOCK" \
        --lport naive --chassis "$(lab_chassis_name "$to")"
    lab_vsctl "$from" --if-exists del-port br-int "v-nv-$((i - 1))"
    lab_pod_netns_del "nv-$((i - 1))"
    pid=$new
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Figures -------------------------------------------------------------------
python3 - "$WORK" "$N" "$LOAD" "$RATE" "$WINDOW" "$LOAD_BEFORE" "$LOAD_MC" \
    "$LOAD_AFTER" <<'PY'
import json, sys
work, n, load, rate, window = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                               sys.argv[4], sys.argv[5])
loadavg = {"start": sys.argv[6], "after_multi_chassis": sys.argv[7],
           "end": sys.argv[8]}

def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)

res = {}
modes = ("baseline", "prepare", "rarp", "completion", "naive")
for mode in modes:
    rows = [l.split() for l in open(f"{work}/{mode}")]
    gaps = [float(r[0]) for r in rows]
    lost = [int(r[1]) for r in rows]
    egaps = [float(r[2]) for r in rows]
    elost = [int(r[3]) for r in rows]
    res[mode] = {"n": len(gaps), "gap_min_ms": min(gaps),
                 "gap_p50_ms": pct(gaps, 50), "gap_p99_ms": pct(gaps, 99),
                 "gap_max_ms": max(gaps), "lost_p50": pct(lost, 50),
                 "lost_total": sum(lost),
                 "lost_runs": sum(1 for x in lost if x),
                 "event_gap_p50_ms": pct(egaps, 50),
                 "event_gap_p99_ms": pct(egaps, 99),
                 "event_gap_max_ms": max(egaps),
                 "event_lost_total": sum(elost),
                 "event_lost_runs": sum(1 for x in elost if x)}
print()
print(f"longest reply gap per probe window ({window} s, action 0.4 s in), "
      f"{n} migrations, NB with {load} other ports, probe at {rate} Hz; "
      f"load average {loadavg['start']} (start), "
      f"{loadavg['after_multi_chassis']} (after multi-chassis), "
      f"{loadavg['end']} (end):")
print("  %-34s %7s %7s %7s %7s %6s %9s" % ("phase", "min", "p50", "p99",
      "max", "lost", "windows"))
labels = {"baseline": "no migration (baseline)",
          "prepare": "prepare (SRC -> SRC,DST)",
          "rarp": "switchover, multi-chassis + RARP",
          "completion": "completion (-> DST)",
          "naive": "switchover, naive flip"}
for mode in modes:
    r = res[mode]
    print("  %-34s %7.2f %7.2f %7.2f %7.2f %6d %4d of %-3d" % (
        labels[mode], r["gap_min_ms"], r["gap_p50_ms"], r["gap_p99_ms"],
        r["gap_max_ms"], r["lost_total"], r["lost_runs"], r["n"]))
print()
print("the same within -50..+250 ms of the daemon's action (baseline: an "
      "idle moment, 0.4 s in):")
print("  %-34s %7s %7s %7s %6s %9s" % ("phase", "p50", "p99", "max", "lost",
      "windows"))
for mode in modes:
    r = res[mode]
    print("  %-34s %7.2f %7.2f %7.2f %6d %4d of %-3d" % (
        labels[mode], r["event_gap_p50_ms"], r["event_gap_p99_ms"],
        r["event_gap_max_ms"], r["event_lost_total"], r["event_lost_runs"],
        r["n"]))
for mode in ("prepare", "completion"):
    print("  %s: gap p99 %+.2f ms over the baseline (%+.2f near the action),"
          " probes lost in %d of %d windows (%d near the action)" % (
              mode, res[mode]["gap_p99_ms"] - res["baseline"]["gap_p99_ms"],
              res[mode]["event_gap_p99_ms"]
              - res["baseline"]["event_gap_p99_ms"],
              res[mode]["lost_runs"], res[mode]["n"],
              res[mode]["event_lost_runs"]))
print()
print(f"switchover gap, {n} migrations each, NB with {load} other ports, "
      f"probe at {rate} Hz (ms):")
print("  %-28s %8s %8s %8s %8s" % ("approach", "min", "p50", "p99", "max"))
names = {"rarp": "multi-chassis + RARP (ovn-lm)", "naive": "naive requested-chassis flip"}
for mode in ("rarp", "naive"):
    r = res[mode]
    print("  %-28s %8.2f %8.2f %8.2f %8.2f" % (names[mode], r["gap_min_ms"],
          r["gap_p50_ms"], r["gap_p99_ms"], r["gap_max_ms"]))
ratio50 = res["naive"]["gap_p50_ms"] / max(res["rarp"]["gap_p50_ms"], 1e-9)
ratio99 = res["naive"]["gap_p99_ms"] / max(res["rarp"]["gap_p99_ms"], 1e-9)
print(f"  naive / multi-chassis: p50 {ratio50:.2f}x, p99 {ratio99:.2f}x")
res.update({"migrations": n, "nb_other_ports": int(load), "rate_hz": int(rate),
            "window_s": float(window), "loadavg": loadavg,
            "ratio_p50": round(ratio50, 3), "ratio_p99": round(ratio99, 3)})
print(json.dumps(res))
PY
