#!/bin/bash
# test-probe-netns.sh: ovn-lm-probe against the kernel, in two network
# namespaces joined by a veth pair.
#
#   bash test-probe-netns.sh PATH/TO/ovn-lm-probe
#
# Namespace A probes namespace B (192.0.2.1 -> 192.0.2.2, 2001:db8::1 ->
# 2001:db8::2).  The checks:
#   - pause: the responder stops answering for exactly 50 ms while the
#     prober sends at 10 kHz; the reported downtime must be 50 ms +- 2 ms
#     (PROBE_PAUSE_RUNS times, default 3; each run also prints the error
#     against the responder's own record of its silence);
#   - duplicates, when the responder answers every probe twice;
#   - ICMP echo to B's kernel, IPv4 and IPv6; UDP over IPv6;
#   - ICMP over unprivileged ping sockets too;
#   - a target that never answers; SIGINT; the fallback timestamps;
#   - the JSON, CSV, SVG (and PNG, if rsvg-convert is there) outputs, an
#     events file written during the run, and a bad one.
#
# Needs root (exits 77, "skipped", without).  Everything it creates is
# named after a fresh random prefix, lives in the two namespaces it makes,
# and is removed on exit, failure or interrupt.  Traffic never leaves the
# namespaces.  Ends with "N passed, N failed".
set -uo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 PATH/TO/ovn-lm-probe" >&2
    exit 2
fi
PROBE=$(realpath "$1")
if [[ $(id -u) != 0 ]]; then
    echo "test-probe-netns: skipped: needs root for network namespaces"
    exit 77
fi
for cmd in ip python3; do
    if ! command -v "$cmd" >/dev/null; then
        echo "test-probe-netns: skipped: no $cmd"
        exit 77
    fi
done

PAUSE_RUNS=${PROBE_PAUSE_RUNS:-3}
PAUSE_MS=50
TOLERANCE_MS=2
PORT=7471
# The scheduler must not delay the sender or the waking responder on a
# busy machine: both run SCHED_FIFO, as the README advises for real runs.
RT=(--realtime 10)

T_PASSED=0
T_FAILED=0
PIDS=()

new_prefix() {
    local chars=abcdefghijklmnopqrstuvwxyz0123456789 p
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=lmp
        for _ in 1 2 3 4 5; do
            p+=${chars:SRANDOM % 36:1}
        done
        if [[ ! -e /run/netns/${p}a && ! -e /run/netns/${p}b ]]; then
            echo "$p"
            return 0
        fi
    done
    echo "test-probe-netns: no free prefix" >&2
    exit 1
}

PREFIX=$(new_prefix)
NS_A=${PREFIX}a
NS_B=${PREFIX}b
WORK=$(mktemp -d "/tmp/ovn-lm-probe-test-$PREFIX.XXXXXX")

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
    if ((T_FAILED)) || [[ ${PROBE_KEEP:-0} == 1 ]]; then
        echo "test-probe-netns: outputs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
    T_PASSED=$((T_PASSED + 1))
    echo "ok: $*"
}

fail() {
    T_FAILED=$((T_FAILED + 1))
    echo "FAILED: $*"
}

# check DESCRIPTION COMMAND...: passes if COMMAND succeeds.
check() {
    local what=$1
    shift
    if "$@"; then
        pass "$what"
    else
        fail "$what"
    fi
}

# jget FILE KEY.KEY...: prints a member of a JSON file.
jget() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(str(d).lower() if isinstance(d, bool) else d)
PY
}

# summarize ERROR...: mean and largest magnitude of errors in ms.
summarize() {
    python3 - "$@" <<'PY'
import sys
v = [float(x) for x in sys.argv[1:]]
print("mean %+.3f ms, max |error| %.3f ms"
      % (sum(v) / len(v), max(abs(x) for x in v)))
PY
}

# jitter JSON...: the sender's precision over several runs.
jitter() {
    python3 - "$@" <<'PY'
import json, statistics, sys
runs = [json.load(open(f))["send"] for f in sys.argv[1:]]
late = [r["late_us"] for r in runs]
ival = [r["interval_us"] for r in runs]
print("send lateness over %d runs (us): p50 median %.3f, p99 median %.3f "
      "worst %.3f, p99.9 median %.3f worst %.3f, max worst %.3f; "
      "interval p50 median %.3f, p99 worst %.3f, max worst %.3f; "
      "schedule slips %s"
      % (len(runs), statistics.median(l["p50"] for l in late),
         statistics.median(l["p99"] for l in late),
         max(l["p99"] for l in late),
         statistics.median(l["p99_9"] for l in late),
         max(l["p99_9"] for l in late), max(l["max"] for l in late),
         statistics.median(i["p50"] for i in ival),
         max(i["p99"] for i in ival), max(i["max"] for i in ival),
         [r["slips"] for r in runs]))
PY
}

