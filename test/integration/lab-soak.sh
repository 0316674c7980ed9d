#!/bin/bash
# Idempotence and leak soak.  In one lab (three chassis, the daemon on each),
# SOAK_OPS seeded random CNI operations over a pool of SOAK_PODS pods spread
# across the chassis, the ovn-lm binary invoked exactly as a runtime does:
#
#   ADD        new pod (new netns, random chassis), a pod's second interface
#              (eth1), sometimes with a static IP (CNI_ARGS IP or
#              runtimeConfig ips) from a free pool or a static MAC; an ADD of
#              an attachment that already exists (same container id and
#              ifname again); an ADD of a static IP or MAC another attachment
#              holds (code 100, nothing changes)
#   CHECK      with the prevResult of its ADD, cniVersion 1.0.0 (succeeds
#              while attached; fails with 104 once deleted)
#   DEL        with prevResult, without, twice, with an empty CNI_NETNS,
#              after the pod's netns was deleted
#   GC         cniVersion 1.1.0 on one chassis, listing the network's valid
#              attachments (all chassis share network "ovnlm" and the state
#              directory) minus a few of that chassis's, which it removes;
#              sometimes one of another chassis's is left out as well: its
#              record goes (the plugin's records are per network, not per
#              chassis) but the attachment stays (GC removes only this
#              chassis's attachments)
#   BURST      four concurrent ADDs of different pods; sometimes two of them
#              ask for the same static IP: exactly one gets it (then both
#              are DELeted, so that the run does not depend on which)
#
# The script keeps a model of what should be attached where, with which IP
# and MAC, and checks every exit code, error code and result against it.
# Every SOAK_AUDIT_EVERY operations, at the end, and after deleting
# everything it compares the model with what exists: veths in the chassis
# namespaces, OVS ports and interfaces on br-int, Northbound logical ports,
# the interfaces inside the pods, the plugin's attachment records, each
# daemon's ovn-lm/list-ports and ovn_lm_ports gauge.  Nothing is timed.
#
# usage: lab-soak.sh OVN-LM-BINARY DAEMON-BINARY
#   SOAK_SEED=N           seed (printed; random by default): a seed replays
#                         the same operations
#   SOAK_OPS=N            operations (default 1000)
#   SOAK_PODS=N           pod pool (default 20)
#   SOAK_AUDIT_EVERY=N    compare with reality every N operations (200)
#   SOAK_VERBOSE=1        print every operation
. "$(dirname "$0")/lab-common.sh" "$@"

T0=$EPOCHREALTIME
SOAK_SEED=${SOAK_SEED:-$((SRANDOM % 1000000))}
OPS=${SOAK_OPS:-1000}
NPODS=${SOAK_PODS:-20}
AUDIT_EVERY=${SOAK_AUDIT_EVERY:-200}
VERBOSE=${SOAK_VERBOSE:-0}
MAX_FAIL=20
for v in SOAK_SEED OPS NPODS AUDIT_EVERY; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a number"; exit 2; }
done
((NPODS >= 4 && NPODS <= 99)) || { echo "SOAK_PODS must be 4..99"; exit 2; }
echo "seed $SOAK_SEED ($OPS operations, $NPODS pods, audit every $AUDIT_EVERY; replay: SOAK_SEED=$SOAK_SEED)"
RANDOM=$SOAK_SEED

STATE=$LAB_DIR/cni-state
WORK=$LAB_DIR/soak
mkdir -p "$WORK"
ERRF=$WORK/stderr
NET=ovnlm
K8S_NS=default
# Static addresses come from .200-.254, which OVN's dynamic addressing is
# told to leave alone, so that a "free" static IP is free whatever northd
# hands out meanwhile.  Dynamic ones are then .2-.199.
STATIC_LO=200 STATIC_HI=254
lab_nbctl --wait=sb set Logical_Switch "$LAB_SWITCH" \
    other_config:exclude_ips="\"$LAB_EXCLUDE_IPS 10.244.0.$STATIC_LO..10.244.0.$STATIC_HI\""

declare -a CH_NS CH_SOCK
for ((n = 1; n <= LAB_CHASSIS; n++)); do
    CH_NS[n]=$(lab_var "LAB_H${n}_NETNS")
    CH_SOCK[n]=$(lab_var "LAB_H${n}_DAEMON_SOCK")
done

# ---- The model ----------------------------------------------------------
# Pods: PNS[p]=1 while its netns exists, PCH[p] its chassis, PCID[p] its
# container id (a new one with each new netns).
# Attachments, by "CID:IFNAME": A_POD, A_IF, A_CH, A_IP, A_MAC, A_HOST
# (host veth), A_RES (the ADD's result, the prevResult of CHECK/DEL),
# A_ARGS/A_RC (CNI_ARGS and runtimeConfig of the ADD, for ADDing it again),
# A_REC (1 when its attachment record should exist).  IP_HELD/MAC_HELD map
# addresses to the attachment holding them.  D_RES: results of deleted
# attachments, for CHECKs that must fail.
declare -A PNS PCH PCID PGEN
declare -A A_POD A_IF A_CH A_IP A_MAC A_HOST A_RES A_ARGS A_RC A_REC
declare -A IP_HELD MAC_HELD D_RES OPC
PODS=()
for ((i = 0; i < NPODS; i++)); do
    PODS+=("$(printf 'p%02d' "$i")")
done

