# lib-migration.sh: helpers for live-migration tests in the lab.  Source
# after lib-cni.sh.  Logical ports are named default_<vm>.

# vm_ann VM [EXTRA]: the runtimeConfig containerd passes for a KubeVirt
# virt-launcher pod of VM, as a conf merge object: the pod's annotations
# only (KubeVirt's kubevirt.io/domain and its empty opt-in, the kubelet's
# config.seen/config.source), never labels such as vm.kubevirt.io/name.
vm_ann() {
    printf '{"runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"kubevirt.io/domain": "%s", "kubevirt.io/allow-pod-bridge-network-live-migration": "", "kubectl.kubernetes.io/default-container": "compute", "kubernetes.io/config.seen": "%s", "kubernetes.io/config.source": "api"%s}}}' \
        "$1" "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "${2:+, $2}"
}

# vm_add N VM POD [EXTRA-ANNOTATIONS]: ADD pod POD of VM on chassis N.
vm_add() {
    cni_add_pod "$1" "$3" "K8S_POD_NAMESPACE=default;K8S_POD_NAME=$3" \
        "$(vm_ann "$2" "${4:-}")"
}

lsp_opt() {
    lab_nbctl --if-exists get Logical_Switch_Port "default_$1" "options:$2" \
        2>/dev/null | tr -d '"'
}

lsp_ext() {
    lab_nbctl --if-exists get Logical_Switch_Port "default_$1" \
        "external_ids:\"$2\"" 2>/dev/null | tr -d '"'
}

lsp_exists() {
    [ -n "$(lab_nbctl --bare --columns=name find Logical_Switch_Port name="default_$1")" ]
}

mig_state() {
    lsp_ext "$1" ovn-lm/migration
}

# pb_activated VM: Southbound's additional-chassis-activated, or nothing.
pb_activated() {
    lab_sbctl --bare --columns=options find Port_Binding \
        logical_port="default_$1" | tr ' ' '\n' |
        sed -n 's/^additional-chassis-activated=//p'
}

# wait_state VM STATE: up to 5 s for the migration state to become STATE.
wait_state() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(mig_state "$1")" = "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# send_rarp N VM: the daemon on chassis N sends the workload's RARP from
# inside the target pod (as for a restored container).
send_rarp() {
    ovs-appctl -t "$(lab_var "LAB_H$1_DAEMON_CTL")" ovn-lm/send-rarp \
        "default_$2" >/dev/null
}

# target_blocked POD IP: the blocked target cannot reach IP, and not
# because the pod is broken: its eth0 is up with an address, and its frames
# (ARP, ping) do reach its port on br-int -- the host end of its veth
# receives them while it pings -- so that it is OVN that drops them until
# activation.  Says why on stderr when it fails.
target_blocked() {
    local ns n iface chassis_ns before after
    ns=$(lab_ns_pod "$1")
    if ! ip -n "$ns" -j addr show eth0 up | grep -q '"local":"[0-9]'; then
        echo "target_blocked: $1's eth0 is down or has no IPv4 address" >&2
        return 1
    fi
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        iface=$(lab_vsctl "$n" --bare --columns=name find Interface \
            "external_ids:\"ovn-lm/netns\"=\"/run/netns/$ns\"")
        [ -n "$iface" ] && break
    done
    if [ -z "$iface" ]; then
        echo "target_blocked: no OVS port holds $1's veth" >&2
        return 1
    fi
    chassis_ns=$(lab_var "LAB_H${n}_NETNS")
    rx_packets() {
        ip -n "$chassis_ns" -s -j link show "$iface" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'
    }
    before=$(rx_packets)
    if ip netns exec "$ns" ping -c 2 -i 0.3 -W 1 -q "$2" >/dev/null 2>&1; then
        echo "target_blocked: $1 reached $2" >&2
        return 1
    fi
    after=$(rx_packets)
    if ! [ "$after" -gt "$before" ]; then
        echo "target_blocked: $1's frames never reached br-int ($iface rx $before -> $after)" >&2
        return 1
    fi
}
