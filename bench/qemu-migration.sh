#!/bin/bash
# qemu-migration.sh - the downtime of real QEMU live migrations of the test
# guest (test/vm) between chassis 1 and 2 of the lab, and how much of it is
# the network's.
#
#   sudo bench/qemu-migration.sh [--migrations N] [--rate HZ] [--skip-naive]
#        [--build-dir DIR] [--out DIR]
#
# N migrations back and forth (default 20; N=5 is a quick run), each under
# a probe (ovn-lm-probe from a pod on chassis 3; ICMP, answered by the
# guest's kernel, at 1 kHz by default) and one TCP connection
# (test/vm/traffic.py tcp-echo).  Not UDP: ovn-lm-probe counts the replies
# of the guest's udp/7 echo as foreign (it takes replies from its own
# responder only, which the guest does not run).  At 10 kHz the TCG
# guest on a loaded 2-core machine answers only part of the probes and the
# TCP connection starves (see bench/README.md).  Per migration:
#
#   stop->resume  QEMU's own pause: source STOP to target RESUME (QMP
#                 event timestamps, test/vm/qmp.py)
#   loss window   the probe's longest run of lost probes around it: from
#                 the first lost probe's send time to the send time of the
#                 first probe answered after it
#   network       loss window - stop->resume, clamped at 0: what the
#                 network adds to the guest's own pause
#   gap           the probe's longest reply gap
#   tcp           whether the connection survived (no error, echoes after
#                 RESUME)
#
# ovn-lm: the target virt-launcher pod's ADD prepares the port, QEMU's own
# RARP activates it, the source pod's DEL completes it (as lab-qemu.sh).
# naive (unless --skip-naive): the same migrations of a guest on a logical
# port bound to the source alone; the target pod is plumbed with the same
# iface-id and requested-chassis is flipped to the target (bench/
# switchover.py, prepared in advance) as soon as QEMU reports the migration
# completed.  Prints p50/p99 of each figure, the TCP survival count, the
# naive/ovn-lm ratio of the network downtime and the load average, and a
# JSON line; never judges them (a benchmark, not a test).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

N=20 RATE=1000 MODE=icmp NAIVE=1 BUILD=${OVN_LM_BUILD_DIR:-$ROOT/build} OUT=
while (($#)); do
    case $1 in
    --migrations) N=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --skip-naive) NAIVE=0; shift ;;
    --build-dir) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "qemu-migration.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "--migrations: a positive integer" >&2; exit 2; }
PROBE_MODE=(--mode "$MODE")

# shellcheck source=../test/lab/lib.sh
. "$ROOT/test/lab/lib.sh"
# shellcheck source=../test/integration/lib-cni.sh
. "$ROOT/test/integration/lib-cni.sh"
# shellcheck source=../test/integration/lib-migration.sh
. "$ROOT/test/integration/lib-migration.sh"
OVN_LM_CNI=$BUILD/cni/ovn-lm
LAB_DAEMON=$BUILD/ovn-controller-ext/ovn-controller-ext
OVN_LM_PROBE=$BUILD/tools/ovn-lm-probe/ovn-lm-probe
for b in "$OVN_LM_CNI" "$LAB_DAEMON" "$OVN_LM_PROBE"; do
    [[ -x $b ]] || { echo "missing $b: build first" >&2; exit 1; }
done
LAB_PREFIX=$(lab_new_prefix)
LAB_DIR=/tmp/ovn-lm-lab-$LAB_PREFIX
export OVN_LM_CNI LAB_DAEMON LAB_PREFIX LAB_DIR OVN_LM_PROBE
# shellcheck source=../test/integration/lib-qemu.sh
. "$ROOT/test/integration/lib-qemu.sh"
WORK=${OUT:-$LAB_DIR/bench}
PIDS=()
TRAFFIC=$ROOT/test/vm/traffic.py

cleanup() {
    local p d
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || :; done
    if [[ -n $OUT ]]; then
        for d in "$VM_RUN_DIR"/*/; do
            [[ -f $d/console.log ]] || continue
            d=${d%/}
            cp "$d/console.log" "$OUT/console-${d##*/}.log" 2>/dev/null || :
        done
    fi
    qemu_cleanup
    if [[ -n $OUT ]]; then
        cp "$LAB_DIR"/h*/ovn-controller-ext.log "$OUT/" 2>/dev/null || :
    fi
    "$ROOT/test/lab/lab.sh" down >/dev/null 2>&1 || :
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/test/lab/lab.sh" up >/dev/null || exit 1
lab_load
mkdir -p "$WORK"
vm_guest_ensure >/dev/null || exit 1
cni_add_pod 3 client >/dev/null || { echo "ADD client failed" >&2; exit 1; }
CLIENT_NS=$(lab_ns_pod client)