# rnd N: R = a random number in [0, N).  Never call it in a subshell: the
# parent's sequence would not advance.
rnd() { R=$(((RANDOM << 15 | RANDOM) % $1)); }
netns_path() { echo "/run/netns/${LAB_PREFIX}p-$1"; }
lsp_name() { if [[ $2 == eth0 ]]; then echo "${K8S_NS}_$1"; else echo "${K8S_NS}_$1_$2"; fi; }
host_name() { printf '%s\0%s' "$1" "$2" | sha1sum | cut -c1-12 | sed 's/^/lm/'; }
pod_args() { echo "K8S_POD_NAMESPACE=$K8S_NS;K8S_POD_NAME=$1"; }

add_model() { # KEY POD IFNAME CHASSIS IP MAC HOST RESULT ARGS RC
    local k=$1
    A_POD[$k]=$2 A_IF[$k]=$3 A_CH[$k]=$4 A_IP[$k]=$5 A_MAC[$k]=$6
    A_HOST[$k]=$7 A_RES[$k]=$8 A_ARGS[$k]=$9 A_RC[$k]=${10} A_REC[$k]=1
    IP_HELD[$5]=$k MAC_HELD[$6]=$k
    unset "D_RES[$k]"
}

del_model() { # KEY
    local k=$1
    unset "IP_HELD[${A_IP[$k]}]" "MAC_HELD[${A_MAC[$k]}]"
    D_RES[$k]=${A_RES[$k]}
    unset "A_POD[$k]" "A_IF[$k]" "A_CH[$k]" "A_IP[$k]" "A_MAC[$k]" \
        "A_HOST[$k]" "A_RES[$k]" "A_ARGS[$k]" "A_RC[$k]" "A_REC[$k]"
}

# pod_keys POD: KEYS = the pod's attachments.
pod_keys() {
    local cid=${PCID[$1]:-} f
    KEYS=()
    [[ -n $cid ]] || return 0
    for f in eth0 eth1; do
        [[ -z ${A_CH[$cid:$f]:-} ]] || KEYS+=("$cid:$f")
    done
}

# pods_of KIND: C = the pods of KIND: idle (no attachment), one (eth0
# attached, eth1 not), any (at least one attachment).
pods_of() {
    local p cid
    C=()
    for p in "${PODS[@]}"; do
        cid=${PCID[$p]:-none}
        case $1 in
        idle) [[ -z ${A_CH[$cid:eth0]:-} && -z ${A_CH[$cid:eth1]:-} ]] ;;
        one) [[ -n ${A_CH[$cid:eth0]:-} && -z ${A_CH[$cid:eth1]:-} ]] ;;
        any) [[ -n ${A_CH[$cid:eth0]:-} || -n ${A_CH[$cid:eth1]:-} ]] ;;
        esac && C+=("$p")
    done
}

