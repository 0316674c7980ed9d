# shellcheck shell=bash
#
# lib.sh - helpers shared by lab.sh and by the tests that use the lab.
#
# Source it from bash:
#
#     . test/lab/lib.sh
#     lab_load            # picks up LAB_PREFIX / LAB_DIR and $LAB_DIR/env
#
# This file only defines variables and functions; it does not change the
# caller's shell options.  Every function is written to work under
# 'set -euo pipefail', which is what lab.sh and the tests use.
#
# Naming (P = $LAB_PREFIX, at most 6 characters of [a-z0-9], first a letter):
#   netns   ${P}c          central: NB/SB ovsdb-servers, ovn-northd, underlay
#                          Linux bridge ${P}br holding $LAB_CENTRAL_IP
#   netns   ${P}hN         chassis N: ovsdb-server, ovs-vswitchd,
#                          ovn-controller (and ovn-controller-ext)
#   netns   ${P}p-NAME     pod namespaces made by lab_pod_netns
#   netns   ${P}dI         with LAB_CLUSTER=1: database member I (1..3),
#                          holding NB and SB Raft member I at
#                          $LAB_UNDERLAY_NET.(240+I); link ${P}mI is its
#                          veth's central end (eth0 is the member's end)
#   link    ${P}uN         underlay veth, central end (port of ${P}br)
#   link    ${P}nN         underlay veth, chassis end (port of br-phy)
#   dir     $LAB_DIR       default /tmp/ovn-lm-lab-$P, holds everything else
# The prefix carries no '-', so "${P}p-" can never be another lab's prefix
# and lab.sh down can match its own names exactly.

# shellcheck disable=SC2034  # used by lab.sh, the tests and the env file
# Fixed lab constants.  Private addresses are fine: they only ever exist
# inside namespaces the lab creates.
LAB_UNDERLAY_NET=172.31.0          # chassis N is .N, central is .254
LAB_CENTRAL_IP=172.31.0.254
LAB_UNDERLAY_PLEN=24
LAB_UNDERLAY_MTU=1500
LAB_POD_MTU=1442                   # 1500 - 58 bytes of Geneve encapsulation
LAB_SWITCH=ls0
LAB_SUBNET=10.244.0.0/24
LAB_EXCLUDE_IPS=10.244.0.1         # kept free as a future gateway address
LAB_NB_PORT=6641
LAB_SB_PORT=6642
LAB_NB_RAFT_PORT=6643              # LAB_CLUSTER=1: Raft between members
LAB_SB_RAFT_PORT=6644
LAB_CLUSTER_SIZE=3
LAB_MAX_CHASSIS=99

# Debian puts ovs-vswitchd and ovsdb-server in /usr/sbin.
case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin ;;
esac

lab_die() {
    echo "lab: error: $*" >&2
    return 1
}

lab_log() {
    echo "lab: $*" >&2
}

# Time in milliseconds since the epoch; bash 5 gives it without a fork.
lab_now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# lab_valid_prefix P: succeeds if 'P' is usable as a lab prefix.  Interface
# names are at most 15 bytes, and "${P}u99" must fit.
lab_valid_prefix() {
    [[ $1 =~ ^[a-z][a-z0-9]{0,5}$ ]]
}

# lab_new_prefix: prints a random prefix that no lab on this machine uses.
# Tests should use it instead of deriving one from $$ (PIDs can have 7
# digits, and two test runs must never share a prefix).
lab_new_prefix() {
    local chars=abcdefghijklmnopqrstuvwxyz0123456789 p i
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=l
        for i in 1 2 3 4 5; do
            p+=${chars:SRANDOM % 36:1}
        done
        if [[ ! -e /tmp/ovn-lm-lab-$p && ! -e /run/netns/${p}c ]]; then
            echo "$p"
            return 0
        fi
    done
    lab_die "could not find a free prefix"
}

