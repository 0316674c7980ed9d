#!/bin/bash
# The demo: builds ovn-lm, brings up a real OVN lab (central + 3 chassis in
# network namespaces, userspace datapath, Geneve), runs ovn-controller-ext on
# every chassis, attaches two pods on different chassis with the ovn-lm CNI
# binary invoked exactly as a runtime does and shows them talking, then
# live-migrates a real QEMU guest from chassis 1 to chassis 2 (KubeVirt's
# bridge binding, every network step done by ovn-lm) under a 1 kHz probe and
# an open TCP connection, and prints the measured downtime.  Tears
# everything down; leaves the results and the timeline picture in
# $OVN_LM_DEMO_OUT (default /tmp/ovn-lm-demo).  Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

scripts/install-deps.sh
cmake -S . -B build >/dev/null
make -C build -j"$(nproc)" --no-print-directory ovn-lm ovn-controller-ext \
    ovn-lm-probe >/dev/null
OUT=${OVN_LM_DEMO_OUT:-/tmp/ovn-lm-demo}
rm -rf "$OUT" && mkdir -p "$OUT"

. test/lab/lib.sh
. test/integration/lib-cni.sh
. test/integration/lib-migration.sh
OVN_LM_CNI=$top/build/cni/ovn-lm
OVN_LM_PROBE=$top/build/tools/ovn-lm-probe/ovn-lm-probe
LAB_DAEMON=$top/build/ovn-controller-ext/ovn-controller-ext
LAB_PREFIX=$(lab_new_prefix)
LAB_DIR=/tmp/ovn-lm-lab-$LAB_PREFIX
export OVN_LM_CNI OVN_LM_PROBE LAB_DAEMON LAB_PREFIX LAB_DIR
. test/integration/lib-qemu.sh
trap 'qemu_cleanup; test/lab/lab.sh down >/dev/null 2>&1' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Bringing up OVN: NB/SB/northd + 3 chassis (prefix $LAB_PREFIX)"
test/lab/lab.sh up
lab_load

step "CNI ADD: pod 'web' on chassis 1, pod 'db' on chassis 2 (static IP)"
cni_add_pod 1 web || exit 1
echo "$CNI_OUT" | python3 -m json.tool
WEB_IP=$POD_IP
cni_add_pod 2 db "K8S_POD_NAMESPACE=default;K8S_POD_NAME=db;IP=10.244.0.50" ||
    exit 1
DB_IP=$POD_IP
echo "web: $WEB_IP on $LAB_H1_CHASSIS    db: $DB_IP on $LAB_H2_CHASSIS"

step "What the daemons hold (ovs-appctl ovn-lm/list-ports)"
ovs-appctl -t "$LAB_H1_DAEMON_CTL" ovn-lm/list-ports
ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/list-ports
grep -h 'ready in' "$LAB_DIR"/h*/ovn-controller-ext.log | sed 's/.*|INFO|/  /'

step "OVN's view"
lab_nbctl show
lab_sbctl --columns=logical_port,chassis find Port_Binding type='""' |
    grep -v '^$'

step "web -> db across the Geneve tunnel"
ip netns exec "$(lab_ns_pod web)" ping -c 5 -i 0.2 "$DB_IP"

step "CNI DEL both"
cni_run DEL cid-web "/run/netns/$(lab_ns_pod web)" eth0 "" "$(cni_conf 1)"
cni_run DEL cid-db "/run/netns/$(lab_ns_pod db)" eth0 "" "$(cni_conf 2)"

step "Live migration of a QEMU guest, chassis 1 -> chassis 2"
echo "(a tiny Debian-kernel guest under TCG; a client on chassis 3 keeps a TCP"
echo " connection open to it and probes it 1000 times a second)"
qemu_migration "$OUT/migration" && mig_rc=0 || mig_rc=$?
sed 's/^/  /' "$OUT/migration/steps"

step "Measured"
qemu_summary "$OUT/migration"
echo
echo "ovn-controller-ext's timeline (ovs-appctl ovn-lm/migrations):"
sed 's/^/  /' "$OUT/migration/migrations"
echo
echo "timeline picture: $OUT/migration/timeline.svg"
echo "all results:      $OUT/migration/"

step "CNI DEL the rest; nothing is left"
for p in client launcher-dst; do
    cni_run DEL "cid-$p" "/run/netns/$(lab_ns_pod "$p")" eth0 "" \
        "$(cni_conf "$(lab_pod_chassis "$p")")"
done
left=$(leaks)
echo "${left:-nothing left: no veth, OVS port, logical port or record}"
[ -z "$left" ] && exit "$mig_rc"
