# lib-qemu.sh: one real QEMU live migration between two chassis of the lab,
# the way KubeVirt's bridge binding does it, with every network step done by
# ovn-lm: the virt-launcher pods get their interface from the ovn-lm CNI
# binary (opted in, named after the VM), the target pod's ADD prepares the
# multi-chassis binding, QEMU's own RARP activates it, and the source pod's
# DEL completes it.  Shared by lab-qemu.sh (the test) and scripts/demo.sh.
#
# Source after lab-common.sh-style set-up (lib.sh, lib-cni.sh,
# lib-migration.sh, a lab with daemons).  Needs OVN_LM_PROBE (the
# ovn-lm-probe binary).

QEMU_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export VM_RUN_DIR=${VM_RUN_DIR:-/tmp/ovn-lm-vm-$LAB_PREFIX}
# shellcheck source=../vm/vm.sh
. "$QEMU_HERE/../vm/vm.sh"

QEMU_PIDS=()

# qemu_cleanup: stops what qemu_migration started; call from the trap.
qemu_cleanup() {
    local p
    for p in "${QEMU_PIDS[@]}"; do
        kill -INT "$p" 2>/dev/null
    done
    for p in "${QEMU_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    QEMU_PIDS=()
    vm_cleanup_all >/dev/null 2>&1
    rm -rf "$VM_RUN_DIR"
}