# pick_pod KIND: P = a random pod of KIND.  Fails if none.
pick_pod() {
    pods_of "$1"
    ((${#C[@]})) || return 1
    rnd ${#C[@]}
    P=${C[R]}
}

# pick_key: K = a random attachment.  Fails if none.
pick_key() {
    local c=("${!A_CH[@]}")
    ((${#c[@]})) || return 1
    rnd ${#c[@]}
    K=${c[R]}
}

# free_ip: FIP = a random static-pool IP nobody holds (nor RESERVED).
declare -A RESERVED
free_ip() {
    local i c=()
    for ((i = STATIC_LO; i <= STATIC_HI; i++)); do
        [[ -n ${IP_HELD[10.244.0.$i]:-} || -n ${RESERVED[10.244.0.$i]:-} ]] ||
            c+=("10.244.0.$i")
    done
    ((${#c[@]})) || return 1
    rnd ${#c[@]}
    FIP=${c[R]}
}

# new_mac: NMAC = a random locally administered unicast MAC nobody holds.
new_mac() {
    while :; do
        rnd 65536; local a=$R
        rnd 65536; local b=$R
        NMAC=$(printf '0a:5a:%02x:%02x:%02x:%02x' $((a >> 8)) $((a & 255)) \
            $((b >> 8)) $((b & 255)))
        [[ -n ${MAC_HELD[$NMAC]:-} || -n ${RESERVED[$NMAC]:-} ]] || return 0
    done
}

# ---- Running the plugin ------------------------------------------------

# conf N VERSION [MEMBERS]: CONF = chassis N's network configuration with
# extra JSON object MEMBERS.
conf() {
    CONF="{\"cniVersion\":\"$2\",\"name\":\"$NET\",\"type\":\"ovn-lm\",\"socket\":\"${CH_SOCK[$1]}\",\"stateDir\":\"$STATE\",\"logicalSwitch\":\"$LAB_SWITCH\",\"readyTimeout\":10${3:+,$3}}"
}

# cni CMD CID NETNS IFNAME ARGS CONF: runs the plugin as a runtime does
# (a clean environment; the sanitizers' options pass so that their reports
# land in the lab).  Sets CNI_OUT, CNI_ERR, CNI_RC.
cni() {
    CNI_RC=0
    CNI_OUT=$(env -i PATH="$PATH" ASAN_OPTIONS="$ASAN_OPTIONS" \
        UBSAN_OPTIONS="$UBSAN_OPTIONS" CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
        CNI_NETNS="$3" CNI_IFNAME="$4" CNI_ARGS="$5" CNI_PATH=/opt/cni/bin \
        "$OVN_LM_CNI" <<<"$6" 2>"$ERRF") || CNI_RC=$?
    CNI_ERR=$(<"$ERRF")
}

# ---- Checks ------------------------------------------------------------
# Per-operation checks count as passed silently; a failure prints the
# operation and what the plugin said.

OPN=0 OPDESC=''
ok() { T_PASSED=$((T_PASSED + 1)); }
bad() {
    t_fail "op $OPN ($OPDESC): $*"
    echo "     rc=$CNI_RC stdout=$CNI_OUT${CNI_ERR:+ stderr=$CNI_ERR}"
}
say() { if ((VERBOSE)); then echo "op $OPN: $OPDESC"; fi; }

# expect_ok: exit 0, nothing on stderr, nothing on stdout unless ADD.
expect_ok() {
    if ((CNI_RC == 0)) && [[ -z $CNI_ERR ]] &&
        [[ ${1:-} == out || -z $CNI_OUT ]]; then
        ok
        return 0
    fi
    bad "expected success"
    return 1
}

# expect_code CODE: exit 1 with CNI error CODE, nothing on stderr.
expect_code() {
    if ((CNI_RC == 1)) && [[ -z $CNI_ERR ]] &&
        [[ $CNI_OUT =~ \"code\":([0-9]+) ]] && [[ ${BASH_REMATCH[1]} == "$1" ]]; then
        ok
        return 0
    fi
    bad "expected error $1"
    return 1
}

# gone KEY CHASSIS: nothing of the attachment is left: host veth, OVS port,
# a logical port it holds, its record.
gone() {
    local k=$1 host
    host=$(host_name "${k%:*}" "${k##*:}")
    if ip -n "${CH_NS[$2]}" link show "$host" >/dev/null 2>&1; then
        bad "veth $host of $k still exists on chassis $2"
    elif lab_vsctl "$2" port-to-br "$host" >/dev/null 2>&1; then
        bad "OVS port $host of $k still exists on chassis $2"
    elif [[ -n $(lab_nbctl --bare --columns=name find Logical_Switch_Port \
        "external_ids:\"ovn-lm/container-id\"=\"${k%:*}\"" \
        "external_ids:\"ovn-lm/ifname\"=\"${k##*:}\"") ]]; then
        bad "a logical port of $k still exists"
    elif [[ -e $STATE/$NET/$k ]]; then
        bad "record $k still exists"
    else
        ok
    fi
}

RE_RESULT='^\{"cniVersion":"1\.0\.0","interfaces":\[\{"name":"(lm[0-9a-f]{12})","mac":"([0-9a-f:]{17})"\},\{"name":"([^"]+)","mac":"([0-9a-f:]{17})","sandbox":"([^"]*)"\}\],"ips":\[\{"address":"([0-9.]+)/24","interface":1\}\],"routes":\[\],"dns":\{\}\}$'

# add_ok POD IFNAME CHASSIS WANT-IP WANT-MAC ARGS RC: checks that an ADD
# succeeded with a result that fits the model, and records the attachment.
# WANT-IP and WANT-MAC are empty when any free address will do.
add_ok() {
    local p=$1 f=$2 n=$3 wip=$4 wmac=$5 cid=${PCID[$1]} k host
    k=$cid:$f
    expect_ok out || return 1
    if ! [[ $CNI_OUT =~ $RE_RESULT ]]; then
        bad "ADD result is not what a 1.0.0 result of $k looks like"
        return 1
    fi
    local rhost=${BASH_REMATCH[1]} hmac=${BASH_REMATCH[2]}
    local rif=${BASH_REMATCH[3]} mac=${BASH_REMATCH[4]}
    local sandbox=${BASH_REMATCH[5]} ip=${BASH_REMATCH[6]} last
    last=${ip##*.}
    host=$(host_name "$cid" "$f")
    if [[ $rhost != "$host" ]]; then
        bad "host interface $rhost, expected $host"
    elif [[ $rif != "$f" || $sandbox != "$(netns_path "$p")" ]]; then
        bad "pod interface $rif in $sandbox, expected $f in $(netns_path "$p")"
    elif [[ -n $wip && $ip != "$wip" ]]; then
        bad "got IP $ip, expected $wip"
    elif [[ -z $wip && ! ($ip =~ ^10\.244\.0\.[0-9]+$ && $last -ge 2 && $last -lt $STATIC_LO) ]]; then
        bad "dynamic IP $ip outside 10.244.0.2-10.244.0.$((STATIC_LO - 1))"
    elif [[ -n ${IP_HELD[$ip]:-} && ${IP_HELD[$ip]} != "$k" ]]; then
        bad "IP $ip is already held by ${IP_HELD[$ip]}"
    elif [[ -n $wmac && $mac != "$wmac" ]]; then
        bad "got MAC $mac, expected $wmac"
    elif ((0x${mac:0:2} & 1)); then
        bad "MAC $mac is not unicast"
    elif [[ -n ${MAC_HELD[$mac]:-} && ${MAC_HELD[$mac]} != "$k" ]]; then
        bad "MAC $mac is already held by ${MAC_HELD[$mac]}"
    elif [[ $hmac == "$mac" ]]; then
        bad "host end has the pod's MAC"
    elif [[ ! -e $STATE/$NET/$k ]]; then
        bad "no attachment record $k"
    else
        ok
    fi
    # The attachment exists whatever was wrong with it: the model follows,
    # so that one failure does not turn into many.
    add_model "$k" "$p" "$f" "$n" "$ip" "$mac" "$rhost" "$CNI_OUT" "$6" "$7"
}

# refused_ok POD IFNAME CHASSIS: an ADD was refused with 100 and left
# nothing behind.
refused_ok() {
    local k=${PCID[$1]}:$2
    expect_code 100 || return 1
    if [[ -n $(lab_nbctl --bare --columns=name find Logical_Switch_Port \
        name="$(lsp_name "$1" "$2")") ]]; then
        bad "refused ADD left logical port $(lsp_name "$1" "$2")"
        return 1
    fi
    gone "$k" "$3"
}

# ---- Operations ----------------------------------------------------------

count() { OPC[$1]=$((${OPC[$1]:-0} + 1)); }

# prep_pod POD: makes sure an idle pod has a netns, a chassis and a
# container id.  A pod that exists keeps them (an ADD after a DEL, as a
# runtime retries); sometimes it is recreated (a new pod of the same name:
# new netns, new container id, maybe another chassis).
prep_pod() {
    local p=$1
    if [[ ${PNS[$p]:-0} == 1 ]]; then
        rnd 3
        ((R == 0)) || return 0
        lab_pod_netns_del "$p"
        PNS[$p]=0
    fi
    lab_pod_netns "$p" >/dev/null || { t_fail "cannot create netns of $p"; return 1; }
    PNS[$p]=1
    rnd "$LAB_CHASSIS"
    PCH[$p]=$((R + 1))
    PGEN[$p]=$((${PGEN[$p]:-0} + 1))
    PCID[$p]=c-$p-${PGEN[$p]}
}

# addr_choice: sets ARGS_EXTRA / RC_EXTRA / WIP / WMAC for a new ADD: mostly
# dynamic; sometimes a free static IP and/or a static MAC, through CNI_ARGS
# or runtimeConfig.
addr_choice() {
    ARGS_EXTRA='' RC_EXTRA='' WIP='' WMAC='' SMAC=''
    local rtconf=()
    rnd 4
    if ((R == 0)) && free_ip; then
        WIP=$FIP
        RESERVED[$FIP]=1
        rnd 2
        if ((R)); then
            ARGS_EXTRA+=";IP=$WIP"
        else
            rtconf+=("\"ips\":[\"$WIP/24\"]")
        fi
        WMAC=$(printf '0a:58:0a:f4:00:%02x' "${WIP##*.}")
    fi
    rnd 5
    if ((R == 0)); then
        new_mac
        WMAC=$NMAC SMAC=1
        RESERVED[$NMAC]=1
        rnd 2
        if ((R)); then
            ARGS_EXTRA+=";MAC=$WMAC"
        else
            rtconf+=("\"mac\":\"$WMAC\"")
        fi
    fi
    if ((${#rtconf[@]})); then
        RC_EXTRA="\"runtimeConfig\":{$(IFS=,; echo "${rtconf[*]}")}"
    fi
}

op_add() { # [eth1]
    local f=${1:-eth0} p n args
    if [[ $f == eth1 ]]; then
        pick_pod one || return 1
        p=$P
    else
        pick_pod idle || return 1
        p=$P
        prep_pod "$p" || return 0
    fi
    n=${PCH[$p]}
    RESERVED=()
    addr_choice
    args="$(pod_args "$p")$ARGS_EXTRA"
    OPDESC="ADD ${PCID[$p]}:$f on $n${WIP:+ ip $WIP}${WMAC:+ mac $WMAC}"
    say
    count "ADD${1:+-eth1}${WIP:+-static-ip}${SMAC:+-static-mac}"
    conf "$n" 1.0.0 "$RC_EXTRA"
    cni ADD "${PCID[$p]}" "$(netns_path "$p")" "$f" "$args" "$CONF"
    add_ok "$p" "$f" "$n" "$WIP" "$WMAC" "$args" "$RC_EXTRA" || :
}

op_readd() {
    pick_key || return 1
    local k=$K p=${A_POD[$K]} f=${A_IF[$K]} n=${A_CH[$K]}
    OPDESC="ADD again $k on $n"
    say
    count ADD-again
    conf "$n" 1.0.0 "${A_RC[$k]}"
    cni ADD "${k%:*}" "$(netns_path "$p")" "$f" "${A_ARGS[$k]}" "$CONF"
    # The same attachment: the same veth name, IP and MAC.
    local ip=${A_IP[$k]} mac=${A_MAC[$k]} args=${A_ARGS[$k]} rcm=${A_RC[$k]}
    del_model "$k"
    add_ok "$p" "$f" "$n" "$ip" "$mac" "$args" "$rcm" || :
}

op_conflict() { # ip|mac
    local what=$1 p n f=eth0 args held rcx=
    pick_key || return 1
    held=$K
    rnd 4
    if ((R == 0)) && pick_pod one; then
        f=eth1
        p=$P
    else
        pick_pod idle || return 1
        p=$P
        prep_pod "$p" || return 0
    fi
    n=${PCH[$p]}
    args=$(pod_args "$p")
    rnd 2
    if [[ $what == ip ]]; then
        if ((R)); then
            args+=";IP=${A_IP[$held]}"
        else
            rcx="\"runtimeConfig\":{\"ips\":[\"${A_IP[$held]}/24\"]}"
        fi
    else
        if ((R)); then
            args+=";MAC=${A_MAC[$held]}"
        else
            rcx="\"runtimeConfig\":{\"mac\":\"${A_MAC[$held]}\"}"
        fi
    fi
    OPDESC="ADD ${PCID[$p]}:$f on $n with the $what of $held"
    say
    count "ADD-held-$what"
    conf "$n" 1.0.0 "$rcx"
    cni ADD "${PCID[$p]}" "$(netns_path "$p")" "$f" "$args" "$CONF"
    refused_ok "$p" "$f" "$n" || :
}

op_check() {
    pick_key || return 1
    local k=$K
    OPDESC="CHECK $k on ${A_CH[$k]}"
    say
    count CHECK
    conf "${A_CH[$k]}" 1.0.0 "\"prevResult\":${A_RES[$k]}"
    cni CHECK "${k%:*}" "$(netns_path "${A_POD[$k]}")" "${A_IF[$k]}" \
        "${A_ARGS[$k]}" "$CONF"
    expect_ok || :
}

# A CHECK of an attachment deleted since (its last result): must fail.
op_check_stale() {
    local c=("${!D_RES[@]}") k p n
    ((${#c[@]})) || return 1
    rnd ${#c[@]}
    k=${c[R]}
    p=${k#c-}
    p=${p%%-*}
    n=${PCH[$p]}
    OPDESC="CHECK deleted $k"
    say
    count CHECK-deleted
    conf "$n" 1.0.0 "\"prevResult\":${D_RES[$k]}"
    cni CHECK "${k%:*}" "$(netns_path "$p")" "${k##*:}" "$(pod_args "$p")" "$CONF"
    expect_code 104 || :
}

# del KEY MODE: DEL the attachment (or, again, one already deleted) and
# check that nothing of it is left.  MODE: prev (with prevResult), noprev,
# nonetns (CNI_NETNS empty), gone (its netns was deleted; no prevResult).
# CNI_ARGS are passed or not at random.
del() {
    local k=$1 mode=$2 p f n netns args members=
    if [[ -n ${A_CH[$k]:-} ]]; then
        p=${A_POD[$k]} f=${A_IF[$k]} n=${A_CH[$k]}
    else
        p=${k#c-}
        p=${p%%-*}
        f=${k##*:} n=${PCH[$p]}
    fi
    netns=$(netns_path "$p")
    [[ $mode == nonetns ]] && netns=
    [[ $mode == prev ]] && members="\"prevResult\":${A_RES[$k]}"
    rnd 2
    args=''
    ((R == 0)) || args=$(pod_args "$p")
    conf "$n" 1.0.0 "$members"
    cni DEL "${k%:*}" "$netns" "$f" "$args" "$CONF"
    [[ -z ${A_CH[$k]:-} ]] || del_model "$k"
    expect_ok && gone "$k" "$n"
}

op_del() { # MODE
    pick_key || return 1
    local k=$K
    OPDESC="DEL $k on ${A_CH[$k]} ($1)"
    say
    count "DEL-$1"
    del "$k" "$1" || :
}

op_del_twice() {
    pick_key || return 1
    local k=$K m=(prev noprev nonetns)
    OPDESC="DEL $k twice on ${A_CH[$k]}"
    say
    count DEL-twice
    rnd 3
    del "$k" "${m[R]}" || return 0
    rnd 2
    if ((R)); then del "$k" noprev; else del "$k" nonetns; fi
}

op_del_netns_gone() {
    pick_pod any || return 1
    local p=$P k
    pod_keys "$p"
    OPDESC="DEL ${KEYS[*]} on ${PCH[$p]} after deleting netns $p"
    say
    count DEL-netns-gone
    lab_pod_netns_del "$p"
    PNS[$p]=0
    for k in "${KEYS[@]}"; do
        rnd 2
        if ((R)); then del "$k" gone; else del "$k" prev; fi
    done
}

op_gc() {
    local n k lists=("" "") foreign='' dropped=() c=()
    rnd "$LAB_CHASSIS"
    n=$((R + 1))
    rnd 3
    if ((R == 0)); then
        # Leave out one of another chassis's attachments as well.
        for k in "${!A_CH[@]}"; do
            [[ ${A_CH[$k]} != "$n" ]] && c+=("$k")
        done
        if ((${#c[@]})); then
            rnd ${#c[@]}
            foreign=${c[R]}
        fi
    fi
    for k in "${!A_CH[@]}"; do
        [[ $k == "$foreign" ]] && continue
        if [[ ${A_CH[$k]} == "$n" ]]; then
            rnd 4
            ((R == 0)) && { dropped+=("$k"); continue; }
        fi
        # libcni's key and the specification's: the plugin merges them.
        rnd 2
        lists[R]+="${lists[R]:+,}{\"containerID\":\"${k%:*}\",\"ifname\":\"${k##*:}\"}"
    done
    OPDESC="GC on $n dropping ${dropped[*]:-nothing}${foreign:+, leaving out $foreign of chassis ${A_CH[$foreign]}}"
    say
    count GC
    [[ -z $foreign ]] || count GC-other-chassis-unlisted
    for k in "${dropped[@]}"; do count GC-removed-attachment; done
    conf "$n" 1.1.0 "\"cni.dev/valid-attachments\":[${lists[0]}],\"cni.dev/attachments\":[${lists[1]}]"
    cni GC "" "" "" "" "$CONF"
    for k in "${dropped[@]}"; do
        del_model "$k"
    done
    [[ -z $foreign ]] || A_REC[$foreign]=0
    expect_ok || return 0
    for k in "${dropped[@]}"; do
        gone "$k" "$n"
    done
    if [[ -n $foreign ]]; then
        if [[ -e $STATE/$NET/$foreign ]]; then
            bad "record of $foreign (not listed) still exists"
        elif ! ip -n "${CH_NS[${A_CH[$foreign]}]}" link show "${A_HOST[$foreign]}" >/dev/null 2>&1; then
            bad "GC on chassis $n removed $foreign of chassis ${A_CH[$foreign]}"
        else
            ok
        fi
    fi
    return 0
}

# Four concurrent ADDs of idle pods (each on its pod's chassis); sometimes
# the first two ask for the same static IP.
op_burst() {
    local slots=() p i k contest=0 rcs=() argss=() wips=() wmacs=()
    local pids=() cands
    pods_of idle
    cands=("${C[@]}")
    ((${#cands[@]} >= 2)) || return 1
    while ((${#slots[@]} < 4 && ${#cands[@]})); do
        rnd ${#cands[@]}
        slots+=("${cands[R]}")
        cands=("${cands[@]:0:R}" "${cands[@]:R+1}")
    done
    RESERVED=()
    for i in "${!slots[@]}"; do
        p=${slots[i]}
        prep_pod "$p" || return 0
        addr_choice
        argss[i]="$(pod_args "$p")$ARGS_EXTRA" rcs[i]=$RC_EXTRA
        wips[i]=$WIP wmacs[i]=$WMAC
    done
    rnd 4
    if ((R == 0)) && free_ip; then
        contest=1
        for i in 0 1; do
            argss[i]="$(pod_args "${slots[i]}");IP=$FIP" rcs[i]=
            wips[i]=$FIP
            wmacs[i]=$(printf '0a:58:0a:f4:00:%02x' "${FIP##*.}")
        done
    fi
    OPDESC="burst ADD"
    for i in "${!slots[@]}"; do
        OPDESC+=" ${PCID[${slots[i]}]}@${PCH[${slots[i]}]}${wips[i]:+/${wips[i]}}"
    done
    ((contest)) && OPDESC+=" (first two contest ${wips[0]})"
    say
    count BURST
    ((contest)) && count BURST-contested-ip
    for i in "${!slots[@]}"; do
        p=${slots[i]}
        count "BURST-ADD"
        conf "${PCH[$p]}" 1.0.0 "${rcs[i]}"
        (
            ERRF=$WORK/b$i.err
            cni ADD "${PCID[$p]}" "$(netns_path "$p")" eth0 "${argss[i]}" "$CONF"
            printf '%s' "$CNI_OUT" >"$WORK/b$i.out"
            echo "$CNI_RC" >"$WORK/b$i.rc"
        ) &
        pids+=($!)
    done
    wait "${pids[@]}"
    # Winners first, so that a loser's "nothing changed" sees the model
    # with the winner in it.
    local order=()
    for i in "${!slots[@]}"; do
        if [[ $(<"$WORK/b$i.rc") == 0 ]]; then
            order=("$i" "${order[@]}")
        else
            order+=("$i")
        fi
    done
    local winners=0
    for i in "${order[@]}"; do
        p=${slots[i]}
        CNI_OUT=$(<"$WORK/b$i.out") CNI_ERR=$(<"$WORK/b$i.err")
        CNI_RC=$(<"$WORK/b$i.rc")
        if ((contest && i < 2)) && ((CNI_RC != 0 || winners)); then
            refused_ok "$p" eth0 "${PCH[$p]}"
        else
            add_ok "$p" eth0 "${PCH[$p]}" "${wips[i]}" "${wmacs[i]}" \
                "${argss[i]}" "${rcs[i]}"
            ((i < 2)) && winners=1
        fi
    done
    ((!contest || winners)) || bad "neither contender got ${wips[0]}"
    if ((contest)); then
        # Which one won is up to the race: DEL both (the loser's DEL is one
        # of an attachment that never was), so that the model, and so the
        # rest of the run, is the same whoever won.
        for i in 0 1; do
            k=${PCID[${slots[i]}]}:eth0
            del "$k" noprev || :
            unset "D_RES[$k]"
        done
    fi
    return 0
}

# ---- Reality -------------------------------------------------------------

# audit WHEN: compares the model with what exists; one check per aspect.
audit() {
    local when=$1 k p model=$WORK/model out=$WORK/audit
    {
        for p in "${PODS[@]}"; do
            [[ ${PNS[$p]:-0} == 1 ]] && echo "netns $p"
        done
        for k in "${!A_CH[@]}"; do
            echo "att ${A_CH[$k]} $k ${A_POD[$k]} ${A_IF[$k]}" \
                "$(lsp_name "${A_POD[$k]}" "${A_IF[$k]}")" "${A_IP[$k]}" \
                "${A_MAC[$k]}" "${A_HOST[$k]}" "${A_REC[$k]}"
        done
    } >"$model"
    python3 - "$model" "$when" >"$out" <<'PY'
import json, os, re, subprocess, sys

env = os.environ
P, D, C = env["LAB_PREFIX"], env["LAB_DIR"], int(env["LAB_CHASSIS"])
NET, SW = "ovnlm", env["LAB_SWITCH"]
HOST_RE = re.compile(r"^lm[0-9a-f]{12}$")

def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

netns, atts = set(), []
for line in open(sys.argv[1]):
    w = line.split()
    if w[0] == "netns":
        netns.add(w[1])
    else:
        n, key, pod, ifn, lsp, ip, mac, host, rec = w[1:]
        atts.append(dict(n=int(n), key=key, cid=key.rsplit(":", 1)[0],
                         pod=pod, ifname=ifn, lsp=lsp, ip=ip, mac=mac,
                         host=host, rec=rec == "1"))
results = []

def compare(what, want, have):
    want, have = set(want), set(have)
    missing, extra = sorted(want - have), sorted(have - want)
    if not missing and not extra:
        results.append(("ok", f"{what} ({len(want)})", []))
    else:
        results.append(("fail", what,
                        [f"missing {x}" for x in missing[:15]] +
                        [f"extra   {x}" for x in extra[:15]]))

def chassis(n):
    return env[f"LAB_H{n}_CHASSIS"]

# Host veths in the chassis namespaces, OVS ports and interfaces.
w_links, h_links, w_ports, h_ports, w_ifaces, h_ifaces = [], [], [], [], [], []
w_daemon, h_daemon, w_gauge, h_gauge = [], [], [], []
for a in atts:
    w_links.append(f"h{a['n']} {a['host']}")
    w_ports.append(f"h{a['n']} {a['host']}")
    w_ifaces.append(f"h{a['n']} {a['host']} iface-id={a['lsp']} "
                    f"container={a['cid']} ifname={a['ifname']} "
                    f"network={NET} netns=/run/netns/{P}p-{a['pod']} "
                    f"attached-mac={a['mac']} installed=true")
    w_daemon.append(f"h{a['n']} {a['host']} port={a['lsp']} "
                    f"container={a['cid']} ifname={a['ifname']} "
                    f"network={NET} netns=/run/netns/{P}p-{a['pod']} "
                    f"address=\"{a['mac']} {a['ip']}\" installed=true "
                    f"nb=owned")
for n in range(1, C + 1):
    ns, db = env[f"LAB_H{n}_NETNS"], env[f"LAB_H{n}_OVS_DB"]
    for line in run("ip", "-n", ns, "-o", "link", "show").splitlines():
        name = line.split(": ")[1].split("@")[0]
        if HOST_RE.match(name):
            h_links.append(f"h{n} {name}")
    for name in run("ovs-vsctl", f"--db={db}", "list-ports",
                    "br-int").split():
        if not name.startswith(("ovn-", "patch-")):
            h_ports.append(f"h{n} {name}")
    j = json.loads(run("ovs-vsctl", f"--db={db}", "-f", "json",
                       "--columns=name,external_ids", "list", "Interface"))
    for name, ids in j["data"]:
        ids = dict(ids[1])
        if not HOST_RE.match(name) and "ovn-lm/container-id" not in ids:
            continue
        h_ifaces.append(
            f"h{n} {name} iface-id={ids.get('iface-id')} "
            f"container={ids.get('ovn-lm/container-id')} "
            f"ifname={ids.get('ovn-lm/ifname')} "
            f"network={ids.get('ovn-lm/network')} "
            f"netns={ids.get('ovn-lm/netns')} "
            f"attached-mac={ids.get('attached-mac')} "
            f"installed={ids.get('ovn-installed')}")
    ctl = env[f"LAB_H{n}_DAEMON_CTL"]
    for line in run("ovs-appctl", "-t", ctl,
                    "ovn-lm/list-ports").splitlines():
        if line.strip():
            h_daemon.append(f"h{n} {line.strip()}")
    w_gauge.append(f"h{n} ovn_lm_ports "
                   f"{sum(1 for a in atts if a['n'] == n)}")
    metrics = run("ip", "netns", "exec", ns, "python3", "-c",
                  "import urllib.request; print(urllib.request.urlopen("
                  "'http://127.0.0.1:9476/metrics', timeout=5).read()"
                  ".decode())")
    for line in metrics.splitlines():
        if line.startswith("ovn_lm_ports "):
            h_gauge.append(f"h{n} ovn_lm_ports {int(float(line.split()[1]))}")
compare("veths in the chassis namespaces", w_links, h_links)
compare("OVS ports on br-int", w_ports, h_ports)
compare("OVS interfaces and their external_ids", w_ifaces, h_ifaces)
compare("each daemon's ovn-lm/list-ports", w_daemon, h_daemon)
compare("each daemon's ovn_lm_ports gauge", w_gauge, h_gauge)

# Northbound: every logical port (the lab has no others).
w_nb, h_nb = [], []
for a in atts:
    w_nb.append(f"{a['lsp']} container={a['cid']} ifname={a['ifname']} "
                f"network={NET} chassis={chassis(a['n'])} switch={SW} "
                f"pod=default/{a['pod']} requested-chassis={chassis(a['n'])} "
                f"address={a['mac']} {a['ip']} "
                f"port-security={a['mac']} {a['ip']}")
j = json.loads(run("ovn-nbctl", f"--db={env['LAB_NB_DB']}", "-f", "json",
                   "--columns=name,external_ids,addresses,"
                   "dynamic_addresses,port_security,options", "list",
                   "Logical_Switch_Port"))
def val(x):
    return x[1] if isinstance(x, list) and x[0] == "set" else [x]
for name, ids, addrs, dyn, psec, opts in j["data"]:
    ids, opts = dict(ids[1]), dict(opts[1])
    addrs, dyn, psec = val(addrs), val(dyn), val(psec)
    addr = " ".join(addrs)
    if len(addrs) == 1 and "dynamic" in addrs[0]:
        addr = " ".join(dyn) if dyn else "(no dynamic address)"
    h_nb.append(f"{name} container={ids.get('ovn-lm/container-id')} "
                f"ifname={ids.get('ovn-lm/ifname')} "
                f"network={ids.get('ovn-lm/network')} "
                f"chassis={ids.get('ovn-lm/chassis')} "
                f"switch={ids.get('ovn-lm/switch')} "
                f"pod={ids.get('ovn-lm/pod')} "
                f"requested-chassis={opts.get('requested-chassis')} "
                f"address={addr} port-security={' '.join(psec)}")
compare("Northbound logical ports", w_nb, h_nb)

# Pods: the namespaces, and the interfaces inside.
prefix = f"{P}p-"
h_ns = [f[len(prefix):] for f in os.listdir("/run/netns")
        if f.startswith(prefix)]
compare("pod namespaces", netns, h_ns)
w_pod = [f"{a['pod']} {a['ifname']} {a['mac']} {a['ip']}/24 mtu=1442 up"
         for a in atts]
h_pod = []
for pod in h_ns:
    for link in json.loads(run("ip", "-n", prefix + pod, "-j", "addr",
                               "show")):
        if link["ifname"] == "lo":
            continue
        v4 = [f"{x['local']}/{x['prefixlen']}" for x in link["addr_info"]
              if x["family"] == "inet"]
        h_pod.append(f"{pod} {link['ifname']} {link.get('address')} "
                     f"{','.join(v4) or '-'} mtu={link['mtu']} "
                     f"{'up' if 'UP' in link['flags'] else 'down'}")
compare("interfaces inside the pods", w_pod, h_pod)

# The plugin's attachment records (and no leftover temporary files).
w_rec = [f"{NET}/{a['key']}" for a in atts if a["rec"]]
h_rec = []
for root, dirs, files in os.walk(os.path.join(D, "cni-state")):
    for f in files:
        h_rec.append(os.path.relpath(os.path.join(root, f),
                                     os.path.join(D, "cni-state")))
compare("attachment records", w_rec, h_rec)

for status, what, lines in results:
    print(f"{status}\t{what}")
    for line in lines:
        print(f"detail\t{line}")
PY
    local prc=$? status what fails=$T_FAILED
    t_begin "audit $when"
    ((prc == 0)) || t_fail "the audit itself failed (python exit $prc)"
    while IFS=$'\t' read -r status what; do
        case $status in
        ok) t_ok "$what" ;;
        fail) t_fail "$what differs from the model:" ;;
        detail) echo "       $what" ;;
        esac
    done <"$out"
    t_begin ""
    ((T_FAILED == fails))
}

# ---- The soak --------------------------------------------------------------

# Weights out of 100.
OP_TABLE=(
    "26 add" "4 add_eth1" "6 readd" "4 conflict_ip" "2 conflict_mac"
    "12 check" "2 check_stale"
    "9 del_prev" "9 del_noprev" "5 del_twice" "5 del_nonetns" "5 del_gone"
    "6 gc" "7 burst"
)

run_op() {
    case $1 in
    add) op_add ;;
    add_eth1) op_add eth1 ;;
    readd) op_readd ;;
    conflict_ip) op_conflict ip ;;
    conflict_mac) op_conflict mac ;;
    check) op_check ;;
    check_stale) op_check_stale ;;
    del_prev) op_del prev ;;
    del_noprev) op_del noprev ;;
    del_twice) op_del_twice ;;
    del_nonetns) op_del nonetns ;;
    del_gone) op_del_netns_gone ;;
    gc) op_gc ;;
    burst) op_burst ;;
    esac
}

T_OPS=$EPOCHREALTIME
stopped='' audited=0
for ((OPN = 1; OPN <= OPS; OPN++)); do
    rnd 100
    acc=0
    for e in "${OP_TABLE[@]}"; do
        acc=$((acc + ${e%% *}))
        if ((R < acc)); then
            op=${e#* }
            break
        fi
    done
    # An operation with nothing to act on (no attachment to DEL, no idle
    # pod to ADD) falls back to an ADD, else to a DEL.
    run_op "$op" || op_add || op_del noprev
    if ((OPN % AUDIT_EVERY == 0)); then
        printf 'after %d operations: %d attachments, %d passed, %d failed\n' \
            "$OPN" "${#A_CH[@]}" "$T_PASSED" "$T_FAILED"
        audited=$OPN
        audit "after op $OPN" || { stopped=$OPN; break; }
    fi
    if ((T_FAILED >= MAX_FAIL)); then
        stopped=$OPN
        break
    fi
done
T_OPS_END=$EPOCHREALTIME
NDONE=$((OPN > OPS ? OPS : OPN))
[[ -z $stopped ]] || echo "stopped after op $stopped: the model no longer matches reality"
((audited == NDONE)) || audit "after op $NDONE"

# ---- Everything goes --------------------------------------------------------
n_final=${#A_CH[@]}
for k in "${!A_CH[@]}"; do
    OPDESC="final DEL of $k"
    rnd 2
    if ((R)); then del "$k" prev; else del "$k" noprev; fi
done
for p in "${PODS[@]}"; do
    [[ ${PNS[$p]:-0} == 1 ]] && { lab_pod_netns_del "$p"; PNS[$p]=0; }
done
audit "after deleting everything"
t_begin leaks
leftover=$(leaks)
t_check "no veth, OVS port, logical port or record left${leftover:+: $leftover}" [ -z "$leftover" ]
t_check "daemon logs hold no ERR" bash -c "! grep -h '|ERR|' $LAB_DIR/h*/ovn-controller-ext.log"
# The daemons' own modules warn only about the addresses they refused.
unexpected=$(grep -h -E '\|(attach|cni_server|metrics|migration|ovn_controller_ext|pod_net)\|WARN\|' \
    "$LAB_DIR"/h*/ovn-controller-ext.log |
    grep -v -E '\|WARN\|ADD [^ ]+ failed: (IP|MAC) [^ ]+ is already used by logical port ' |
    grep -v -E '\|WARN\|Dropped [0-9]+ log messages in last [0-9]+ seconds' |
    head -5)
t_check "daemons warned only about refused addresses${unexpected:+: $unexpected}" [ -z "$unexpected" ]
lab_daemons_exit
t_begin ""

T_END=$EPOCHREALTIME
echo "operations (seed $SOAK_SEED):"
for k in $(printf '%s\n' "${!OPC[@]}" | sort); do
    printf '  %-30s %5d\n' "$k" "${OPC[$k]}"
done
awk -v n="$NDONE" -v f="$n_final" -v t0="$T0" -v a="$T_OPS" -v b="$T_OPS_END" \
    -v t1="$T_END" 'BEGIN { printf "%d operations in %.1f s (%.1f ms each), final DEL of %d attachments, %.1f s since the lab came up\n", n, b - a, (b - a) * 1000 / (n ? n : 1), f, t1 - t0 }'
t_summary
