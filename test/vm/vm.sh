# shellcheck shell=bash
#
# vm.sh - run the tiny test guest under QEMU inside pod network namespaces
# and live-migrate it, the way KubeVirt's bridge binding does.
#
#     . test/vm/vm.sh
#     eval "$(vm_pod_bridge NETNS eth0)"      # sets VM_MAC VM_IP VM_TAP ...
#     vm_start src NETNS "$VM_TAP" "$VM_MAC" "$VM_IP"
#     ... (target pod: vm_pod_bridge again, same MAC/IP from the CNI)
#     vm_start dst NETNS2 tap0 "$VM_MAC" "$VM_IP" --incoming auto
#     vm_migrate src dst                      # key=value results
#     vm_cleanup_all
#
# Source it from bash; it sets no shell options and works under
# 'set -euo pipefail'.  Everything a VM owns lives in $VM_RUN_DIR/NAME/:
# qemu.pid, qmp.sock, console.log (the guest's ttyS0), qemu.err, vm.env,
# migrate.sock (an incoming target), migrate.out (a source after vm_migrate).
#
# Environment (defaults in brackets):
#   VM_RUN_DIR        run dir of this test              [/tmp/ovn-lm-vm-$$]
#   VM_GUEST_DIR      guest from build-guest.sh         [/var/tmp/ovn-lm-vm-guest]
#   VM_CACHE_DIR      build-guest.sh's cache            [/var/cache/ovn-lm-vm]
#   VM_QEMU           QEMU binary                       [qemu-system-x86_64]
#   VM_ACCEL          tcg or kvm                        [tcg]
#   VM_MEM            guest RAM, MiB                    [128]
#   VM_BOOT_TIMEOUT   s to wait for the guest's banner  [90]
#   VM_DOWNTIME_LIMIT migrate downtime-limit, ms        [20; QEMU's (and so
#                     KubeVirt's) default is 300, which lets QEMU pause a
#                     small guest ~100 ms on a fast socket]
#   VM_MAX_BANDWIDTH  migrate max-bandwidth, bytes/s    [10 GiB/s; QEMU's
#                     default of 32 MiB/s would slow a UNIX-socket migration]
#   VM_MIGRATE_TIMEOUT s                                [120]
#   VM_PYTHON         python3 for qmp.py                [python3]

VM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_RUN_DIR=${VM_RUN_DIR:-/tmp/ovn-lm-vm-$$}
VM_GUEST_DIR=${VM_GUEST_DIR:-/var/tmp/ovn-lm-vm-guest}
VM_QEMU=${VM_QEMU:-qemu-system-x86_64}
VM_ACCEL=${VM_ACCEL:-tcg}
VM_MEM=${VM_MEM:-128}
VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-90}
VM_DOWNTIME_LIMIT=${VM_DOWNTIME_LIMIT:-20}
VM_MAX_BANDWIDTH=${VM_MAX_BANDWIDTH:-10737418240}
VM_MIGRATE_TIMEOUT=${VM_MIGRATE_TIMEOUT:-120}
VM_PYTHON=${VM_PYTHON:-python3}

case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin:/sbin ;;
esac

vm_die() {
    echo "vm: error: $*" >&2
    return 1
}

vm_log() {
    echo "vm: $*" >&2
}

vm_now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

vm_dir() { echo "$VM_RUN_DIR/$1"; }

vm_valid_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$ ]]
}

# vm_random_mac: a random locally administered unicast MAC.
vm_random_mac() {
    printf '02:%02x:%02x:%02x:%02x:%02x\n' $((SRANDOM % 256)) \
        $((SRANDOM % 256)) $((SRANDOM % 256)) $((SRANDOM % 256)) \
        $((SRANDOM % 256))
}

# --- pod side: KubeVirt's bridge binding -----------------------------------

