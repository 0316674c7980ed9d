#!/bin/bash
# OVN NB and SB over SSL: a lab built with LAB_SSL=1 (test/lab/README.md:
# a PKI made with ovs-pki, ovsdb-servers on pssl:6641/6642, every
# ovn-controller on ssl:), ovn-controller-ext on every chassis with
# --ovn-nb-db=ssl:... and its chassis's key and certificate, pods attached
# through the ovn-lm CNI binary exactly as a runtime does.  A daemon given
# the wrong CA must stay out, and say why; no log may hold key material.
#
# usage: lab-ssl.sh OVN-LM-BINARY DAEMON-BINARY

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
command -v ovs-pki >/dev/null || {
    echo "SKIP: ovs-pki not found (Debian: openvswitch-common)"
    exit 77
}

# lab-common.sh brings the lab up with whatever LAB_* is in the environment.
export LAB_SSL=1
. "$(dirname "$0")/lab-common.sh" "$@"

ctl() { ovs-appctl -t "$(lab_var "LAB_H$1_DAEMON_CTL")" "${@:2}"; }

# on_ssl N: chassis N's daemon is connected to NB and SB, both over ssl:.
on_ssl() {
    local s
    s=$(ctl "$1" ovn-lm/connection-status) || return 1
    grep -qxF "OVN_Northbound: connected ($LAB_NB_SSL_REMOTE)" <<<"$s" &&
        grep -qxF "OVN_Southbound: connected ($LAB_SB_SSL_REMOTE)" <<<"$s"
}

# env_ok: the env file describes an SSL lab.
env_ok() {
    [ "$LAB_SSL" = 1 ] && [ "$LAB_PKI_DIR" = "$LAB_DIR/pki" ] &&
        [ "$LAB_NB_SSL_REMOTE" = "ssl:$LAB_CENTRAL_IP:6641" ] &&
        [ "$LAB_SB_SSL_REMOTE" = "ssl:$LAB_CENTRAL_IP:6642" ] &&
        [ "$LAB_SB_REMOTE" = "$LAB_SB_SSL_REMOTE" ] &&
        [ -r "$LAB_CA_CERT" ] && [ -r "$LAB_WRONG_CA_CERT" ]
}

# plain_refused: a plain TCP client on NB's port gets no answer.
plain_refused() {
    ! lab_exec_chassis 1 ovn-nbctl --db="tcp:$LAB_CENTRAL_IP:6641" \
        --timeout=2 ls-list >/dev/null 2>&1
}

pid_gone() { ! lab_pid_alive "$1"; }

# --- The lab's PKI and OVN's own SSL connections -----------------------------
t_begin pki
t_check "env describes an SSL lab" env_ok
certs=("$LAB_CENTRAL_SSL_CERT")
keys=("$LAB_CENTRAL_SSL_KEY")
for ((n = 1; n <= LAB_CHASSIS; n++)); do
    certs+=("$(lab_var "LAB_H${n}_SSL_CERT")")
    keys+=("$(lab_var "LAB_H${n}_SSL_KEY")")
done
# verifies CA CERT...: every CERT verifies against CA.
verifies() { openssl verify -CAfile "$1" "${@:2}" >/dev/null 2>&1; }
# none_verifies CA CERT...: no CERT does.
none_verifies() {
    local c
    for c in "${@:2}"; do
        ! verifies "$1" "$c" || return 1
    done
}
t_check "every certificate verifies against the lab's CA" \
    verifies "$LAB_CA_CERT" "${certs[@]}"
t_check "and none against the wrong CA" \
    none_verifies "$LAB_WRONG_CA_CERT" "${certs[@]}"
t_check "private keys are mode 0600" \
    [ "$(stat -c %a "${keys[@]}" | sort -u)" = 600 ]
t_check "ovn-remote is ssl:" \
    [ "$(lab_vsctl 1 get Open_vSwitch . external_ids:ovn-remote)" = "\"$LAB_SB_SSL_REMOTE\"" ]
t_check "the SSL table holds chassis 2's key" \
    bash -c "ovs-vsctl --db=$LAB_H2_OVS_DB get-ssl | grep -qxF 'Private key: $LAB_H2_SSL_KEY'"
remotes=$(ovs-appctl -t "$LAB_CENTRAL_DIR/ovsdb-nb.ctl" ovsdb-server/list-remotes; ovs-appctl -t "$LAB_CENTRAL_DIR/ovsdb-sb.ctl" ovsdb-server/list-remotes)
t_check "NB and SB listen on pssl:, not on ptcp:" \
    [ "$(grep -E '^p(ssl|tcp):' <<<"$remotes" | sort | tr '\n' ' ')" = "pssl:6641:$LAB_CENTRAL_IP pssl:6642:$LAB_CENTRAL_IP " ]