# calc EXPRESSION: prints a Python expression's value.
calc() {
    python3 -c "print($1)"
}

setup() {
    ip netns add "$NS_A" || return 1
    ip netns add "$NS_B" || return 1
    # Made inside A with its peer in B: never in the host's namespace.
    ip -n "$NS_A" link add va type veth peer name vb netns "$NS_B" || return 1
    ip -n "$NS_A" addr add 192.0.2.1/24 dev va &&
    ip -n "$NS_A" addr add 2001:db8::1/64 dev va nodad &&
    ip -n "$NS_B" addr add 192.0.2.2/24 dev vb &&
    ip -n "$NS_B" addr add 2001:db8::2/64 dev vb nodad &&
    ip -n "$NS_A" link set lo up && ip -n "$NS_A" link set va up &&
    ip -n "$NS_B" link set lo up && ip -n "$NS_B" link set vb up
}

# start_responder LOG ARGS...: starts a responder in B, waits until it
# listens, and sets RESPONDER_PID.
start_responder() {
    local log=$1
    shift
    RESPONDER_LOG=$log
    "$PROBE" --responder --netns "$NS_B" --port "$PORT" "$@" 2>"$log" &
    RESPONDER_PID=$!
    PIDS+=("$RESPONDER_PID")
    for _ in $(seq 100); do
        if ip netns exec "$NS_B" ss -Hlun "sport = :$PORT" 2>/dev/null |
                grep -q .; then
            return 0
        fi
        sleep 0.02
    done
    echo "responder did not start:"
    cat "$log"
    return 1
}

# stop_responder: stops it; a responder that fails (a sanitizer report, a
# pause that never happened) fails the test.
stop_responder() {
    local status
    kill -TERM "$RESPONDER_PID" 2>/dev/null
    wait "$RESPONDER_PID" 2>/dev/null
    status=$?
    if ((status)); then
        fail "responder exited with status $status:"
        tail -20 "$RESPONDER_LOG"
    fi
}

# probe NAME ARGS...: runs the prober in A, writes $WORK/NAME.json and
# $WORK/NAME.txt, and returns its exit status.
probe() {
    local name=$1
    shift
    "$PROBE" --netns "$NS_A" --json "$WORK/$name.json" "$@" \
        >"$WORK/$name.txt" 2>&1
}