# lab_resolve: fills in LAB_PREFIX and LAB_DIR from each other.  With only
# LAB_DIR set, the prefix is read back from $LAB_DIR/prefix (written by up).
lab_resolve() {
    if [[ -z ${LAB_PREFIX:-} && -n ${LAB_DIR:-} && -r $LAB_DIR/prefix ]]; then
        LAB_PREFIX=$(<"$LAB_DIR/prefix")
    fi
    [[ -n ${LAB_PREFIX:-} ]] ||
        lab_die "LAB_PREFIX (or LAB_DIR of a lab) must be set" || return
    lab_valid_prefix "$LAB_PREFIX" ||
        lab_die "bad LAB_PREFIX '$LAB_PREFIX': want [a-z][a-z0-9]{0,5}" ||
        return
    LAB_DIR=${LAB_DIR:-/tmp/ovn-lm-lab-$LAB_PREFIX}
    if [[ -r $LAB_DIR/prefix && $(<"$LAB_DIR/prefix") != "$LAB_PREFIX" ]]
    then
        lab_die "$LAB_DIR belongs to lab '$(<"$LAB_DIR/prefix")'," \
            "not '$LAB_PREFIX'"
        return
    fi
    export LAB_PREFIX LAB_DIR
}

# lab_load: resolve the lab and source $LAB_DIR/env if it exists.
lab_load() {
    lab_resolve || return
    if [[ -r $LAB_DIR/env ]]; then
        # shellcheck source=/dev/null
        . "$LAB_DIR/env"
    fi
}

# --- names -----------------------------------------------------------------

lab_ns_central() { echo "${LAB_PREFIX}c"; }
lab_ns_chassis() { echo "${LAB_PREFIX}h$1"; }
lab_ns_pod() { echo "${LAB_PREFIX}p-$1"; }
lab_central_dir() { echo "$LAB_DIR/central"; }
lab_chassis_dir() { echo "$LAB_DIR/h$1"; }
lab_chassis_name() { echo "${LAB_PREFIX}-chassis-$1"; }
lab_chassis_hostname() { echo "${LAB_PREFIX}-node-$1"; }
lab_chassis_ip() { echo "$LAB_UNDERLAY_NET.$1"; }
# br-phy's MAC on chassis N: fixed, so tunnels can be pre-resolved and
# captures are readable.  Locally administered.
lab_chassis_mac() { printf '0a:00:ac:1f:00:%02x\n' "$1"; }
# The databases as the host's tools reach them: unix sockets (one per
# member, comma-separated, in a clustered lab; clients find the leader).
lab_nb_db() { lab_db_remotes nb unix; }
lab_sb_db() { lab_db_remotes sb unix; }
lab_ovs_db() { echo "unix:$LAB_DIR/h$1/db.sock"; }

# --- SSL (LAB_SSL=1) -------------------------------------------------------
#
# A lab built with LAB_SSL=1 has a PKI in $LAB_DIR/pki, made with ovs-pki:
#   pki/ca/                  ovs-pki --dir: switchca/ signs every lab
#                            certificate; controllerca/ signs nothing (a
#                            "wrong CA" for negative tests)
#   pki/central-*.pem        NB and SB ovsdb-servers (privkey, cert)
#   pki/hN-*.pem             chassis N's, for its ovn-controller and daemon
# and its NB/SB ovsdb-servers listen on pssl:6641/6642 instead of ptcp.
# The PKI directory is what says so: lab_ssl needs no environment.
lab_pki_dir() { echo "$LAB_DIR/pki"; }
lab_ssl() { [[ -d $LAB_DIR/pki/ca ]]; }
lab_ca_cert() { echo "$LAB_DIR/pki/ca/switchca/cacert.pem"; }
lab_wrong_ca_cert() { echo "$LAB_DIR/pki/ca/controllerca/cacert.pem"; }
# lab_ssl_key WHO / lab_ssl_cert WHO: WHO is a chassis number or "central".
lab_ssl_name() { if [[ $1 == central ]]; then echo central; else echo "h$1"; fi; }
lab_ssl_key() { echo "$LAB_DIR/pki/$(lab_ssl_name "$1")-privkey.pem"; }
lab_ssl_cert() { echo "$LAB_DIR/pki/$(lab_ssl_name "$1")-cert.pem"; }
# lab_ssl_args WHO: the stream-ssl options for WHO's key and certificate and
# the lab's CA, one a line (for mapfile).
lab_ssl_args() {
    printf '%s\n' "--private-key=$(lab_ssl_key "$1")" \
        "--certificate=$(lab_ssl_cert "$1")" "--ca-cert=$(lab_ca_cert)"
}
# The NB and SB remotes the chassis namespaces reach over the underlay:
# tcp: in a plain lab, ssl: in an SSL lab.
# With LAB_CLUSTER=1, every member's, comma-separated.
lab_nb_remote() {
    if lab_ssl; then echo "ssl:$LAB_CENTRAL_IP:$LAB_NB_PORT"
    else lab_db_remotes nb tcp; fi
}
lab_sb_remote() {
    if lab_ssl; then echo "ssl:$LAB_CENTRAL_IP:$LAB_SB_PORT"
    else lab_db_remotes sb tcp; fi
}