# figures MODE I: one migration's row, from its QMP figures, probe and TCP
# record, appended to $WORK/MODE.rows (JSON lines).
figures() {
    python3 - "$WORK" "$1" "$2" <<'PY' >>"$WORK/$1.rows"
import csv, json, sys
work, mode, i = sys.argv[1:]
mig = dict(l.strip().split("=", 1) for l in open(f"{work}/{mode}-{i}.migrate")
           if "=" in l)
stop = float(mig.get("src_stop_ts") or 0)
resume = float(mig.get("dst_resume_ts") or 0)
s2r = float(mig.get("stop_to_resume_ms") or 0)
probes = []
with open(f"{work}/{mode}-{i}.csv") as f:
    for r in csv.reader(f):
        if r and r[0].isdigit():
            probes.append((int(r[1]), r[2] != ""))
# Runs of lost probes: [first lost send, first answered send after it].
runs, start = [], None
for send, answered in probes:
    if not answered and start is None:
        start = send
    elif answered and start is not None:
        runs.append((start, send))
        start = None
open_run = start is not None
if open_run:
    # Never answered again: the guest stopped answering.  A lower bound.
    runs.append((start, probes[-1][0]))
# The longest run that overlaps the guest's pause (with 1 s of slack after
# RESUME, the guest is slow then); else the longest of all.
near = [r for r in runs
        if stop and r[1] / 1e9 >= stop and r[0] / 1e9 <= resume + 1.0]
pick = max(near or runs, key=lambda r: r[1] - r[0], default=None)
loss_ms = (pick[1] - pick[0]) / 1e6 if pick else 0.0
probe = json.load(open(f"{work}/{mode}-{i}.json"))
tcp = json.load(open(f"{work}/{mode}-{i}.tcp.json"))
row = {"i": int(i), "stop_to_resume_ms": s2r, "loss_window_ms": loss_ms,
       "answers_again": not open_run,
       "network_ms": max(0.0, loss_ms - s2r),
       "gap_ms": (probe.get("downtime") or {}).get("duration_ms", 0.0),
       "lost": probe.get("lost", 0), "sent": probe.get("sent", 0),
       "tcp_ok": bool(tcp.get("ok") and resume
                      and tcp.get("last_rx", 0) > resume),
       "tcp_gap_ms": tcp.get("max_gap_ms", 0.0)}
try:
    sw = json.load(open(f"{work}/{mode}-{i}.switch"))
    row["flip_after_resume_ms"] = (sw["t_act"] - resume) * 1000
except (OSError, ValueError, KeyError):
    pass
print(json.dumps(row))
PY
}

