#!/bin/bash
#
# ovn-demo.sh - one real QEMU live migration through the OVN lab, with the
# multi-chassis options set BY HAND (no CNI plugin, no ovn-controller-ext):
# an example of combining test/lab and test/vm, and a baseline for the real
# end-to-end test.
#
#   chassis 1: pod a (source virt-launcher)  --\
#   chassis 2: pod b (target virt-launcher)  ---+-- ls0, logical port vm1
#   chassis 3: pod cl (client, port cli)     --/
#
# Steps: lab up; vm1 on chassis 1; guest boots in pod a (bridge binding);
# requested-chassis=C1,C2 + activation-strategy=rarp; pod b plumbed on
# chassis 2 with the same iface-id; target QEMU waits in b; TCP echo
# connection + 1 kHz UDP probe from cl; migrate; check the SB
# additional-chassis-activated, then requested-chassis=C2 (teardown) and
# stop the source.  Prints timings and 'N passed, N failed'.
#
# Environment: vm.sh's (VM_DOWNTIME_LIMIT, ...).
# Needs root and the lab's and test/vm's packages.

set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lab/lib.sh
. "$ROOT/test/lab/lib.sh"
LAB_PREFIX=$(lab_new_prefix)
export LAB_PREFIX
export VM_RUN_DIR=/tmp/ovn-lm-vm-$LAB_PREFIX
# shellcheck source=vm.sh
. "$HERE/vm.sh"

PASSED=0 FAILED=0 PIDS=()
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }
check() {
    local d=$1
    shift
    if "$@"; then ok "$d"; else fail "$d"; fi
}

cleanup() {
    local rc=$? p
    set +e
    for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    vm_cleanup_all
    "$ROOT/test/lab/lab.sh" down >/dev/null 2>&1
    ((rc == 0 || FAILED > 0)) || FAILED=$((FAILED + 1))
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0))
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/test/lab/lab.sh" up
lab_load
ART=$VM_RUN_DIR/demo
mkdir -p "$ART"
MAC=0a:58:0a:f4:00:09 IP=10.244.0.9 CMAC=0a:58:0a:f4:00:32 CIP=10.244.0.50
C1=$(lab_chassis_name 1) C2=$(lab_chassis_name 2)

lab_nbctl lsp-add ls0 vm1 -- lsp-set-addresses vm1 "$MAC $IP" \
    -- lsp-set-port-security vm1 "$MAC $IP" \
    -- lsp-set-options vm1 "requested-chassis=$C1"
lab_nbctl lsp-add ls0 cli -- lsp-set-addresses cli "$CMAC $CIP"
for p in a b cl; do lab_pod_netns "$p" >/dev/null; done
NA=$(lab_ns_pod a) NB=$(lab_ns_pod b) NC=$(lab_ns_pod cl)
lab_pod_attach 1 a vm1 "$MAC" "$IP/24"
lab_pod_attach 3 cl cli "$CMAC" "$CIP/24"
lab_wait_ovn_installed 1 v-a
lab_wait_ovn_installed 3 v-cl

qping() { ip netns exec "$NC" ping -q "$@" >/dev/null; }

eval "$(vm_pod_bridge "$NA" eth0)"
check "guest boots in pod a on chassis 1" \
    vm_start vm1 "$NA" "$VM_TAP" "$VM_MAC" "$VM_IP"
check "client reaches the guest across Geneve, DF 1442" \
    qping -c 2 -i 0.2 -W 2 -M "do" -s 1414 "$IP"

# What the plugin must do before the target pod is plumbed: both chassis,
# RARP activation.
lab_nbctl --wait=hv lsp-set-options vm1 "requested-chassis=$C1,$C2" \
    activation-strategy=rarp
lab_pod_attach 2 b vm1 "$MAC" "$IP/24"
check "target port installed on chassis 2" lab_wait_ovn_installed 2 v-b
eval "$(vm_pod_bridge "$NB" eth0)"
check "target QEMU waits in pod b" \
    vm_start vm2 "$NB" "$VM_TAP" "$VM_MAC" "$VM_IP" --incoming auto

STOP=$ART/stop
ip netns exec "$NC" python3 "$HERE/traffic.py" tcp-echo "$IP" 7 \
    --duration 120 --stop-file "$STOP" --out "$ART/tcp.json" \
    >"$ART/tcp.out" 2>&1 &
PIDS+=("$!")
ip netns exec "$NC" python3 "$HERE/traffic.py" udp-probe "$IP" 7 \
    --duration 120 --stop-file "$STOP" --out "$ART/udp.json" \
    >"$ART/udp.out" 2>&1 &
PIDS+=("$!")
lab_wait 10 "traffic" grep -q ready "$ART/tcp.out"
lab_wait 10 "probe" grep -q ready "$ART/udp.out"
sleep 1

vm_migrate vm1 vm2 >"$ART/migrate.out" || true
sed 's/^/#   /' "$ART/migrate.out"
check "migration completed, target running" \
    grep -qx 'target_status=running' "$ART/migrate.out"
activated=""
for _ in $(seq 1 40); do
    activated=$(lab_sbctl --bare --columns=options find Port_Binding \
        logical_port=vm1 | tr ' ' '\n' |
        sed -n 's/^additional-chassis-activated=//p')
    [[ -n $activated ]] && break
    sleep 0.05
done
check "SB additional-chassis-activated=$C2 (RARP seen by OVN)" \
    test "$activated" == "$C2"
sleep 1.5
# Teardown as after a successful migration: target only, source gone.
lab_nbctl --wait=hv lsp-set-options vm1 "requested-chassis=$C2"
vm_stop vm1
sleep 0.5
touch "$STOP"
for p in "${PIDS[@]}"; do wait "$p" || true; done
PIDS=()
check "TCP connection survived the migration" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["ok"] and d["last_rx"] > float(sys.argv[2]) else 1)' \
    "$ART/tcp.json" "$(sed -n 's/^dst_resume_ts=//p' "$ART/migrate.out")"
check "guest answers from chassis 2 after teardown" \
    qping -c 2 -i 0.2 -W 2 "$IP"

python3 - "$ART" "$(sed -n 's/^src_stop_ts=//p' "$ART/migrate.out")" \
    "$(sed -n 's/^dst_resume_ts=//p' "$ART/migrate.out")" <<'PY'
import json, sys
art, stop, res = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
for name in ("udp", "tcp"):
    d = json.load(open(f"{art}/{name}.json"))
    g = [(a, b) for a, b in d["gaps"] if a <= res and b >= stop]
    a, b = max(g, key=lambda x: x[1] - x[0]) if g else (res, res)
    line = "# %s: gap over the migration %.1f ms (ends %+.1f ms after resume)" % (
        name, (b - a) * 1e3, (b - res) * 1e3)
    if name == "udp":
        lost = sum(n for x, y, n in d["loss_runs"]
                   if y >= stop - 0.1 and x <= res + 1)
        line += ", %d probes lost around it, %d/%d lost in all" % (
            lost, d["lost"], d["sent"])
    print(line)
PY
