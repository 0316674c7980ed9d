#!/bin/bash
# (b) A real QEMU live migration across chassis, KubeVirt bridge-binding
# style, with ovn-lm doing every network step (lib-qemu.sh): QEMU's own
# RARP must activate the target, an established TCP connection to the guest
# must survive, and the probe's longest gap is reported next to QEMU's own
# downtime figure.
#
# usage: lab-qemu.sh OVN-LM-BINARY DAEMON-BINARY OVN-LM-PROBE-BINARY
OVN_LM_PROBE=$(realpath "$3")
export OVN_LM_PROBE
. "$(dirname "$0")/lab-common.sh" "$1" "$2"
. "$(dirname "$0")/lib-migration.sh"
. "$(dirname "$0")/lib-qemu.sh"
# QEMU_KEEP=DIR keeps the results (probe, TCP record, QEMU figures, logs).
keep() {
    if [[ -n ${QEMU_KEEP:-} ]]; then
        mkdir -p "$QEMU_KEEP"
        cp -r "$LAB_DIR/qemu" "$LAB_DIR"/h*/*.log "$VM_RUN_DIR" "$QEMU_KEEP/" \
            2>/dev/null
    fi
}
trap 'keep; qemu_cleanup; lab_teardown' EXIT

OUT=$LAB_DIR/qemu
qemu_migration "$OUT"
t_begin qemu
while read -r verdict what; do
    if [[ $verdict == ok ]]; then t_ok "$what"; else t_fail "$what"; fi
done <"$OUT/steps"
qemu_summary "$OUT" 2>/dev/null | sed 's/^/# /'
sed 's/^/# /' "$OUT/migrations"

t_begin leaks
for p in client launcher-dst; do
    cni_run DEL "cid-$p" "/run/netns/$(lab_ns_pod "$p")" eth0 "" \
        "$(cni_conf "$(lab_pod_chassis "$p")")"
done
left=$(leaks)
t_check "no veth, OVS port, logical port or record left${left:+: $left}" [ -z "$left" ]
lab_daemons_exit
t_summary
