#!/bin/bash
#
# lab.sh - real OVN (NB, SB, northd, N chassis) on one machine, in network
# namespaces, with OVS's userspace datapath.  See README.md next to it.
#
#   lab.sh up                   build the lab, wait until it is ready
#   lab.sh down                 stop and remove everything of this lab
#   lab.sh status               what is running
#   lab.sh daemon-start N       start ovn-controller-ext on chassis N
#   lab.sh daemon-stop N        stop it (by PID from its pidfile)
#   lab.sh daemon-restart N     both
#   lab.sh exec N CMD...        run CMD in chassis N's netns and environment
#
# Environment: LAB_PREFIX, LAB_DIR, LAB_CHASSIS, LAB_DAEMON, LAB_DAEMON_ARGS,
# LAB_SSL=1 for NB/SB over SSL, LAB_CLUSTER=1 for NB and SB as 3-member
# Raft clusters (README.md).  Must run as root.

set -Eeuo pipefail

LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$LAB_HERE/lib.sh"

LAB_MARKER=.ovn-lm-lab

usage() {
    sed -n '3,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# A failed command under 'set -e' would otherwise exit silently.  Our own
# failures (lab_die, return) have said why already.
on_err() {
    case $2 in
    return* | lab_die*) ;;
    *) echo "lab.sh: line $1: '$2' failed" >&2 ;;
    esac
}
trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR

# maybe_fail STEP: lets smoke.sh prove that a failed 'up' cleans up after
# itself, by making 'up' fail at step LAB_INJECT_FAIL.
maybe_fail() {
    if [[ ${LAB_INJECT_FAIL:-} == "$1" ]]; then
        lab_die "failing on purpose at step '$1' (LAB_INJECT_FAIL)"
        return 1
    fi
}

# ---------------------------------------------------------------- up ------

check_tools() {
    local t
    for t in ip ethtool ping ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl \
        ovs-appctl ovn-northd ovn-controller ovn-nbctl ovn-sbctl; do
        command -v "$t" >/dev/null || lab_die "'$t' not found in PATH"
    done
    if ((LAB_SSL)); then
        # Debian ships ovs-pki in openvswitch-common.  (Not openvswitch-pki:
        # that package only runs 'ovs-pki init' into /var/lib/openvswitch.)
        for t in ovs-pki openssl; do
            command -v "$t" >/dev/null ||
                lab_die "'$t' not found in PATH (needed by LAB_SSL=1)"
        done
    fi
    [[ $(id -u) == 0 ]] || lab_die "must run as root (network namespaces)"
}

# claim: makes $LAB_DIR atomically; only after that may a failure tear
# anything down, so a second 'up' with a busy prefix never destroys the
# first lab.
claim() {
    local busy
    busy=$(lab_netns_list)
    [[ -z $busy ]] ||
        lab_die "prefix '$LAB_PREFIX' in use: netns ${busy//$'\n'/ } exist" \
            "(LAB_PREFIX=$LAB_PREFIX lab.sh down?)"
    [[ ! -e $LAB_DIR ]] ||
        lab_die "$LAB_DIR exists (LAB_DIR=$LAB_DIR lab.sh down?)"
    mkdir -p "$(dirname "$LAB_DIR")"
    mkdir "$LAB_DIR" || lab_die "cannot create $LAB_DIR"
    CLAIMED=1
    echo "ovn-lm lab $LAB_PREFIX" >"$LAB_DIR/$LAB_MARKER"
    echo "$LAB_PREFIX" >"$LAB_DIR/prefix"
}

# ovs_pki ARGS...: ovs-pki on the lab's PKI, logging into the PKI (its
# default log is /var/log/openvswitch/ovs-pki.log).  Its chatter ("Creating
# controllerca...", fingerprints) is shown only if it fails.
ovs_pki() {
    local out
    out=$(ovs-pki --dir="$(lab_pki_dir)/ca" \
        --log="$(lab_pki_dir)/ovs-pki.log" "$@" 2>&1) || {
        printf '%s\n' "$out" >&2
        return 1
    }
}