# --- clustered databases (LAB_CLUSTER=1) -----------------------------------

# lab_cluster: succeeds in a lab whose NB and SB are 3-member Raft clusters.
lab_cluster() { [[ -d $LAB_DIR/db1 ]]; }
lab_db_dir() { echo "$LAB_DIR/db$1"; }
lab_ns_db() { echo "${LAB_PREFIX}d$1"; }
lab_db_ip() { echo "$LAB_UNDERLAY_NET.$((240 + $1))"; }
# lab_db_port nb|sb [raft]
lab_db_port() {
    case $1${2:+-$2} in
    nb) echo "$LAB_NB_PORT" ;;
    sb) echo "$LAB_SB_PORT" ;;
    nb-raft) echo "$LAB_NB_RAFT_PORT" ;;
    sb-raft) echo "$LAB_SB_RAFT_PORT" ;;
    *) lab_die "lab_db_port: '$1' '${2:-}'" ;;
    esac
}
lab_db_name() {
    case $1 in nb) echo OVN_Northbound ;; sb) echo OVN_Southbound ;; esac
}

# lab_db_remotes nb|sb unix|tcp: the database's remotes, comma-separated.
lab_db_remotes() {
    local db=$1 kind=$2 i out=
    if ! lab_cluster; then
        case $kind in
        unix) echo "unix:$LAB_DIR/central/$db.sock" ;;
        tcp) echo "tcp:$LAB_CENTRAL_IP:$(lab_db_port "$db")" ;;
        esac
        return
    fi
    for ((i = 1; i <= LAB_CLUSTER_SIZE; i++)); do
        case $kind in
        unix) out+=",unix:$(lab_db_dir "$i")/$db.sock" ;;
        tcp) out+=",tcp:$(lab_db_ip "$i"):$(lab_db_port "$db")" ;;
        esac
    done
    echo "${out#,}"
}

# lab_db_pidfile nb|sb I, lab_db_ctl nb|sb I: member I's files.
lab_db_pidfile() { echo "$(lab_db_dir "$2")/ovsdb-$1.pid"; }
lab_db_ctl() { echo "$(lab_db_dir "$2")/ovsdb-$1.ctl"; }

# lab_db_status nb|sb I: member I's 'cluster/status' (fails if it is down).
lab_db_status() {
    ovs-appctl -t "$(lab_db_ctl "$1" "$2")" cluster/status \
        "$(lab_db_name "$1")" 2>/dev/null
}

