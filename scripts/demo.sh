#!/bin/bash
# The demo: builds ovn-lm, brings up a real OVN lab (central + 3 chassis in
# network namespaces, userspace datapath, Geneve), runs ovn-controller-ext on
# every chassis, attaches two pods on different chassis with the ovn-lm CNI
# binary invoked exactly as a runtime does, shows them talking, and tears
# everything down.  Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

scripts/install-deps.sh
cmake -S . -B build >/dev/null
make -C build -j"$(nproc)" --no-print-directory ovn-lm ovn-controller-ext \
    >/dev/null

. test/lab/lib.sh
. test/integration/lib-cni.sh
OVN_LM_CNI=$top/build/cni/ovn-lm
LAB_DAEMON=$top/build/ovn-controller-ext/ovn-controller-ext
LAB_PREFIX=$(lab_new_prefix)
LAB_DIR=/tmp/ovn-lm-lab-$LAB_PREFIX
export OVN_LM_CNI LAB_DAEMON LAB_PREFIX LAB_DIR
trap 'test/lab/lab.sh down >/dev/null 2>&1' EXIT

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

step "CNI DEL both; nothing is left"
cni_run DEL cid-web "/run/netns/$(lab_ns_pod web)" eth0 "" "$(cni_conf 1)"
cni_run DEL cid-db "/run/netns/$(lab_ns_pod db)" eth0 "" "$(cni_conf 2)"
left=$(leaks)
echo "${left:-nothing left: no veth, OVS port, logical port or record}"
[ -z "$left" ]