# up_pki: with LAB_SSL=1, a PKI in $LAB_DIR/pki (lib.sh names its files):
# one CA (ovs-pki's switchca) signs a certificate for the central
# ovsdb-servers and one for each chassis.  RSA key generation is the slow
# part, so the CAs and the keys are made in parallel; signing updates the
# CA's index and serial files, so that is done one at a time.
up_pki() {
    local pki name names=(central) n pids=() failed=0
    ((LAB_SSL)) || return 0
    pki=$(lab_pki_dir)
    mkdir -m 0700 "$pki"
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        names+=("h$n")
    done
    (
        trap : INT TERM
        ovs_pki init
    ) &
    pids+=($!)
    for name in "${names[@]}"; do
        # -u: the certificate's CN is NAME, without ovs-pki's UUID.
        (
            trap : INT TERM
            cd "$pki" && ovs_pki -u req "$name"
        ) &
        pids+=($!)
    done
    for n in "${pids[@]}"; do
        wait "$n" || failed=1
    done
    ((!failed)) || lab_die "ovs-pki failed (see $pki/ovs-pki.log)"
    for name in "${names[@]}"; do
        (cd "$pki" && ovs_pki -b sign "$name" switch) ||
            lab_die "ovs-pki sign $name failed (see $pki/ovs-pki.log)"
        rm -f "$pki/$name-req.pem"
    done
    maybe_fail pki
}

# up_central: netns ${P}c with the underlay bridge, NB and SB ovsdb-servers
# (unix sockets for the host, TCP -- or SSL with LAB_SSL=1 -- on the
# underlay for the chassis) and ovn-northd, then the logical switch.
up_central() {
    local ns c br=${LAB_PREFIX}br nb_net sb_net ssl=()
    ns=$(lab_ns_central)
    c=$(lab_central_dir)
    # A remote "ssl:IP:PORT" is listened on as "pssl:PORT:IP", and the SSL
    # lab has no plain TCP listener at all.  The servers insist on client
    # certificates signed by the lab's CA (OVS always verifies the peer).
    if lab_ssl; then
        nb_net=pssl:$LAB_NB_PORT:$LAB_CENTRAL_IP
        sb_net=pssl:$LAB_SB_PORT:$LAB_CENTRAL_IP
        mapfile -t ssl < <(lab_ssl_args central)
    else
        nb_net=ptcp:$LAB_NB_PORT:$LAB_CENTRAL_IP
        sb_net=ptcp:$LAB_SB_PORT:$LAB_CENTRAL_IP
    fi
    mkdir "$c"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # STP is off by default, so ports forward as soon as they are added.
    ip -n "$ns" link add "$br" mtu "$LAB_UNDERLAY_MTU" type bridge
    ip -n "$ns" addr add "$LAB_CENTRAL_IP/$LAB_UNDERLAY_PLEN" dev "$br"
    ip -n "$ns" link set "$br" up

    if ((LAB_CLUSTER)); then
        up_cluster
    else
        up_standalone_dbs "$c" "$nb_net" "$sb_net" "${ssl[@]}"
    fi
    lab_exec_central ovn-northd \
        --ovnnb-db="$(lab_db_northd nb)" --ovnsb-db="$(lab_db_northd sb)" \
        -vconsole:warn --log-file="$c/ovn-northd.log" \
        --pidfile="$c/ovn-northd.pid" --unixctl="$c/ovn-northd.ctl" \
        --detach --no-chdir

    # other_config:subnet turns on OVN's dynamic addressing: an LSP with
    # addresses "dynamic" gets a MAC and a free IP of the subnet from northd.
    lab_nbctl --timeout=10 ls-add "$LAB_SWITCH" \
        -- set Logical_Switch "$LAB_SWITCH" \
        "other_config:subnet=$LAB_SUBNET" \
        "other_config:exclude_ips=$LAB_EXCLUDE_IPS"
    maybe_fail central
}

# lab_db_northd nb|sb: where ovn-northd reaches the database: the unix
# socket, or in a clustered lab every member over the underlay, as in a
# real deployment (so a partitioned member is a partition for northd too).
lab_db_northd() {
    if ((LAB_CLUSTER)); then lab_db_remotes "$1" tcp; else lab_db_remotes "$1" unix; fi
}

# up_standalone_dbs DIR NB-REMOTE SB-REMOTE [SSL-ARGS...]: one NB and one SB
# ovsdb-server in the central namespace.
up_standalone_dbs() {
    local c=$1 nb_net=$2 sb_net=$3
    shift 3
    local ssl=("$@")
    ovsdb-tool create "$c/nb.db" /usr/share/ovn/ovn-nb.ovsschema
    ovsdb-tool create "$c/sb.db" /usr/share/ovn/ovn-sb.ovsschema
    lab_exec_central ovsdb-server "$c/nb.db" \
        --remote="punix:$c/nb.sock" --remote="$nb_net" "${ssl[@]}" \
        -vconsole:warn --log-file="$c/ovsdb-nb.log" \
        --pidfile="$c/ovsdb-nb.pid" --unixctl="$c/ovsdb-nb.ctl" \
        --detach --no-chdir
    lab_exec_central ovsdb-server "$c/sb.db" \
        --remote="punix:$c/sb.sock" --remote="$sb_net" "${ssl[@]}" \
        -vconsole:warn --log-file="$c/ovsdb-sb.log" \
        --pidfile="$c/ovsdb-sb.pid" --unixctl="$c/ovsdb-sb.ctl" \
        --detach --no-chdir
}