t_check "ovn-controller on chassis 1 is connected" \
    [ "$(lab_ovn_appctl 1 connection-status)" = connected ]
t_check "SB has every chassis (ovn-controllers over SSL)" \
    [ "$(lab_sbctl --bare --columns=name list Chassis | grep -c .)" = "$LAB_CHASSIS" ]
t_check "an SSL client with a lab certificate reads NB" \
    [ "$(lab_exec_chassis 1 ovn-nbctl --db="$LAB_NB_SSL_REMOTE" \
        --private-key="$LAB_H1_SSL_KEY" --certificate="$LAB_H1_SSL_CERT" \
        --ca-cert="$LAB_CA_CERT" --timeout=10 --bare --columns=name \
        list Logical_Switch 2>/dev/null)" = "$LAB_SWITCH" ]
t_check "a plain TCP client gets nothing" plain_refused

# --- The daemons, on ssl: ----------------------------------------------------
t_begin daemon
for ((n = 1; n <= LAB_CHASSIS; n++)); do
    t_check "daemon $n: NB and SB connected over ssl:" \
        lab_wait 10 "daemon $n on ssl:" on_ssl "$n"
done
t_check "it was started with chassis 1's key" \
    bash -c "tr '\0' '\n' </proc/$(lab_pidfile_pid "$LAB_H1_DAEMON_PIDFILE")/cmdline | grep -qxF -- '--private-key=$LAB_H1_SSL_KEY'"

# --- Pods on two chassis ------------------------------------------------------
t_begin connectivity
cni_add_pod 1 a && IP_A=$POD_IP && t_ok "ADD a on chassis 1 ($IP_A)" || t_fail "ADD a"
cni_add_pod 2 b && IP_B=$POD_IP && t_ok "ADD b on chassis 2 ($IP_B)" || t_fail "ADD b"
t_check "a pings b (chassis 1 -> 2)" pod_ping a "${IP_B:-x}"
t_check "b pings a (chassis 2 -> 1)" pod_ping b "${IP_A:-x}"
t_check "the daemon lists a, installed" bash -c "ovs-appctl -t $LAB_H1_DAEMON_CTL ovn-lm/list-ports | grep -q 'port=default_a .*installed=true'"
cni_run STATUS "" "" "" "" "$(cni_conf 1 '{"cniVersion": "1.1.0"}')"
t_check "STATUS on chassis 1 succeeds" [ "$CNI_RC" = 0 ]

# --- A daemon with the wrong CA ---------------------------------------------
# A second instance in chassis 3's namespace, on its own socket, control
# socket, pidfile and log (named so that the checks of the lab's daemons'
# logs leave it out), without metrics (chassis 3's daemon has the port).
# It has chassis 3's key and certificate, which the servers accept, but
# trusts a CA that did not sign the servers' certificate.
t_begin wrong-ca
bad=$LAB_H3_DIR/ovn-controller-ext-badca
bad_sock=$LAB_H3_DIR/ovn-lm-badca.sock
lab_exec_chassis 3 "$LAB_DAEMON" --ovs-db="$LAB_H3_OVS_DB" \
    --ovn-nb-db="$LAB_NB_SSL_REMOTE" --socket="$bad_sock" \
    --pidfile="$bad.pid" --log-file="$bad.log" --unixctl="$bad.ctl" \
    --metrics-address=none --private-key="$LAB_H3_SSL_KEY" \
    --certificate="$LAB_H3_SSL_CERT" --ca-cert="$LAB_WRONG_CA_CERT" --detach
BAD_PID=$(lab_wait 5 "badca pidfile" lab_pidfile_pid "$bad.pid" &&
    lab_pidfile_pid "$bad.pid") && t_ok "started (pid $BAD_PID)" ||
    t_fail "the wrong-CA daemon did not start"
t_check "its log shows the SSL error, for NB and for SB" \
    lab_wait 10 "SSL errors in $bad.log" bash -c "
        grep -q 'stream_ssl|WARN|SSL_connect: .*certificate verify failed' '$bad.log' &&
        grep -q 'ssl:$LAB_CENTRAL_IP:6641: connection attempt failed' '$bad.log' &&
        grep -q 'ssl:$LAB_CENTRAL_IP:6642: connection attempt failed' '$bad.log'"
status=$(ovs-appctl -t "$bad.ctl" ovn-lm/connection-status)
t_check "connection-status: NB and SB not connected" \
    bash -c 'grep -qxF "OVN_Northbound: not connected ($2)" <<<"$1" && grep -qxF "OVN_Southbound: not connected ($3)" <<<"$1"' \
    _ "$status" "$LAB_NB_SSL_REMOTE" "$LAB_SB_SSL_REMOTE"