# lab_db_leader nb|sb: the index of the member that is leader now, as
# the members themselves say; fails if none is.
lab_db_leader() {
    local i
    for ((i = 1; i <= LAB_CLUSTER_SIZE; i++)); do
        if lab_db_status "$1" "$i" | grep -qx 'Role: leader'; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

# lab_db_has_leader nb|sb: a leader exists and every running member
# knows of it (its 'Leader:' line names a server, not "unknown").
lab_db_has_leader() {
    local i st
    lab_db_leader "$1" >/dev/null || return 1
    for ((i = 1; i <= LAB_CLUSTER_SIZE; i++)); do
        lab_pidfile_pid "$(lab_db_pidfile "$1" "$i")" >/dev/null || continue
        st=$(lab_db_status "$1" "$i") || return 1
        grep -q '^Leader: unknown' <<<"$st" && return 1
    done
    return 0
}

# lab_db_start nb|sb I: starts member I's ovsdb-server on its database
# file (a member that was killed rejoins the cluster with its log).
lab_db_start() {
    local db=$1 i=$2 d
    d=$(lab_db_dir "$i")
    ip netns exec "$(lab_ns_db "$i")" ovsdb-server "$d/$db.db" \
        --remote="punix:$d/$db.sock" \
        --remote="ptcp:$(lab_db_port "$db"):$(lab_db_ip "$i")" \
        -vconsole:off -vfile:info -vfile:raft:info \
        --log-file="$d/ovsdb-$db.log" \
        --pidfile="$(lab_db_pidfile "$db" "$i")" \
        --unixctl="$(lab_db_ctl "$db" "$i")" \
        --detach --no-chdir
}

# lab_db_kill nb|sb I: SIGKILLs member I's ovsdb-server, by PID.
lab_db_kill() {
    local pid
    pid=$(lab_pidfile_pid "$(lab_db_pidfile "$1" "$2")") || return 0
    kill -KILL "$pid"
    lab_wait 5 "ovsdb-server $1 member $2 to die" \
        bash -c "! kill -0 $pid 2>/dev/null"
}

# lab_db_partition I / lab_db_heal I: cuts member I (NB and SB) off the
# underlay by taking its link down inside its namespace, and back.
lab_db_partition() { ip -n "$(lab_ns_db "$1")" link set eth0 down; }
lab_db_heal() { ip -n "$(lab_ns_db "$1")" link set eth0 up; }

# lab_is_lab_netns NAME: succeeds if netns 'NAME' belongs to this lab.
# Exact patterns, so prefix "lm1" never matches lab "lm12"'s "lm12h1".
lab_is_lab_netns() {
    [[ $1 =~ ^${LAB_PREFIX}(c|u|h[0-9]+|d[0-9]+|p-.+)$ ]]
}

# lab_netns_list: prints this lab's network namespaces, one a line.
lab_netns_list() {
    local ns
    [[ -d /run/netns ]] || return 0
    for ns in /run/netns/*; do
        ns=${ns##*/}
        if lab_is_lab_netns "$ns"; then
            echo "$ns"
        fi
    done
}

# --- running things --------------------------------------------------------

# lab_chassis_env N: prints the environment that keeps chassis N's OVS and
# OVN tools out of the system's /var/run, /var/log, /etc: every daemon,
# appctl and vsctl finds its sockets and pidfiles under $LAB_DIR/hN.
lab_chassis_env() {
    local d
    d=$(lab_chassis_dir "$1")
    printf '%s\n' "OVS_RUNDIR=$d" "OVS_LOGDIR=$d" "OVS_DBDIR=$d" \
        "OVS_SYSCONFDIR=$d" "OVN_RUNDIR=$d" "OVN_LOGDIR=$d" "OVN_DBDIR=$d" \
        "OVN_SYSCONFDIR=$d"
}

lab_central_env() {
    local d
    d=$(lab_central_dir)
    printf '%s\n' "OVS_RUNDIR=$d" "OVS_LOGDIR=$d" "OVS_DBDIR=$d" \
        "OVS_SYSCONFDIR=$d" "OVN_RUNDIR=$d" "OVN_LOGDIR=$d" "OVN_DBDIR=$d" \
        "OVN_SYSCONFDIR=$d"
}

# lab_exec_chassis N CMD...: runs 'CMD' inside chassis N's netns with its
# OVS/OVN environment.
lab_exec_chassis() {
    local n=$1 envs
    shift
    mapfile -t envs < <(lab_chassis_env "$n")
    ip netns exec "$(lab_ns_chassis "$n")" env "${envs[@]}" "$@"
}

# lab_exec_central CMD...: runs 'CMD' inside the central netns.
lab_exec_central() {
    local envs
    mapfile -t envs < <(lab_central_env)
    ip netns exec "$(lab_ns_central)" env "${envs[@]}" "$@"
}