# quiet CMD...: runs CMD, showing its output only if it fails.
quiet() {
    local out
    out=$("$@" 2>&1) || {
        printf '%s\n' "$out" >&2
        return 1
    }
}

# up_cluster: LAB_CLUSTER=1.  Three member namespaces ${P}d1..3 on the
# underlay bridge, each with an NB and an SB ovsdb-server that are Raft
# members (member 1 creates each cluster, 2 and 3 join it), listening on
# a unix socket for the host's tools and on TCP on the member's address
# for northd, the chassis and the daemons.  Returns once both clusters
# have a leader that every member knows.
up_cluster() {
    local i ns d ip db schema name br=${LAB_PREFIX}br cns
    cns=$(lab_ns_central)
    for ((i = 1; i <= LAB_CLUSTER_SIZE; i++)); do
        ns=$(lab_ns_db "$i")
        d=$(lab_db_dir "$i")
        ip=$(lab_db_ip "$i")
        mkdir "$d"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n "$cns" link add "${LAB_PREFIX}m$i" mtu "$LAB_UNDERLAY_MTU" \
            type veth peer name eth0 netns "$ns" mtu "$LAB_UNDERLAY_MTU"
        ip -n "$cns" link set "${LAB_PREFIX}m$i" master "$br" up
        ip -n "$ns" addr add "$ip/$LAB_UNDERLAY_PLEN" dev eth0
        ip -n "$ns" link set eth0 up
        for db in nb sb; do
            schema=/usr/share/ovn/ovn-$db.ovsschema
            name=$(lab_db_name "$db")
            # create-cluster warns that a cluster keeps the schema's
            # ephemeral columns: expected, shown only if it fails.
            if ((i == 1)); then
                quiet ovsdb-tool create-cluster "$d/$db.db" "$schema" \
                    "tcp:$ip:$(lab_db_port "$db" raft)"
            else
                quiet ovsdb-tool join-cluster "$d/$db.db" "$name" \
                    "tcp:$ip:$(lab_db_port "$db" raft)" \
                    "tcp:$(lab_db_ip 1):$(lab_db_port "$db" raft)"
            fi
            lab_db_start "$db" "$i"
        done
    done
    lab_wait 30 "an NB leader known to every member" lab_db_has_leader nb
    lab_wait 30 "an SB leader known to every member" lab_db_has_leader sb
    maybe_fail cluster
}