# vm_pod_bridge NETNS IFNAME
#
# In pod netns NETNS, whose CNI interface IFNAME carries the pod's MAC and
# IP, do what KubeVirt's bridge binding (virt-handler) does so the VM can own
# that MAC and IP:
#   - remember IFNAME's MAC, IPv4 address, default gateway and MTU;
#   - flush the address, rename IFNAME to IFNAME-nic, give it a random
#     locally administered MAC, no IPv6, bridge port learning off;
#   - bridge k6t-IFNAME (tx checksum offload off, no IPv6) with IFNAME-nic
#     and a tap (tap0 for eth0, else tap-IFNAME) as ports, MTU as IFNAME;
#   - a dummy named IFNAME holding the pod's IP (down, as KubeVirt leaves
#     it; skipped if the kernel has no dummy driver), arp_ignore=1;
#   - tx checksum offload off on IFNAME-nic: frames the guest sends with a
#     partial checksum are completed by the kernel before they leave the
#     pod (the userspace OVS datapath forwards frames as they are).
# Prints shell assignments for eval:
#   VM_MAC VM_IP (ADDR/PLEN) VM_GW (may be empty) VM_MTU VM_TAP VM_BRIDGE
#   VM_NIC
vm_pod_bridge() {
    local ns=$1 ifn=$2 mac ip gw mtu nic br tap ex
    [[ $# -eq 2 ]] || vm_die "usage: vm_pod_bridge NETNS IFNAME" || return
    ex=(ip netns exec "$ns")
    "${ex[@]}" test -e "/sys/class/net/$ifn" ||
        vm_die "no $ifn in netns $ns" || return
    nic="$ifn-nic"
    br="k6t-$ifn"
    if [[ $ifn =~ ^eth([0-9]+)$ ]]; then
        tap="tap${BASH_REMATCH[1]}"
    else
        tap="tap-$ifn"
    fi
    ((${#nic} <= 15 && ${#br} <= 15 && ${#tap} <= 15)) ||
        vm_die "interface name '$ifn' too long for the bridge binding" ||
        return
    "${ex[@]}" test ! -e "/sys/class/net/$br" ||
        vm_die "$br already exists in $ns" || return

    mac=$("${ex[@]}" cat "/sys/class/net/$ifn/address") || return
    mtu=$("${ex[@]}" cat "/sys/class/net/$ifn/mtu") || return
    ip=$("${ex[@]}" ip -4 -o addr show dev "$ifn" |
        awk '{ print $4; exit }')
    gw=$("${ex[@]}" ip -4 route show default |
        awk -v d="$ifn" '$1 == "default" && $3 && $5 == d { print $3; exit }')
    [[ -n $ip ]] || vm_die "$ifn in $ns has no IPv4 address" || return

    # shellcheck disable=SC2016  # expanded by the inner sh
    "${ex[@]}" sh -e -c '
        ns_if=$1 nic=$2 br=$3 tap=$4 mtu=$5 ip=$6 newmac=$7
        sysctl -qw net.ipv4.conf.all.arp_ignore=1
        ip -4 addr flush dev "$ns_if"
        ip link set "$ns_if" down
        ip link set "$ns_if" name "$nic"
        ip link set "$nic" address "$newmac"
        if [ -e "/proc/sys/net/ipv6/conf/$nic" ]; then
            sysctl -qw "net.ipv6.conf.$nic.disable_ipv6=1"
        fi
        ip link add "$br" type bridge
        if [ -e "/proc/sys/net/ipv6/conf/$br" ]; then
            sysctl -qw "net.ipv6.conf.$br.disable_ipv6=1"
        fi
        ip link set "$br" mtu "$mtu"
        ip tuntap add dev "$tap" mode tap
        if [ -e "/proc/sys/net/ipv6/conf/$tap" ]; then
            sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1"
        fi
        ip link set "$tap" mtu "$mtu"
        ip link set "$nic" master "$br"
        ip link set "$tap" master "$br"
        bridge link set dev "$nic" learning off
        ethtool -K "$nic" tx off >/dev/null 2>&1 || true
        ethtool -K "$br" tx off >/dev/null 2>&1 || true
        # KubeVirt parks the pod IP on a dummy; kernels without dummy
        # (CONFIG_DUMMY unset) simply do without it.
        if ip link add "$ns_if" type dummy 2>/dev/null; then
            ip link set "$ns_if" mtu "$mtu"
            ip addr add "$ip" dev "$ns_if"
        fi
        ip link set "$nic" up
        ip link set "$tap" up
        ip link set "$br" up
    ' sh "$ifn" "$nic" "$br" "$tap" "$mtu" "$ip" "$(vm_random_mac)" ||
        vm_die "bridge binding in $ns failed" || return

    printf 'VM_MAC=%s\nVM_IP=%s\nVM_GW=%s\nVM_MTU=%s\nVM_TAP=%s\n' \
        "$mac" "$ip" "$gw" "$mtu" "$tap"
    printf 'VM_BRIDGE=%s\nVM_NIC=%s\n' "$br" "$nic"
}

# --- QEMU -------------------------------------------------------------------

# vm_pid NAME: the PID of VM NAME's QEMU if it is alive and really ours
# (its command line names our run dir); nothing otherwise.
vm_pid() {
    local d pid state
    d=$(vm_dir "$1")
    [[ -r $d/qemu.pid ]] || return 0
    pid=$(<"$d/qemu.pid")
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 0
    [[ -n $state && $state != Z && $state != X ]] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
        grep -qF -- "$d/qmp.sock" || return 0
    echo "$pid"
}

# vm_qmp NAME ARGS...: qmp.py on VM NAME's monitor, e.g.
#   vm_qmp src cmd query-status
vm_qmp() {
    local name=$1
    shift
    "$VM_PYTHON" "$VM_HERE/qmp.py" "$(vm_dir "$name")/qmp.sock" "$@"
}

# vm_guest_ensure: build (or find cached) the guest in $VM_GUEST_DIR.
vm_guest_ensure() {
    local out rc=0
    out=$("$VM_HERE/build-guest.sh" "$VM_GUEST_DIR" 2>&1) || rc=$?
    [[ $rc -eq 0 && $out == *"up to date"* ]] || echo "$out" >&2
    ((rc == 0)) || vm_die "test/vm/build-guest.sh $VM_GUEST_DIR failed" ||
        return
    [[ -s $VM_GUEST_DIR/vmlinuz && -s $VM_GUEST_DIR/initrd.img ]] ||
        vm_die "no guest in $VM_GUEST_DIR"
}

# vm_start NAME NETNS TAP MAC IP/PLEN [--gw ADDR] [--mtu N] [--mem MiB]
#          [--incoming unix:PATH|auto]
#
# Starts QEMU (daemonized, inside NETNS so it finds TAP) with the guest,
# one virtio-net-pci NIC on TAP with MAC, its serial console in
# $VM_RUN_DIR/NAME/console.log and QMP on $VM_RUN_DIR/NAME/qmp.sock.  The
# guest configures IP/PLEN (and the gateway) from its kernel command line.
# MTU defaults to TAP's; it is also offered to the guest (host_mtu).
#
# Without --incoming: waits until the guest prints its banner (its network
# and services are up) and prints "NAME: up in N ms".  With --incoming
# (auto = unix:$VM_RUN_DIR/NAME/migrate.sock): waits until QEMU listens
# (status inmigrate).  A target must be started with the same MAC, IP,
# MTU, gateway and memory as its source.
vm_start() {
    local name=$1 ns=$2 tap=$3 mac=$4 ip=$5 gw="" mtu="" mem=$VM_MEM
    local incoming="" d t0 t1 pid append i
    [[ $# -ge 5 ]] ||
        vm_die "usage: vm_start NAME NETNS TAP MAC IP/PLEN [--gw A]" \
            "[--mtu N] [--mem MiB] [--incoming unix:PATH|auto]" || return
    shift 5
    while [[ $# -gt 0 ]]; do
        case $1 in
        --gw) gw=$2; shift 2 ;;
        --mtu) mtu=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --incoming) incoming=$2; shift 2 ;;
        *) vm_die "vm_start: unknown option $1" || return ;;
        esac
    done
    vm_valid_name "$name" || vm_die "bad VM name '$name'" || return
    [[ $mac =~ ^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$ ]] ||
        vm_die "bad MAC '$mac'" || return
    [[ $ip == */* ]] || vm_die "want IP/PLEN, got '$ip'" || return
    d=$(vm_dir "$name")
    [[ -z $(vm_pid "$name") ]] || vm_die "VM $name is already running" ||
        return
    mkdir -p "$VM_RUN_DIR"
    touch "$VM_RUN_DIR/.ovn-lm-vm"
    rm -rf "$d"
    mkdir -p "$d"
    vm_guest_ensure || return
    if [[ -z $mtu ]]; then
        mtu=$(ip netns exec "$ns" cat "/sys/class/net/$tap/mtu") ||
            vm_die "no tap $tap in netns $ns" || return
    fi
    [[ $incoming == auto ]] && incoming="unix:$d/migrate.sock"

    append="console=ttyS0 panic=-1 quiet lmname=$name lmip=$ip lmmtu=$mtu"
    [[ -n $gw ]] && append+=" lmgw=$gw"
    local args=(
        -name "$name"
        -machine pc -accel "$VM_ACCEL" -smp 1 -m "$mem"
        -nodefaults -no-user-config -display none -no-reboot
        -msg timestamp=on
        -kernel "$VM_GUEST_DIR/vmlinuz" -initrd "$VM_GUEST_DIR/initrd.img"
        -append "$append"
        -chardev "file,id=con0,path=$d/console.log"
        -serial chardev:con0
        -qmp "unix:$d/qmp.sock,server=on,wait=off"
        -netdev "tap,id=net0,ifname=$tap,script=no,downscript=no,vhost=off"
        -device "virtio-net-pci,netdev=net0,mac=$mac,host_mtu=$mtu,romfile="
        -pidfile "$d/qemu.pid" -daemonize
    )
    [[ -n $incoming ]] && args+=(-incoming "$incoming")
    cat >"$d/vm.env" <<EOF
VM_NAME='$name'
VM_NETNS='$ns'
VM_TAP='$tap'
VM_MAC='$mac'
VM_IP='$ip'
VM_GW='$gw'
VM_MTU='$mtu'
VM_INCOMING='$incoming'
EOF
    printf '%q ' "$VM_QEMU" "${args[@]}" >"$d/qemu.cmd"
    echo >>"$d/qemu.cmd"

    t0=$(vm_now_ms)
    ip netns exec "$ns" "$VM_QEMU" "${args[@]}" 2>"$d/qemu.err" </dev/null ||
        vm_die "QEMU for $name failed: $(tail -n3 "$d/qemu.err")" || return
    pid=$(vm_pid "$name")
    [[ -n $pid ]] || vm_die "QEMU for $name did not stay up:" \
        "$(tail -n3 "$d/qemu.err")" || return

    if [[ -n $incoming ]]; then
        vm_qmp "$name" wait-status inmigrate --timeout 10 >/dev/null ||
            vm_die "target $name is not waiting for a migration" || return
        t1=$(vm_now_ms)
        vm_log "$name: waiting for migration on ${incoming#unix:}" \
            "(pid $pid, $((t1 - t0)) ms)"
        return 0
    fi
    for ((i = 0; ; i++)); do
        if grep -aq 'OVNLM-GUEST-UP' "$d/console.log" 2>/dev/null; then
            break
        fi
        if grep -aq 'OVNLM-GUEST-FAIL\|Kernel panic' "$d/console.log" \
            2>/dev/null || [[ -z $(vm_pid "$name") ]]; then
            vm_die "guest $name failed to boot: $(tail -n5 "$d/console.log")"
            return
        fi
        if ((i * 50 > VM_BOOT_TIMEOUT * 1000)); then
            vm_die "guest $name not up after ${VM_BOOT_TIMEOUT}s:" \
                "$(tail -n5 "$d/console.log")"
            return
        fi
        sleep 0.05
    done
    t1=$(vm_now_ms)
    echo $((t1 - t0)) >"$d/boot_ms"
    vm_log "$name: up in $((t1 - t0)) ms (pid $pid):" \
        "$(grep -a -m1 'OVNLM-GUEST-UP' "$d/console.log" | tr -d '\r')"
}

# vm_migrate SRC TARGET [--downtime-limit MS]
#
# Live-migrates VM SRC into VM TARGET (started with --incoming) over
# TARGET's UNIX socket and waits for the end.  Prints qmp.py's key=value
# results (see qmp.py: status, total_time_ms, downtime_ms, setup_time_ms,
# src_stop_ts, src_done_ts, dst_resume_ts, stop_to_resume_ms,
# target_status, source_status, ...), also kept in
# $VM_RUN_DIR/SRC/migrate.out.  Succeeds only if the migration completed
# and the target runs.  The source QEMU stays (paused, postmigrate):
# vm_stop it, as KubeVirt ends the source virt-launcher.
#
# QEMU's announce (self-announce: RARP from the NIC's MAC, 5 rounds from
# 50 ms, +100 ms a round; plus a virtio-net guest announce = gratuitous ARP
# from the guest) comes from the target by itself: nothing to drive here.
vm_migrate() {
    local src=$1 dst=$2 dl=$VM_DOWNTIME_LIMIT dd rc=0
    [[ $# -ge 2 ]] || vm_die "usage: vm_migrate SRC TARGET" || return
    shift 2
    while [[ $# -gt 0 ]]; do
        case $1 in
        --downtime-limit) dl=$2; shift 2 ;;
        *) vm_die "vm_migrate: unknown option $1" || return ;;
        esac
    done
    [[ -n $(vm_pid "$src") ]] || vm_die "source $src is not running" ||
        return
    [[ -n $(vm_pid "$dst") ]] || vm_die "target $dst is not running" ||
        return
    dd=$(vm_dir "$dst")
    local incoming
    # shellcheck source=/dev/null
    incoming=$(. "$dd/vm.env" && echo "$VM_INCOMING")
    [[ -n $incoming ]] || vm_die "target $dst was not started with" \
        "--incoming" || return
    "$VM_PYTHON" "$VM_HERE/qmp.py" migrate \
        "$(vm_dir "$src")/qmp.sock" "$dd/qmp.sock" "$incoming" \
        --downtime-limit "$dl" --max-bandwidth "$VM_MAX_BANDWIDTH" \
        --timeout "$VM_MIGRATE_TIMEOUT" >"$(vm_dir "$src")/migrate.out" ||
        rc=$?
    cat "$(vm_dir "$src")/migrate.out"
    return $rc
}

# vm_stop NAME: stop VM NAME's QEMU, by the PID in its pidfile (and only if
# that process is ours): QMP quit, then SIGTERM, then SIGKILL.  Not running
# is fine.
vm_stop() {
    local name=$1 pid i
    pid=$(vm_pid "$name")
    [[ -n $pid ]] || return 0
    timeout 3 "$VM_PYTHON" "$VM_HERE/qmp.py" "$(vm_dir "$name")/qmp.sock" \
        cmd quit >/dev/null 2>&1 || true
    for ((i = 0; i < 40; i++)); do
        [[ -n $(vm_pid "$name") ]] || return 0
        ((i == 20)) && kill -TERM "$pid" 2>/dev/null
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
        [[ -n $(vm_pid "$name") ]] || return 0
        sleep 0.05
    done
    vm_die "could not stop VM $name (pid $pid)"
}

# vm_cleanup_all: stop every VM of $VM_RUN_DIR and remove the directory
# (only if it is ours: it holds the marker .ovn-lm-vm).
vm_cleanup_all() {
    local d rc=0
    [[ -d $VM_RUN_DIR ]] || return 0
    for d in "$VM_RUN_DIR"/*/; do
        [[ -d $d ]] || continue
        d=${d%/}
        vm_stop "${d##*/}" || rc=1
    done
    if [[ -e $VM_RUN_DIR/.ovn-lm-vm ]]; then
        rm -rf "$VM_RUN_DIR"
    fi
    return $rc
}