# lab_exec_pod NAME CMD...: runs 'CMD' inside pod netns ${P}p-NAME.
lab_exec_pod() {
    local name=$1
    shift
    ip netns exec "$(lab_ns_pod "$name")" "$@"
}

# Database clients.  They talk over unix sockets, so they need no netns.
lab_nbctl() { lab_dbctl ovn-nbctl "$(lab_nb_db)" "$@"; }
lab_sbctl() { lab_dbctl ovn-sbctl "$(lab_sb_db)" "$@"; }

# lab_dbctl TOOL DB ARGS...: TOOL --db=DB ARGS.  The ctl tools give up on
# the first remote they cannot connect to, even with several remotes; in
# a clustered lab, where a test may have killed one member, "database
# connection failed" (nothing was sent yet) is tried again, up to 10 times.
lab_dbctl() {
    local tool=$1 db=$2 i out rc err
    shift 2
    if [[ $db != *,* ]]; then
        "$tool" --db="$db" "$@"
        return
    fi
    err=$(mktemp)
    for ((i = 0; i < 10; i++)); do
        rc=0
        out=$("$tool" --db="$db" "$@" 2>"$err") || rc=$?
        if ((rc == 0)) || ! grep -q 'database connection failed' "$err"; then
            break
        fi
        sleep 0.1
    done
    cat "$err" >&2
    rm -f "$err"
    [[ -z $out ]] || printf '%s\n' "$out"
    return "$rc"
}

# lab_vsctl N ARGS...: ovs-vsctl against chassis N's Open_vSwitch db.
lab_vsctl() {
    local n=$1
    shift
    ovs-vsctl --db="$(lab_ovs_db "$n")" "$@"
}

# lab_ofctl N CMD [ARGS...]: ovs-ofctl on chassis N's br-int, e.g.
# 'lab_ofctl 1 dump-flows'.  Talks to the bridge's management socket.
lab_ofctl() {
    local n=$1 cmd=$2
    shift 2
    ovs-ofctl -O OpenFlow15 "$cmd" \
        "unix:$(lab_chassis_dir "$n")/br-int.mgmt" "$@"
}

# lab_ovs_appctl N ARGS...: ovs-appctl to chassis N's ovs-vswitchd.
lab_ovs_appctl() {
    local n=$1
    shift
    ovs-appctl -t "$(lab_chassis_dir "$n")/ovs-vswitchd.ctl" "$@"
}

# lab_ovn_appctl N ARGS...: ovn-appctl to chassis N's ovn-controller.
# ovn-controller 23.03 has no --unixctl; its socket is found through the
# pidfile in OVN_RUNDIR.
lab_ovn_appctl() {
    local n=$1 envs
    shift
    mapfile -t envs < <(lab_chassis_env "$n")
    env "${envs[@]}" ovn-appctl -t ovn-controller "$@"
}

# lab_wait TIMEOUT_S DESC CMD...: polls 'CMD' every 50 ms until it succeeds
# or 'TIMEOUT_S' seconds pass.  Polling beats fixed sleeps: the lab is up as
# soon as it is ready, and slow machines just take longer.
lab_wait() {
    local timeout=$1 desc=$2 deadline
    shift 2
    deadline=$(($(lab_now_ms) + timeout * 1000))
    until "$@" >/dev/null 2>&1; do
        if (($(lab_now_ms) > deadline)); then
            lab_die "timed out after ${timeout}s waiting for $desc"
            return 1
        fi
        sleep 0.05
    done
}

# --- processes -------------------------------------------------------------

# lab_pid_alive PID: succeeds if process 'PID' exists and is not a zombie.
# Daemons are reparented to PID 1, and some container inits reap only every
# second or two: 'kill -0' would call a dead daemon alive until then.
lab_pid_alive() {
    local stat
    # Not $(<file): with errexit, bash exits on its redirection failure even
    # inside an 'if'.
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != [ZX] ]]
}

# lab_pid_in_lab_netns PID: succeeds if process 'PID' lives in one of this
# lab's network namespaces.
lab_pid_in_lab_netns() {
    local ns inode
    ns=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
    while IFS= read -r inode; do
        [[ $ns != "net:[$inode]" ]] || return 0
    done < <(lab_netns_list | sed 's|^|/run/netns/|' |
        xargs -r stat -L -c %i 2>/dev/null)
    return 1
}