# up_chassis N: netns, underlay veth, ovsdb-server, ovs-vswitchd, br-phy
# with the tunnel IP, br-int.  Runs in a subshell, in parallel with the
# other chassis.  ovn-controller is started later, once the underlay works,
# so that it never waits in a reconnect back-off.
up_chassis() {
    local n=$1 ns cns d ip name host uif=${LAB_PREFIX}u$1 nif=${LAB_PREFIX}n$1
    local ssl=()
    ns=$(lab_ns_chassis "$n")
    cns=$(lab_ns_central)
    d=$(lab_chassis_dir "$n")
    ip=$(lab_chassis_ip "$n")
    name=$(lab_chassis_name "$n")
    host=$(lab_chassis_hostname "$n")
    mkdir "$d"
    ip netns add "$ns"
    ip -n "$ns" link set lo up

    # The veth is created directly in the two namespaces, so no lab link
    # ever appears in the host's namespace.
    ip -n "$cns" link add "$uif" mtu "$LAB_UNDERLAY_MTU" type veth \
        peer name "$nif" netns "$ns" mtu "$LAB_UNDERLAY_MTU"
    # The userspace datapath reads and writes frames with AF_PACKET; with tx
    # checksum offload on, the kernel hands it frames whose checksums were
    # never filled in, and the far end drops them.
    ip netns exec "$cns" ethtool -K "$uif" tx off >/dev/null
    ip netns exec "$ns" ethtool -K "$nif" tx off >/dev/null
    ip -n "$cns" link set "$uif" master "${LAB_PREFIX}br" up
    ip -n "$ns" link set "$nif" up
    # The kernel still sees every frame on the OVS-owned veth (the userspace
    # datapath only reads a copy).  With the default arp_ignore=0 it would
    # answer ARP for br-phy's IP from the veth's MAC too, and Geneve sent to
    # that MAC would end in the kernel's UDP stack instead of OVS.  IPv6 on
    # the veth would only add noise.
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        "net.ipv6.conf.$nif.disable_ipv6=1"

    ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    lab_exec_chassis "$n" ovsdb-server "$d/conf.db" \
        --remote="punix:$d/db.sock" \
        --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
        -vconsole:warn --log-file="$d/ovsdb-server.log" \
        --pidfile="$d/ovsdb-server.pid" --unixctl="$d/ovsdb-server.ctl" \
        --detach --no-chdir
    # ovn-controller takes its SSL files from the SSL table, as on a real
    # node ('ovs-vsctl set-ssl'); ovs-vswitchd reads them too but has no
    # SSL connection to use them on.
    if lab_ssl; then
        ssl=(-- set-ssl "$(lab_ssl_key "$n")" "$(lab_ssl_cert "$n")"
            "$(lab_ca_cert)")
    fi
    # external_ids:hostname keeps chassis apart: all namespaces share the
    # machine's hostname, and requested-chassis also matches hostnames.
    lab_vsctl "$n" --no-wait -- init -- set Open_vSwitch . \
        "external_ids:system-id=$name" \
        "external_ids:hostname=$host" \
        "external_ids:ovn-remote=$(lab_sb_remote)" \
        external_ids:ovn-encap-type=geneve \
        "external_ids:ovn-encap-ip=$ip" \
        external_ids:ovn-bridge=br-int \
        external_ids:ovn-bridge-datapath-type=netdev "${ssl[@]}"
    # No kernel module: --disable-system leaves only the userspace
    # (netdev) datapath.
    lab_exec_chassis "$n" ovs-vswitchd "unix:$d/db.sock" --disable-system \
        -vconsole:warn --log-file="$d/ovs-vswitchd.log" \
        --pidfile="$d/ovs-vswitchd.pid" --unixctl="$d/ovs-vswitchd.ctl" \
        --detach --no-chdir
    # br-phy carries the tunnel IP: userspace tunnelling routes and ARPs for
    # the outer header through the kernel's view of br-phy (its tap).
    lab_vsctl "$n" --timeout=10 \
        -- add-br br-phy -- set Bridge br-phy datapath_type=netdev \
        "other_config:hwaddr=$(lab_chassis_mac "$n")" \
        -- add-port br-phy "$nif" \
        -- add-br br-int -- set Bridge br-int datapath_type=netdev \
        fail_mode=secure other_config:disable-in-band=true
    ip -n "$ns" addr add "$ip/$LAB_UNDERLAY_PLEN" dev br-phy
    ip -n "$ns" link set br-phy up
    maybe_fail "chassis$n"
}

# up_all_chassis: chassis in parallel; each one's output goes to
# $LAB_DIR/.setup/hN.log, shown only when it fails.
up_all_chassis() {
    local n pids=() failed=0
    mkdir -p "$LAB_DIR/.setup"
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        # A signal meant for 'up' must not kill a half-built chassis: 'up'
        # waits for these jobs before tearing down, so nothing is created
        # behind its back.  (A handler, unlike SIG_IGN, is not inherited by
        # the daemons we exec.)
        (
            trap : INT TERM
            up_chassis "$n"
        ) >"$LAB_DIR/.setup/h$n.log" 2>&1 &
        pids[n]=$!
    done
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        if ! wait "${pids[n]}"; then
            echo "lab: chassis $n setup failed:" >&2
            sed 's/^/    /' "$LAB_DIR/.setup/h$n.log" >&2
            failed=1
        fi
    done
    ((!failed)) || lab_die "chassis setup failed"
}

# ping_ok N IP: one ping from chassis N's netns.
ping_ok() {
    ip netns exec "$(lab_ns_chassis "$1")" ping -q -n -c 1 -W 1 "$2"
}