cni_run STATUS "" "" "" "" "$(cni_conf 3 "{\"cniVersion\": \"1.1.0\", \"socket\": \"$bad_sock\"}")"
t_check "STATUS through it: code 50 ($(json_get "${CNI_OUT:-{\}}" 'j.get("msg")'))" \
    [ "$(cni_code)" = 50 ]
t_check "the NB server saw the handshake refused" \
    grep -q 'SSL_accept: .*unknown ca' "$LAB_CENTRAL_DIR/ovsdb-nb.log"
# Failing to connect must not cost CPU: the daemon should sleep between
# reconnect attempts.
if t0=$(cpu_ticks "${BAD_PID:-x}"); then
    sleep 1
    ticks=$(($(cpu_ticks "$BAD_PID") - t0))
    t_check "while disconnected it is idle ($ticks of $(getconf CLK_TCK) clock ticks in 1 s)" \
        [ "$ticks" -lt 20 ]
    # How often the loop woke, and for what, if it was busy.
    [ "$ticks" -lt 20 ] ||
        ovs-appctl -t "$bad.ctl" coverage/show | grep -E 'poll_|txn_' >&2
fi
t_check "chassis 3's own daemon stays connected" on_ssl 3
if [ -n "${BAD_PID:-}" ]; then
    kill -TERM "$BAD_PID"
    t_check "stopped by PID" lab_wait 5 "pid $BAD_PID to exit" pid_gone "$BAD_PID"
fi

# --- daemon-restart keeps SSL -------------------------------------------------
# With file logging at debug level, so that the key check below also covers
# what stream-ssl and jsonrpc log while connecting.
t_begin restart
LAB_DAEMON_ARGS=-vfile:dbg "$LAB_SH" daemon-restart 2 >/dev/null &&
    t_ok "lab.sh daemon-restart 2" || t_fail "lab.sh daemon-restart 2"
t_check "the restarted daemon is on ssl: again" lab_wait 10 "daemon 2 on ssl:" on_ssl 2
cni_add_pod 2 c && IP_C=$POD_IP && t_ok "ADD c on chassis 2 through it" || t_fail "ADD c"
t_check "c pings a (chassis 2 -> 1)" pod_ping c "${IP_A:-x}"
t_check "a pings c (chassis 1 -> 2)" pod_ping a "${IP_C:-x}"
t_check "it logged the SSL handshake at debug level" \
    grep -q 'stream_ssl|DBG|' "$LAB_H2_DAEMON_LOG"

# --- DEL --------------------------------------------------------------------
t_begin del
for p in a:1 b:2 c:2; do
    cni_run DEL "cid-${p%:*}" "/run/netns/$(lab_ns_pod "${p%:*}")" eth0 \
        "K8S_POD_NAMESPACE=default;K8S_POD_NAME=${p%:*}" "$(cni_conf "${p#*:}")"
    t_check "DEL ${p%:*}" [ "$CNI_RC" = 0 ]
done
t_check "no logical port left" \
    [ -z "$(lab_nbctl --bare --columns=name find Logical_Switch_Port 'external_ids:"ovn-lm/container-id"!=""')" ]

# --- Nothing left ------------------------------------------------------------
t_begin leaks
left=$(leaks)
t_check "no veth, OVS port, logical port or record left${left:+: $left}" [ -z "$left" ]
t_check "the lab's daemons logged no ERR" \
    bash -c "! grep -h '|ERR|' $LAB_DIR/h*/ovn-controller-ext.log"
lab_daemons_exit

# --- No key material in any log ------------------------------------------------
# Every line of every private key (the lab's and the CAs'), and the PEM
# markers, searched for in the daemons' logs (the wrong-CA one included)
# and in every other log of the lab.
t_begin secrets
pats=$(mktemp)
cat "${keys[@]}" "$LAB_PKI_DIR"/ca/*/private/cakey.pem |
    grep -v -e '^-----' -e '^$' >"$pats"
echo 'PRIVATE KEY' >>"$pats"
t_check "$(grep -c . "$pats") patterns from $((${#keys[@]} + 2)) keys" \
    [ "$(grep -c . "$pats")" -gt $((10 * ${#keys[@]})) ]
daemon_logs=("$LAB_DIR"/h*/ovn-controller-ext*.log)
t_check "none in the daemons' logs (${#daemon_logs[@]} files, $(cat "${daemon_logs[@]}" | wc -l) lines)" \
    bash -c '! grep -F -f "$@"' _ "$pats" "${daemon_logs[@]}"
mapfile -t other_logs < <(find "$LAB_DIR" -name '*.log' ! -name 'ovn-controller-ext*.log')
t_check "none in the lab's other logs (${#other_logs[@]} files)" \
    bash -c '! grep -F -f "$@"' _ "$pats" "${other_logs[@]}"
rm -f "$pats"

t_summary