# qemu_migration OUTDIR: the whole scenario; results in OUTDIR:
#   migrate.out   QEMU's figures (vm_migrate)
#   probe.json    ovn-lm-probe's report (1 kHz ICMP from the client pod)
#   tcp.json      the TCP connection's record (test/vm/traffic.py)
#   events.json   the daemon's migration timeline (ovn-lm/migration-events)
#   timeline.svg  the probe's picture with the migration events
#   steps         one line per step: "ok|FAIL description"
# Returns non-zero if a step failed.
qemu_migration() {
    local out=$1 ns_src ns_dst ns_cli vm_ip rc=0
    mkdir -p "$out"
    : >"$out/steps"
    qstep() {
        local what=$1
        shift
        if "$@"; then
            echo "ok $what" >>"$out/steps"
        else
            echo "FAIL $what" >>"$out/steps"
            rc=1
        fi
    }

    vm_guest_ensure >/dev/null || { echo "FAIL guest build" >>"$out/steps"; return 1; }
    cni_add_pod 3 client >/dev/null || { echo "FAIL ADD client" >>"$out/steps"; return 1; }
    ns_cli=$(lab_ns_pod client)
    qstep "virt-launcher pod on chassis 1 (ovn-lm ADD, opted in)" \
        vm_add 1 vm1 launcher-src
    vm_ip=$POD_IP
    ns_src=$(lab_ns_pod launcher-src)
    eval "$(vm_pod_bridge "$ns_src" eth0)"
    qstep "guest boots on chassis 1 (TCG, bridge binding)" \
        vm_start vm1 "$ns_src" "$VM_TAP" "$VM_MAC" "$VM_IP" --mtu "$VM_MTU"
    qstep "client on chassis 3 reaches the guest" \
        ip netns exec "$ns_cli" ping -q -c 2 -i 0.2 -W 2 "$vm_ip"

    # The target virt-launcher pod: its ADD prepares the migration.
    qstep "target pod on chassis 2 (ovn-lm ADD prepares the port)" \
        vm_add 2 vm1 launcher-dst
    qstep "port prepared: requested-chassis=SRC,DST, activation-strategy=rarp" \
        [ "$(mig_state vm1)/$(lsp_opt vm1 activation-strategy)" = prepared/rarp ]
    ns_dst=$(lab_ns_pod launcher-dst)
    eval "$(vm_pod_bridge "$ns_dst" eth0)"
    qstep "target QEMU waits for the migration on chassis 2" \
        vm_start vm2 "$ns_dst" "$VM_TAP" "$VM_MAC" "$VM_IP" --mtu "$VM_MTU" \
        --incoming auto

    # Traffic from chassis 3: one TCP connection, and the probe.
    local stop=$out/stop
    rm -f "$stop"
    ip netns exec "$ns_cli" python3 "$QEMU_HERE/../vm/traffic.py" tcp-echo \
        "$vm_ip" 7 --duration 120 --stop-file "$stop" --out "$out/tcp.json" \
        >"$out/tcp.out" 2>&1 &
    QEMU_PIDS+=("$!")
    # ICMP: the guest's kernel answers, nothing of ours runs in it.  The
    # probe reads the migration's events when it stops (SIGINT).
    "$OVN_LM_PROBE" --netns "$ns_cli" --mode icmp --rate 1000 \
        --json "$out/probe.json" --events "$out/events.json" \
        --svg "$out/timeline.svg" --title "QEMU live migration, chassis 1 -> 2" \
        "$vm_ip" >"$out/probe.out" 2>&1 &
    local probe_pid=$!
    lab_wait 10 "TCP traffic" grep -q ready "$out/tcp.out"
    sleep 1

    vm_migrate vm1 vm2 >"$out/migrate.out" 2>&1
    qstep "QEMU migration completed, target running" \
        grep -qx 'target_status=running' "$out/migrate.out"
    qstep "QEMU's RARP activated the target (no help from us)" \
        wait_state vm1 activated
    qstep "Southbound says activated on chassis 2" \
        [ "$(pb_activated vm1)" = "$(lab_chassis_name 2)" ]

    # KubeVirt: the source QEMU is gone, then the source pod is deleted.
    sleep 1
    vm_stop vm1
    cni_run DEL cid-launcher-src "/run/netns/$ns_src" eth0 \
        "K8S_POD_NAMESPACE=default;K8S_POD_NAME=launcher-src" "$(cni_conf 1)"
    qstep "source pod DEL completes the migration" \
        [ "$CNI_RC/$(mig_state vm1)/$(lsp_opt vm1 requested-chassis)" = "0/completed/$(lab_chassis_name 2)" ]
    sleep 1
    ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/migration-events default_vm1 \
        >"$out/events.json"
    kill -INT "$probe_pid"
    wait "$probe_pid"
    touch "$stop"
    local p
    for p in "${QEMU_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    QEMU_PIDS=()

    qstep "the TCP connection survived" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["ok"] and d["last_rx"] > float(sys.argv[2]) else 1)' \
        "$out/tcp.json" "$(sed -n 's/^dst_resume_ts=//p' "$out/migrate.out")"
    qstep "the guest answers from chassis 2" \
        ip netns exec "$ns_cli" ping -q -c 2 -i 0.2 -W 2 "$vm_ip"
    # A failure above may be the guest's own: TCG guests have been seen to
    # oops right after resuming (test/vm/README.md).  Say so apart.
    qstep "the guest kernel is healthy after the migration (console)" \
        bash -c "! grep -qE 'Oops|Kernel panic|BUG:' '$(vm_dir vm2)/console.log'"

    ovs-appctl -t "$LAB_H2_DAEMON_CTL" ovn-lm/migrations >"$out/migrations"
    return $rc
}

# qemu_summary OUTDIR: prints the figures of a qemu_migration run.
qemu_summary() {
    python3 - "$1" <<'PY'
import json, os, sys
out = sys.argv[1]
mig = dict(l.strip().split("=", 1) for l in open(f"{out}/migrate.out")
           if "=" in l)
probe = json.load(open(f"{out}/probe.json"))
tcp = json.load(open(f"{out}/tcp.json"))
gap = probe.get("downtime") or {}
print("QEMU: total %s ms, downtime %s ms (its own figure), source stop to "
      "target resume %s ms" % (mig.get("total_time_ms"), mig.get("downtime_ms"),
                               mig.get("stop_to_resume_ms")))
print("probe (1 kHz ICMP from chassis 3): longest reply gap %.1f ms, %d lost, "
      "%d duplicated, %d reordered of %d" % (
          float(gap.get("duration_ms", 0.0)), probe.get("lost", 0),
          probe.get("duplicated", 0), probe.get("reordered", 0),
          probe.get("sent", 0)))
print("TCP connection: %s, longest gap %.1f ms" % (
    "survived" if tcp.get("ok") else "BROKEN: %s" % tcp.get("error"),
    tcp.get("max_gap_ms", 0.0)))
PY
}