# check_underlay_from N: chassis N reaches the central and every peer
# through br-phy, i.e. through its ovs-vswitchd.  Done before ovn-controller
# starts, so a broken underlay fails fast with a clear message instead of a
# 20 s wait for chassis that never register.
check_underlay_from() {
    local n=$1 m
    lab_wait 5 "chassis $n -> central underlay" ping_ok "$n" "$LAB_CENTRAL_IP"
    for ((m = 1; m <= LAB_CHASSIS; m++)); do
        ((m != n)) || continue
        lab_wait 5 "chassis $n -> chassis $m underlay" \
            ping_ok "$n" "$(lab_chassis_ip "$m")"
    done
}

check_underlay() {
    local n pids=() failed=0
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        check_underlay_from "$n" &
        pids[n]=$!
    done
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        wait "${pids[n]}" || failed=1
    done
    ((!failed)) || lab_die "underlay check failed"
    maybe_fail underlay
}

start_controllers() {
    local n d
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        d=$(lab_chassis_dir "$n")
        # No --unixctl (23.03 rejects it): the socket lands in OVN_RUNDIR.
        lab_exec_chassis "$n" ovn-controller "unix:$d/db.sock" \
            -vconsole:warn --log-file="$d/ovn-controller.log" \
            --pidfile="$d/ovn-controller.pid" --detach --no-chdir
    done
    maybe_fail controllers
}

sb_has_all_chassis() {
    local names
    names=$(lab_sbctl --bare --columns=name list Chassis)
    (($(grep -c . <<<"$names" || true) == LAB_CHASSIS))
}

# tunnels_ok N: chassis N has a Geneve port to every other chassis and
# ovs-vswitchd accepted all of them (an OpenFlow port number > 0).
tunnels_ok() {
    local ofports p count=0
    ofports=$(lab_vsctl "$1" --bare --columns=ofport find Interface \
        type=geneve)
    for p in $ofports; do
        ((p > 0)) || return 1
        count=$((count + 1))
    done
    ((count == LAB_CHASSIS - 1))
}

wait_ready() {
    local n
    lab_wait 20 "$LAB_CHASSIS chassis in the SB Chassis table" \
        sb_has_all_chassis
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        lab_wait 20 "Geneve tunnels on chassis $n" tunnels_ok "$n"
    done
    # Every ovn-controller has caught up with NB (and so has flows for ls0).
    lab_nbctl --timeout=20 --wait=hv sync
    maybe_fail ready
}

# warm_tunnels: ovs-vswitchd learns the MAC behind a tunnel's remote IP only
# from ARP replies it snoops once native tunnelling is on, i.e. after the
# Geneve ports exist; until then it drops the first packet to each peer and
# ARPs.  Fill its neighbour cache (br-phy MACs are fixed, lab_chassis_mac)
# and give entries the longest idle time, so a quiet test never loses its
# first packet.  Entries in use are refreshed on every lookup.
warm_tunnels() {
    local n m
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        lab_ovs_appctl "$n" tnl/neigh/aging 3600 >/dev/null
        for ((m = 1; m <= LAB_CHASSIS; m++)); do
            ((m != n)) || continue
            lab_ovs_appctl "$n" tnl/neigh/set br-phy \
                "$(lab_chassis_ip "$m")" "$(lab_chassis_mac "$m")" \
                >/dev/null
        done
    done
}

# q VALUE: VALUE single-quoted for any POSIX shell.
q() {
    printf "'%s'" "${1//\'/\'\\\'\'}"
}