test_pause() {
    local i gap truth err err_truth errs=() errs_truth=()
    for ((i = 1; i <= PAUSE_RUNS; i++)); do
        start_responder "$WORK/pause$i.log" "${RT[@]}" \
            --responder-pause-after 1 --responder-pause-ms "$PAUSE_MS" ||
            { fail "pause run $i: responder"; continue; }
        probe "pause$i" "${RT[@]}" --rate 10000 --duration 2.5 \
            --raw "$WORK/pause$i.csv" --svg "$WORK/pause$i.svg" 192.0.2.2
        check "pause run $i: prober exit status 0" test $? = 0
        stop_responder
        gap=$(jget "$WORK/pause$i.json" downtime.duration_ms)
        truth=$(sed -n 's/.*no reply for \([0-9.]*\) ms.*/\1/p' \
                "$WORK/pause$i.log")
        err=$(calc "round($gap - $PAUSE_MS, 3)")
        err_truth=$(calc "round($gap - ${truth:-nan}, 3)")
        errs+=("$err")
        errs_truth+=("$err_truth")
        echo "pause run $i: measured $gap ms, responder's record" \
             "${truth:-?} ms; error $err ms against $PAUSE_MS ms," \
             "$err_truth ms against the record"
        check "pause run $i: downtime $gap ms within $PAUSE_MS +- \
$TOLERANCE_MS ms" \
            test "$(calc "abs($gap - $PAUSE_MS) <= $TOLERANCE_MS")" = True
        check "pause run $i: nothing lost (queued, not dropped)" \
            test "$(jget "$WORK/pause$i.json" lost)" = 0
        check "pause run $i: the gap held ~500 probes" \
            test "$(calc "450 <= $(jget "$WORK/pause$i.json" \
                   downtime.probes_sent) <= 520")" = True
        check "pause run $i: kernel timestamps both ways" \
            test "$(jget "$WORK/pause$i.json" timestamps.tx_kernel)" = \
                 "$(jget "$WORK/pause$i.json" sent)"
    done
    if ((${#errs[@]})); then
        echo "pause accuracy over ${#errs[@]} runs: against $PAUSE_MS ms:" \
             "$(summarize "${errs[@]}"); against the responder's record:" \
             "$(summarize "${errs_truth[@]}")"
        jitter "$WORK"/pause*.json
    fi
}

test_dup() {
    local j=$WORK/dup.json
    start_responder "$WORK/dup.log" --responder-dup ||
        { fail "dup: responder"; return; }
    probe dup --rate 10000 --duration 1 192.0.2.2
    check "dup: exit status 0" test $? = 0
    stop_responder
    check "dup: every probe answered" \
        test "$(jget "$j" received)" = "$(jget "$j" sent)"
    check "dup: one duplicate per probe" \
        test "$(jget "$j" duplicated)" = "$(jget "$j" sent)"
    check "dup: every probe duplicated" \
        test "$(jget "$j" duplicated_probes)" = "$(jget "$j" sent)"
    check "dup: replies are twice the probes" \
        test "$(jget "$j" replies)" = "$(calc "2 * $(jget "$j" sent)")"
}

test_icmp() {
    local j=$WORK/icmp.json
    probe icmp --mode icmp --rate 10000 --duration 1 192.0.2.2
    check "icmp: exit status 0" test $? = 0
    check "icmp: 10000 sent" test "$(jget "$j" sent)" = 10000
    check "icmp: all answered by the peer's kernel" \
        test "$(jget "$j" received)" = 10000
    check "icmp: no duplicates" test "$(jget "$j" duplicated)" = 0
    check "icmp: kernel receive timestamps" \
        test "$(jget "$j" timestamps.rx_kernel)" = 10000
    echo "icmp: socket $(jget "$j" icmp_socket), tx kernel timestamps" \
         "$(jget "$j" timestamps.tx_kernel), longest gap" \
         "$(jget "$j" downtime.duration_ms) ms"

    # Unprivileged ping sockets, if the namespace lets every group in.
    j=$WORK/ping.json
    ip netns exec "$NS_A" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
    probe ping --mode icmp --rate 1000 --duration 0.5 192.0.2.2
    check "ping socket: exit status 0" test $? = 0
    check "ping socket: used" test "$(jget "$j" icmp_socket)" = ping
    check "ping socket: all answered" test "$(jget "$j" received)" = 500
    check "ping socket: kernel send timestamps" \
        test "$(jget "$j" timestamps.tx_kernel)" = 500
    probe ping6 --mode icmp --rate 1000 --duration 0.5 2001:db8::2
    check "ping6 socket: all answered" \
        test "$(jget "$WORK/ping6.json" received)" = 500
    ip netns exec "$NS_A" sysctl -qw net.ipv4.ping_group_range="1 0"

    j=$WORK/icmp6.json
    probe icmp6 --mode icmp --rate 1000 --duration 0.5 2001:db8::2
    check "icmp6: exit status 0" test $? = 0
    check "icmp6: all answered" test "$(jget "$j" received)" = 500
    check "icmp6: raw socket" test "$(jget "$j" icmp_socket)" = raw
}

test_udp6() {
    local j=$WORK/udp6.json
    start_responder "$WORK/udp6.log" || { fail "udp6: responder"; return; }
    probe udp6 --rate 1000 --duration 0.5 2001:db8::2
    check "udp6: exit status 0" test $? = 0
    stop_responder
    check "udp6: all answered" test "$(jget "$j" received)" = 500
    check "udp6: kernel send timestamps" \
        test "$(jget "$j" timestamps.tx_kernel)" = 500
}

test_no_answer() {
    local j=$WORK/silent.json
    probe silent --rate 1000 --count 200 --wait 100 192.0.2.2
    check "silent: exit status 0" test $? = 0
    check "silent: all 200 lost" test "$(jget "$j" lost)" = 200
    check "silent: loss run of 200" test "$(jget "$j" loss_run.count)" = 200
    check "silent: the gap is open" test "$(jget "$j" downtime.open)" = true
    check "silent: warns that nothing was answered" \
        grep -q "no probe was answered" "$WORK/silent.txt"
}

test_sigint() {
    local j=$WORK/sigint.json pid status
    start_responder "$WORK/sigint.log" || { fail "sigint: responder"; return; }
    "$PROBE" --netns "$NS_A" --rate 1000 --wait 100 --json "$j" \
        192.0.2.2 >"$WORK/sigint.txt" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    sleep 0.5
    kill -INT "$pid"
    wait "$pid"
    status=$?
    stop_responder
    check "sigint: exit status 0" test "$status" = 0
    check "sigint: reported as interrupted" \
        test "$(jget "$j" interrupted)" = true
    check "sigint: some probes, all answered" \
        test "$(jget "$j" sent)" -gt 100 -a "$(jget "$j" lost)" = 0
}

test_fallbacks() {
    local j
    start_responder "$WORK/fb.log" || { fail "fallbacks: responder"; return; }
    j=$WORK/counter.json
    probe counter --rate 2000 --duration 0.5 --tx-timestamps counter \
        --rx-timestamps timestampns 192.0.2.2
    check "counter keys: exit status 0" test $? = 0
    check "counter keys: kernel send timestamps for all" \
        test "$(jget "$j" timestamps.tx_kernel)" = 1000
    check "SO_TIMESTAMPNS: kernel receive timestamps for all" \
        test "$(jget "$j" timestamps.rx_kernel)" = 1000
    j=$WORK/user.json
    probe user --rate 2000 --duration 0.5 --tx-timestamps user \
        --rx-timestamps user 192.0.2.2
    check "user timestamps: exit status 0" test $? = 0
    check "user timestamps: all answered" \
        test "$(jget "$j" received)" = 1000
    check "user timestamps: said so" \
        grep -q "no kernel receive timestamps" "$WORK/user.txt"
    stop_responder
}

test_outputs() {
    local t0 svg=$WORK/out.svg png=$WORK/out.png pid status
    start_responder "$WORK/out.log" --responder-pause-after 0.3 \
        --responder-pause-ms 20 || { fail "outputs: responder"; return; }
    # The events file is written while the prober runs, as a daemon
    # would: one event surely before the run, one surely after it.
    "$PROBE" --netns "$NS_A" --json "$WORK/out.json" --rate 1000 \
        --duration 1 --svg "$svg" --raw "$WORK/out.csv" \
        --events "$WORK/events.json" --gaps 3 192.0.2.2 \
        >"$WORK/out.txt" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    t0=$(date +%s.%N)
    cat >"$WORK/events.json" <<EOF2
[{"t": $(calc "$t0 - 5"), "label": "duplication on"},
 {"t": $(calc "$t0 + 60"), "label": "port <moved> & claimed"}]
EOF2
    wait "$pid"
    check "outputs: exit status 0" test $? = 0
    stop_responder
    check "outputs: CSV has a header and a line per probe" \
        test "$(wc -l <"$WORK/out.csv")" = 1001
    check "outputs: CSV header" \
        test "$(head -1 "$WORK/out.csv")" = "seq,send_ns,recv_ns,rtt_us,dup"
    check "outputs: SVG is well-formed XML" \
        python3 -c "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])" \
        "$svg"
    check "outputs: SVG shows the events, escaped" \
        grep -q "port &lt;moved&gt; &amp; claimed" "$svg"
    check "outputs: 3 gaps listed" \
        test "$(jget "$WORK/out.json" gaps.2.seq_before)" -ge 0
    check "outputs: the gap follows event 1" \
        test "$(jget "$WORK/out.json" downtime.after_event.label)" = \
             "duplication on"
    if command -v rsvg-convert >/dev/null; then
        probe outpng --rate 1000 --count 100 --png "$png" 192.0.2.2
        check "outputs: PNG written" test -s "$png"
    else
        echo "outputs: no rsvg-convert, --png not checked"
    fi

    # A bad events file costs the events, not the measurement.
    echo '[{"t": "soon"}]' >"$WORK/bad-events.json"
    probe badev --rate 1000 --count 100 --wait 100 \
        --events "$WORK/bad-events.json" 192.0.2.2
    status=$?
    check "bad events: exit status 1" test "$status" = 1
    check "bad events: the report is there" \
        test "$(jget "$WORK/badev.json" sent)" = 100
    check "bad events: with a warning" \
        grep -q "no events shown" "$WORK/badev.json"
}

if ! setup; then
    fail "setting up namespaces $NS_A and $NS_B"
else
    test_pause
    test_dup
    test_icmp
    test_udp6
    test_no_answer
    test_sigint
    test_fallbacks
    test_outputs
fi

echo "$T_PASSED passed, $T_FAILED failed"
((T_FAILED == 0))