# migrate_once MODE I SRC-VM DST-VM TARGET-NS [SWITCH-ARGS...]: one QEMU
# migration under the probe and a TCP connection.
migrate_once() {
    local mode=$1 i=$2 src=$3 dst=$4 ns=$5 probe tcp sw_pid="" line
    shift 5
    eval "$(vm_pod_bridge "$ns" eth0)"
    vm_start "$dst" "$ns" "$VM_TAP" "$VM_MAC" "$VM_IP" --mtu "$VM_MTU" \
        --incoming auto >/dev/null || return 1
    rm -f "$WORK/$mode-$i.stop"
    ip netns exec "$CLIENT_NS" python3 "$TRAFFIC" tcp-echo "${VM_IP%/*}" 7 \
        --duration 60 --stop-file "$WORK/$mode-$i.stop" \
        --out "$WORK/$mode-$i.tcp.json" >"$WORK/$mode-$i.tcp.out" 2>&1 &
    tcp=$!
    PIDS+=("$tcp")
    lab_wait 10 "TCP traffic" grep -q ready "$WORK/$mode-$i.tcp.out" ||
        return 1
    "$OVN_LM_PROBE" --netns "$CLIENT_NS" --spin-us 0 --rate "$RATE" \
        "${PROBE_MODE[@]}" --quiet --json "$WORK/$mode-$i.json" \
        --raw "$WORK/$mode-$i.csv" "${VM_IP%/*}" &
    probe=$!
    PIDS+=("$probe")
    if (($#)); then
        coproc SW { ip netns exec "$ns" python3 "$HERE/switchover.py" "$@"; }
        sw_pid=$SW_PID
        read -r line <&"${SW[0]}"
        [[ $line == ready ]] || { echo "switchover.py: $line" >&2; return 1; }
    fi
    sleep 0.5
    vm_migrate "$src" "$dst" >"$WORK/$mode-$i.migrate" 2>&1
    if [[ -n $sw_pid ]]; then
        echo go >&"${SW[1]}"
        read -r line <&"${SW[0]}"
        echo "$line" >"$WORK/$mode-$i.switch"
        wait "$sw_pid"
    fi
    grep -qx 'target_status=running' "$WORK/$mode-$i.migrate" ||
        { echo "migration $mode $i failed:" >&2;
          cat "$WORK/$mode-$i.migrate" >&2; return 1; }
    sleep 1.5
    kill -INT "$probe"
    wait "$probe"
    touch "$WORK/$mode-$i.stop"
    wait "$tcp"
    vm_stop "$src"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
FAILED=()

# --- ovn-lm: multi-chassis + QEMU's RARP -------------------------------------
echo "ovn-lm: $N QEMU migrations (load average $LOAD_BEFORE) ..."
vm_add 1 vm1 mc-0 >/dev/null || { echo "ADD mc-0 failed" >&2; exit 1; }
eval "$(vm_pod_bridge "$(lab_ns_pod mc-0)" eth0)"
vm_start mc0 "$(lab_ns_pod mc-0)" "$VM_TAP" "$VM_MAC" "$VM_IP" \
    --mtu "$VM_MTU" >/dev/null || { echo "guest did not boot" >&2; exit 1; }
: >"$WORK/mc.rows"
for ((i = 1; i <= N; i++)); do
    from=$(((i % 2) ? 1 : 2)) to=$(((i % 2) ? 2 : 1))
    vm_add "$to" vm1 "mc-$i" >/dev/null ||
        { echo "target ADD $i failed: $CNI_OUT" >&2; exit 1; }
    if ! migrate_once mc "$i" "mc$((i - 1))" "mc$i" \
        "$(lab_ns_pod "mc-$i")"; then
        FAILED+=("ovn-lm migration $i")
        break
    fi
    wait_state vm1 activated ||
        { echo "migration $i not activated" >&2; exit 1; }
    cni_run DEL "cid-mc-$((i - 1))" "/run/netns/$(lab_ns_pod "mc-$((i - 1))")" \
        eth0 "" "$(cni_conf "$from")"
    [[ $CNI_RC == 0 && $(mig_state vm1) == completed ]] ||
        { echo "migration $i did not complete: $CNI_OUT" >&2; exit 1; }
    lab_pod_netns_del "mc-$((i - 1))"
    figures mc "$i"
    echo "  $i: $(tail -1 "$WORK/mc.rows")"
    if ! tail -1 "$WORK/mc.rows" | grep -q '"answers_again": true'; then
        # The guest stopped answering (TCG guests have been seen to oops
        # right after RESUME, test/vm/README.md): its console says.
        FAILED+=("ovn-lm migration $i: the guest stopped answering")
        break
    fi
done
vm_stop "mc$N"
LOAD_MC=$(cut -d' ' -f1-3 /proc/loadavg)

# --- naive: flip requested-chassis once QEMU says it is done ------------------
: >"$WORK/naive.rows"
if ((NAIVE)); then
    echo "naive: $N QEMU migrations ..."
    NMAC=0a:58:0a:f4:00:fa NIP=10.244.0.250
    lab_nbctl lsp-add ls0 naive -- lsp-set-addresses naive "$NMAC $NIP" \
        -- lsp-set-port-security naive "$NMAC $NIP" \
        -- lsp-set-options naive "requested-chassis=$(lab_chassis_name 1)"
    lab_pod_netns nv-0 >/dev/null
    lab_pod_attach 1 nv-0 naive "$NMAC" "$NIP/24"
    lab_wait_ovn_installed 1 v-nv-0
    eval "$(vm_pod_bridge "$(lab_ns_pod nv-0)" eth0)"
    vm_start nv0 "$(lab_ns_pod nv-0)" "$VM_TAP" "$VM_MAC" "$VM_IP" \
        --mtu "$VM_MTU" >/dev/null || { echo "guest did not boot" >&2; exit 1; }
    # switchover.py kills a process at the switchover (the source workload
    # in migration-switchover.sh); here QEMU stops by itself: a stand-in.
    for ((i = 1; i <= N; i++)); do
        from=$(((i % 2) ? 1 : 2)) to=$(((i % 2) ? 2 : 1))
        lab_pod_netns "nv-$i" >/dev/null
        lab_pod_attach "$to" "nv-$i" naive "$NMAC" "$NIP/24"
        sleep 60 &
        standin=$!
        disown "$standin"
        PIDS+=("$standin")
        if ! migrate_once naive "$i" "nv$((i - 1))" "nv$i" \
            "$(lab_ns_pod "nv-$i")" naive --kill "$standin" \
            --nb-sock "$LAB_NB_SOCK" --lport naive \
            --chassis "$(lab_chassis_name "$to")"; then
            FAILED+=("naive migration $i")
            break
        fi
        lab_vsctl "$from" --if-exists del-port br-int "v-nv-$((i - 1))"
        lab_pod_netns_del "nv-$((i - 1))"
        figures naive "$i"
        echo "  $i: $(tail -1 "$WORK/naive.rows")"
        if ! tail -1 "$WORK/naive.rows" | grep -q '"answers_again": true'; then
            FAILED+=("naive migration $i: the guest stopped answering")
            break
        fi
    done
    vm_stop "nv$N"
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Figures -------------------------------------------------------------------
python3 - "$WORK" "$N" "$RATE" "$LOAD_BEFORE" "$LOAD_MC" "$LOAD_AFTER" \
    "$MODE" <<'PY'
import json, sys
work, n, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
loadavg = {"start": sys.argv[4], "after_ovn_lm": sys.argv[5],
           "end": sys.argv[6]}
mode_name = sys.argv[7].upper()

def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)

keys = [("stop_to_resume_ms", "QEMU stop->resume"),
        ("loss_window_ms", "probe loss window"),
        ("network_ms", "network-attributable"),
        ("gap_ms", "longest reply gap"),
        ("tcp_gap_ms", "TCP echo gap")]
res = {}
print()
print(f"QEMU live migrations between chassis 1 and 2, {mode_name} probe at "
      f"{rate} Hz "
      f"and one TCP connection from chassis 3; load average "
      f"{loadavg['start']} (start), {loadavg['after_ovn_lm']} (after "
      f"ovn-lm), {loadavg['end']} (end); ms:")
for mode, label in (("mc", "ovn-lm (multi-chassis + QEMU's RARP)"),
                    ("naive", "naive requested-chassis flip")):
    every = [json.loads(l) for l in open(f"{work}/{mode}.rows")]
    # A guest that never answers again died (its console says): not the
    # network's downtime; counted apart.
    rows = [x for x in every if x.get("answers_again", True)]
    dead = [x["i"] for x in every if not x.get("answers_again", True)]
    if not rows:
        continue
    r = {"n": len(rows), "tcp_survived": sum(x["tcp_ok"] for x in rows),
         "guest_died_after": dead}
    print(f"  {label}: {len(rows)} migrations, TCP survived "
          f"{r['tcp_survived']}/{len(rows)}"
          + (f"; the guest stopped answering after migration "
             f"{', '.join(map(str, dead))} (not counted)" if dead else ""))
    print("    %-24s %8s %8s %8s %8s" % ("", "min", "p50", "p99", "max"))
    for k, name in keys:
        v = [x[k] for x in rows]
        r[k] = {"min": min(v), "p50": pct(v, 50), "p99": pct(v, 99),
                "max": max(v)}
        print("    %-24s %8.2f %8.2f %8.2f %8.2f" % (
            name, r[k]["min"], r[k]["p50"], r[k]["p99"], r[k]["max"]))
    if mode == "naive":
        v = [x["flip_after_resume_ms"] for x in rows
             if "flip_after_resume_ms" in x]
        if v:
            print("    (the flip was sent %.1f ms after RESUME, p50)"
                  % pct(v, 50))
    res[mode] = r
if "mc" in res and "naive" in res:
    for p in ("p50", "p99"):
        res[f"ratio_network_{p}"] = round(
            res["naive"]["network_ms"][p]
            / max(res["mc"]["network_ms"][p], 1e-3), 3)
    print("  naive / ovn-lm network-attributable downtime: p50 %.2fx, "
          "p99 %.2fx (against 1 us when ovn-lm's is 0)"
          % (res["ratio_network_p50"], res["ratio_network_p99"]))
res.update({"migrations": n, "rate_hz": int(rate), "probe": sys.argv[7],
            "loadavg": loadavg})
print(json.dumps(res))
PY
if ((${#FAILED[@]})); then
    printf 'stopped early: %s\n' "${FAILED[@]}" >&2
    exit 1
fi