# write_env: $LAB_DIR/env, a POSIX-sourceable description of the lab.
write_env() {
    local n names="" nss="" ips="" hosts="" d k
    {
        echo "# ovn-lm lab, written by test/lab/lab.sh up.  Source it."
        echo "export LAB_PREFIX=$(q "$LAB_PREFIX")"
        echo "export LAB_DIR=$(q "$LAB_DIR")"
        echo "export LAB_CHASSIS=$(q "$LAB_CHASSIS")"
        echo "export LAB_CENTRAL_NETNS=$(q "$(lab_ns_central)")"
        echo "export LAB_CENTRAL_DIR=$(q "$(lab_central_dir)")"
        echo "export LAB_CENTRAL_IP=$(q "$LAB_CENTRAL_IP")"
        echo "export LAB_NB_SOCK=$(q "$LAB_DIR/central/nb.sock")"
        echo "export LAB_SB_SOCK=$(q "$LAB_DIR/central/sb.sock")"
        echo "export LAB_NB_DB=$(q "$(lab_nb_db)")"
        echo "export LAB_SB_DB=$(q "$(lab_sb_db)")"
        echo "# Network remotes (tcp:, or ssl: with LAB_SSL=1): reachable"
        echo "# from the chassis namespaces only."
        echo "export LAB_NB_REMOTE=$(q "$(lab_nb_remote)")"
        echo "export LAB_SB_REMOTE=$(q "$(lab_sb_remote)")"
        if lab_cluster; then
            echo "# Clustered NB and SB (LAB_CLUSTER=1): lib.sh's lab_db_*."
            echo "export LAB_CLUSTER='1'"
        else
            echo "export LAB_CLUSTER='0'"
        fi
        echo "# SSL (LAB_SSL=1); empty in a plain lab."
        if lab_ssl; then
            echo "export LAB_SSL='1'"
            echo "export LAB_PKI_DIR=$(q "$(lab_pki_dir)")"
            echo "export LAB_CA_CERT=$(q "$(lab_ca_cert)")"
            echo "export LAB_WRONG_CA_CERT=$(q "$(lab_wrong_ca_cert)")"
            echo "export LAB_NB_SSL_REMOTE=$(q "$(lab_nb_remote)")"
            echo "export LAB_SB_SSL_REMOTE=$(q "$(lab_sb_remote)")"
            echo "export LAB_CENTRAL_SSL_KEY=$(q "$(lab_ssl_key central)")"
            echo "export LAB_CENTRAL_SSL_CERT=$(q "$(lab_ssl_cert central)")"
        else
            echo "export LAB_SSL='0'"
            for k in PKI_DIR CA_CERT WRONG_CA_CERT NB_SSL_REMOTE \
                SB_SSL_REMOTE CENTRAL_SSL_KEY CENTRAL_SSL_CERT; do
                echo "export LAB_$k=''"
            done
        fi
        echo "export LAB_SWITCH=$(q "$LAB_SWITCH")"
        echo "export LAB_SUBNET=$(q "$LAB_SUBNET")"
        echo "export LAB_EXCLUDE_IPS=$(q "$LAB_EXCLUDE_IPS")"
        echo "export LAB_POD_MTU=$(q "$LAB_POD_MTU")"
        echo "export LAB_UNDERLAY_MTU=$(q "$LAB_UNDERLAY_MTU")"
        for ((n = 1; n <= LAB_CHASSIS; n++)); do
            d=$(lab_chassis_dir "$n")
            echo "export LAB_H${n}_NETNS=$(q "$(lab_ns_chassis "$n")")"
            echo "export LAB_H${n}_DIR=$(q "$d")"
            echo "export LAB_H${n}_OVS_SOCK=$(q "$d/db.sock")"
            echo "export LAB_H${n}_OVS_DB=$(q "$(lab_ovs_db "$n")")"
            echo "export LAB_H${n}_CHASSIS=$(q "$(lab_chassis_name "$n")")"
            echo "export LAB_H${n}_HOSTNAME=$(q \
                "$(lab_chassis_hostname "$n")")"
            echo "export LAB_H${n}_IP=$(q "$(lab_chassis_ip "$n")")"
            echo "export LAB_H${n}_DAEMON_SOCK=$(q "$d/ovn-lm.sock")"
            echo "export LAB_H${n}_DAEMON_PIDFILE=$(q \
                "$d/ovn-controller-ext.pid")"
            echo "export LAB_H${n}_DAEMON_LOG=$(q "$d/ovn-controller-ext.log")"
            echo "export LAB_H${n}_DAEMON_CTL=$(q "$d/ovn-controller-ext.ctl")"
            if lab_ssl; then
                echo "export LAB_H${n}_SSL_KEY=$(q "$(lab_ssl_key "$n")")"
                echo "export LAB_H${n}_SSL_CERT=$(q "$(lab_ssl_cert "$n")")"
            else
                echo "export LAB_H${n}_SSL_KEY=''"
                echo "export LAB_H${n}_SSL_CERT=''"
            fi
            names+=" $(lab_chassis_name "$n")"
            hosts+=" $(lab_chassis_hostname "$n")"
            nss+=" $(lab_ns_chassis "$n")"
            ips+=" $(lab_chassis_ip "$n")"
        done
        echo "export LAB_CHASSIS_NAMES=$(q "${names# }")"
        echo "export LAB_CHASSIS_HOSTNAMES=$(q "${hosts# }")"
        echo "export LAB_CHASSIS_NETNS=$(q "${nss# }")"
        echo "export LAB_CHASSIS_IPS=$(q "${ips# }")"
        # The caller's LAB_DAEMON wins, so a test can restart with another
        # build.
        echo "if [ -z \"\${LAB_DAEMON:-}\" ]; then" \
            "LAB_DAEMON=$(q "${LAB_DAEMON:-}"); fi; export LAB_DAEMON"
        echo "if [ -z \"\${LAB_DAEMON_ARGS:-}\" ]; then" \
            "LAB_DAEMON_ARGS=$(q "${LAB_DAEMON_ARGS:-}"); fi;" \
            "export LAB_DAEMON_ARGS"
    } >"$LAB_DIR/env.tmp"
    mv "$LAB_DIR/env.tmp" "$LAB_DIR/env"
}

start_daemons() {
    local n
    [[ -n ${LAB_DAEMON:-} ]] || return 0
    for ((n = 1; n <= LAB_CHASSIS; n++)); do
        lab_daemon_start "$n"
    done
    maybe_fail daemons
}

# show_failure_logs: the run dir is about to go; keep the interesting lines.
show_failure_logs() {
    local f lines
    [[ -d $LAB_DIR ]] || return 0
    while IFS= read -r f; do
        lines=$(grep -E '\|(ERR|EMER|WARN)\|' "$f" | tail -n 5) || true
        if [[ -n $lines ]]; then
            echo "lab: ${f#"$LAB_DIR"/}:" >&2
            printf '    %s\n' "${lines//$'\n'/$'\n'    }" >&2
        fi
    done < <(find "$LAB_DIR" -name '*.log' -not -path '*/.setup/*')
}

on_up_exit() {
    local rc=$?
    if ((CLAIMED && !UP_DONE)); then
        lab_log "up failed; tearing the partial lab down"
        # Background jobs (chassis setup, pings) may still create things.
        wait || true
        show_failure_logs
        do_down || true
        ((rc)) || rc=1
    fi
    exit "$rc"
}

do_up() {
    local t0 n ssl
    CLAIMED=0
    UP_DONE=0
    LAB_PREFIX=${LAB_PREFIX:-lm$(($$ % 10000))}
    lab_resolve
    LAB_CHASSIS=${LAB_CHASSIS:-3}
    if ! [[ $LAB_CHASSIS =~ ^[0-9]+$ ]] ||
        ((LAB_CHASSIS < 1 || LAB_CHASSIS > LAB_MAX_CHASSIS)); then
        lab_die "LAB_CHASSIS='$LAB_CHASSIS': want 1..$LAB_MAX_CHASSIS"
    fi
    [[ $LAB_DIR == /* && $LAB_DIR != / ]] ||
        lab_die "LAB_DIR must be an absolute path other than /"
    case ${LAB_SSL:-0} in
    0 | '') LAB_SSL=0 ;;
    1) ;;
    *) lab_die "LAB_SSL='$LAB_SSL': want 0 or 1" ;;
    esac
    case ${LAB_CLUSTER:-0} in
    0 | '') LAB_CLUSTER=0 ;;
    1) ;;
    *) lab_die "LAB_CLUSTER='$LAB_CLUSTER': want 0 or 1" ;;
    esac
    ((!(LAB_SSL && LAB_CLUSTER))) ||
        lab_die "LAB_SSL=1 and LAB_CLUSTER=1 together are not supported"
    if [[ -n ${LAB_DAEMON:-} ]]; then
        LAB_DAEMON=$(command -v "$LAB_DAEMON") ||
            lab_die "LAB_DAEMON '$LAB_DAEMON' not found"
        LAB_DAEMON=$(realpath "$LAB_DAEMON")
        [[ -x $LAB_DAEMON ]] ||
            lab_die "LAB_DAEMON '$LAB_DAEMON' not executable"
    fi
    check_tools
    t0=$(lab_now_ms)

    trap on_up_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    claim
    maybe_fail claim
    up_pki
    up_central
    up_all_chassis
    check_underlay
    start_controllers
    wait_ready
    warm_tunnels
    write_env
    start_daemons
    UP_DONE=1

    n=$(($(lab_now_ms) - t0))
    ssl=
    ((!LAB_SSL)) || ssl=" ssl"
    ((!LAB_CLUSTER)) || ssl=" clustered NB/SB"
    printf 'lab: up: prefix=%s chassis=%s%s in %d.%03ds\n' \
        "$LAB_PREFIX" "$LAB_CHASSIS" "$ssl" $((n / 1000)) $((n % 1000))
    echo "lab: env in $LAB_DIR/env; remove with LAB_PREFIX=$LAB_PREFIX" \
        "lab.sh down"
}

# -------------------------------------------------------------- down ------

# kill_strays NS: processes still inside one of the lab's namespaces would
# keep it (and its links) alive after 'ip netns del'.  They can only be
# there because a test put them there, so they go too, loudly.
kill_strays() {
    local ns=$1 pid pids=() comm
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
        [[ $pid != "$$" && $pid != "$BASHPID" ]] || continue
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
        lab_log "stray process $pid ($comm) in netns $ns: SIGKILL"
        pids+=("$pid")
    done
    ((${#pids[@]})) || return 0
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

do_down() {
    local t0 n pidfiles=() ns link
    lab_resolve
    t0=$(lab_now_ms)

    # 1. Our processes, by PID from their pidfiles: the project's daemons,
    #    ovn-controller, ovs-vswitchd, ovsdb-servers, ovn-northd.
    if [[ -d $LAB_DIR ]]; then
        mapfile -t pidfiles < <(find "$LAB_DIR" -maxdepth 2 -name '*.pid')
        lab_stop_pidfiles "${pidfiles[@]}"
    fi

    # 2. Namespaces, which takes every veth and bridge with them (a veth
    #    dies with either end).
    while IFS= read -r ns; do
        [[ -n $ns ]] || continue
        kill_strays "$ns"
        ip netns del "$ns" 2>/dev/null || lab_log "cannot delete netns $ns"
    done < <(lab_netns_list)

    # 3. Links in the host namespace: the lab makes none, but a test may
    #    name its own ${P}-something and rely on this.
    while IFS= read -r link; do
        [[ -n $link ]] || continue
        ip link del "$link" 2>/dev/null || true
    done < <(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
        grep -E "^${LAB_PREFIX}(br|u[0-9]+|n[0-9]+|-.*)\$" || true)

    # 4. The run dir, only if it is really ours.
    if [[ -d $LAB_DIR ]]; then
        if [[ -e $LAB_DIR/$LAB_MARKER && $LAB_DIR == /* && $LAB_DIR != / ]]
        then
            rm -rf -- "$LAB_DIR"
        else
            lab_log "not removing $LAB_DIR: no $LAB_MARKER in it"
        fi
    fi

    n=$(($(lab_now_ms) - t0))
    printf 'lab: down: prefix=%s in %d.%03ds\n' "$LAB_PREFIX" \
        $((n / 1000)) $((n % 1000))
}

# ------------------------------------------------------------ status ------

do_status() {
    local f pid
    lab_load
    echo "prefix $LAB_PREFIX, dir $LAB_DIR"
    echo "netns: $(lab_netns_list | tr '\n' ' ')"
    [[ -d $LAB_DIR ]] || return 0
    if lab_ssl; then
        echo "ssl: NB $(lab_nb_remote), SB $(lab_sb_remote), CA $(lab_ca_cert)"
    fi
    if lab_cluster; then
        echo "cluster: NB leader member $(lab_db_leader nb || echo none)," \
            "SB leader member $(lab_db_leader sb || echo none)"
    fi
    while IFS= read -r f; do
        if pid=$(lab_pidfile_pid "$f"); then
            echo "running  ${f#"$LAB_DIR"/} pid $pid"
        else
            echo "stopped  ${f#"$LAB_DIR"/}"
        fi
    done < <(find "$LAB_DIR" -maxdepth 2 -name '*.pid' | sort)
    if [[ -S $LAB_DIR/central/sb.sock ]]; then
        lab_sbctl --timeout=5 show || true
    fi
}

# -------------------------------------------------------------- main ------

chassis_arg() {
    [[ ${1:-} =~ ^[0-9]+$ ]] || lab_die "want a chassis number, got '${1:-}'"
    [[ -d $(lab_chassis_dir "$1") ]] || lab_die "no chassis $1 in $LAB_DIR"
}

main() {
    local cmd=${1:-} n
    (($#)) && shift
    case $cmd in
    up) do_up ;;
    down) do_down ;;
    status) do_status ;;
    daemon-start)
        lab_load
        chassis_arg "${1:-}"
        lab_daemon_start "$1"
        ;;
    daemon-stop)
        lab_load
        chassis_arg "${1:-}"
        lab_daemon_stop "$1"
        ;;
    daemon-restart)
        lab_load
        chassis_arg "${1:-}"
        lab_daemon_stop "$1"
        lab_daemon_start "$1"
        ;;
    exec)
        lab_load
        chassis_arg "${1:-}"
        n=$1
        shift
        lab_exec_chassis "$n" "$@"
        ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