# lab_pidfile_pid FILE: prints the PID in pidfile 'FILE' if that process is
# alive and is one of this lab's: its command line names $LAB_DIR/ (every
# process the lab starts gets --pidfile=$LAB_DIR/...), or, for a daemon
# that rewrites its process title, it runs in one of the lab's namespaces.
# This guards against a stale pidfile whose PID now belongs to someone else.
lab_pidfile_pid() {
    local file=$1 pid cmdline
    [[ -r $file ]] || return 1
    pid=$(cat "$file" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    lab_pid_alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"$LAB_DIR/"* ]] || lab_pid_in_lab_netns "$pid" || return 1
    echo "$pid"
}

# lab_stop_pidfiles FILE...: stops the processes named by pidfiles 'FILE'
# (SIGTERM, then SIGKILL after 3 s).  Missing or stale pidfiles are fine.
lab_stop_pidfiles() {
    local f pid pids=() deadline left
    for f in "$@"; do
        if pid=$(lab_pidfile_pid "$f"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    ((${#pids[@]})) || return 0
    deadline=$(($(lab_now_ms) + 3000))
    while :; do
        left=()
        for pid in "${pids[@]}"; do
            if lab_pid_alive "$pid"; then
                left+=("$pid")
            fi
        done
        ((${#left[@]})) || return 0
        if (($(lab_now_ms) > deadline)); then
            lab_log "SIGKILL to ${left[*]} (did not exit on SIGTERM)"
            kill -KILL "${left[@]}" 2>/dev/null || true
            return 0
        fi
        sleep 0.02
    done
}

# --- the project's daemon --------------------------------------------------

lab_daemon_pidfile() { echo "$(lab_chassis_dir "$1")/ovn-controller-ext.pid"; }

# lab_daemon_start N: starts $LAB_DAEMON (ovn-controller-ext) in chassis N,
# with the lab's paths and the words of $LAB_DAEMON_ARGS appended.  In an
# SSL lab it reaches NB at ssl:$LAB_CENTRAL_IP:6641 with chassis N's key and
# certificate (and SB, through external_ids:ovn-remote, with the same);
# otherwise NB is the unix socket.  Fails if it is already running.  Waits
# until its pidfile names a live process.
lab_daemon_start() {
    local n=$1 d nb extra=() ssl=() pidfile
    [[ -n ${LAB_DAEMON:-} ]] || lab_die "LAB_DAEMON is not set" || return
    [[ -x $LAB_DAEMON ]] ||
        lab_die "LAB_DAEMON '$LAB_DAEMON' is not executable" || return
    [[ -d $(lab_chassis_dir "$n") ]] ||
        lab_die "no chassis $n in $LAB_DIR" || return
    d=$(lab_chassis_dir "$n")
    nb=$(lab_nb_db)
    if lab_ssl; then
        nb=$(lab_nb_remote)
        mapfile -t ssl < <(lab_ssl_args "$n")
    elif lab_cluster; then
        # Every member over the underlay, as on a real node.
        nb=$(lab_nb_remote)
    fi
    pidfile=$(lab_daemon_pidfile "$n")
    if lab_pidfile_pid "$pidfile" >/dev/null; then
        lab_die "ovn-controller-ext already runs on chassis $n" \
            "(pid $(lab_pidfile_pid "$pidfile"))"
        return
    fi
    # In LAB_DAEMON_ARGS, {n} is the chassis number and {node} its
    # hostname (a Kubernetes node name).
    read -r -a extra <<<"${LAB_DAEMON_ARGS:-}"
    extra=("${extra[@]//\{n\}/$n}")
    extra=("${extra[@]//\{node\}/$(lab_chassis_hostname "$n")}")
    lab_exec_chassis "$n" "$LAB_DAEMON" \
        --ovs-db="unix:$d/db.sock" \
        --ovn-nb-db="$nb" \
        --socket="$d/ovn-lm.sock" \
        --pidfile="$pidfile" \
        --log-file="$d/ovn-controller-ext.log" \
        --unixctl="$d/ovn-controller-ext.ctl" \
        "${ssl[@]}" --detach "${extra[@]}" || {
        lab_die "ovn-controller-ext failed to start on chassis $n" \
            "(see $d/ovn-controller-ext.log)"
        return
    }
    # --detach returns once the daemon is ready, so this should pass at
    # once; the wait only covers daemons that write the pidfile late.
    lab_wait 5 "ovn-controller-ext pidfile on chassis $n" \
        lab_pidfile_pid "$pidfile"
}

# lab_daemon_stop N: stops chassis N's ovn-controller-ext by PID.  Not
# running is not an error.
lab_daemon_stop() {
    lab_stop_pidfiles "$(lab_daemon_pidfile "$1")"
}

# --- pods ------------------------------------------------------------------

# lab_pod_netns NAME: creates netns ${P}p-NAME with lo up and prints its path
# (/run/netns/...), as a CNI runtime would pass it in CNI_NETNS.  Fails if
# it exists: a leftover namespace means a test leaked one.
lab_pod_netns() {
    local ns
    ns=$(lab_ns_pod "$1")
    [[ ! -e /run/netns/$ns ]] || lab_die "netns $ns already exists" || return
    ip netns add "$ns" || return
    ip -n "$ns" link set lo up || return
    echo "/run/netns/$ns"
}

# lab_pod_netns_del NAME: deletes pod netns ${P}p-NAME (and so its links).
lab_pod_netns_del() {
    local ns
    ns=$(lab_ns_pod "$1")
    [[ ! -e /run/netns/$ns ]] || ip netns del "$ns"
}

# lab_pod_attach N NAME IFACE_ID MAC IP/PLEN [HOST_IF]: plumbs pod netns
# ${P}p-NAME into chassis N by hand, the way a CNI plugin would: a veth with
# eth0 in the pod and 'HOST_IF' (default v-NAME, at most 15 bytes) in the
# chassis netns on br-int with external_ids:iface-id='IFACE_ID'.  MTU is
# $LAB_POD_MTU on both ends and tx checksum offload is off on both ends: the
# userspace datapath reads frames with AF_PACKET and would forward
# never-filled checksums otherwise.  Does not wait for ovn-installed.
lab_pod_attach() {
    local n=$1 name=$2 iface_id=$3 mac=$4 ip=$5 host_if=${6:-v-$2}
    local hns pns
    hns=$(lab_ns_chassis "$n")
    pns=$(lab_ns_pod "$name")
    ((${#host_if} <= 15)) ||
        lab_die "interface name '$host_if' is longer than 15 bytes" || return
    ip -n "$hns" link add "$host_if" mtu "$LAB_POD_MTU" type veth \
        peer name eth0 netns "$pns" mtu "$LAB_POD_MTU" || return
    ip netns exec "$hns" ethtool -K "$host_if" tx off >/dev/null || return
    ip netns exec "$pns" ethtool -K eth0 tx off >/dev/null || return
    ip -n "$pns" link set eth0 address "$mac" || return
    ip -n "$pns" addr add "$ip" dev eth0 || return
    ip -n "$pns" link set eth0 up || return
    ip -n "$hns" link set "$host_if" up || return
    lab_vsctl "$n" --timeout=10 add-port br-int "$host_if" \
        -- set Interface "$host_if" "external_ids:iface-id=$iface_id"
}

# lab_ovn_installed N IFNAME: succeeds if ovn-controller on chassis N has
# finished installing flows for interface 'IFNAME'.
lab_ovn_installed() {
    local v
    v=$(lab_vsctl "$1" --if-exists get Interface "$2" \
        external_ids:ovn-installed 2>/dev/null) || return 1
    [[ $v == '"true"' || $v == true ]]
}

# lab_wait_ovn_installed N IFNAME [TIMEOUT_S]
lab_wait_ovn_installed() {
    lab_wait "${3:-10}" "ovn-installed on $2 (chassis $1)" \
        lab_ovn_installed "$1" "$2"
}
