# lib-k8s.sh: the Kubernetes API stand-in (test/k8s/kube-apiserver-standin.py,
# a test fixture, NOT a Kubernetes API server) in the lab's central
# namespace, over HTTPS with a bearer token, and helpers to drive it.
# Source after lab-common.sh.

K8S_STANDIN=$TEST_HERE/../k8s/kube-apiserver-standin.py
K8S_DIR=$LAB_DIR/k8s
K8S_PORT=6443
K8S_PID=

# k8s_up: certificates, tokens, a kubeconfig and a service account
# directory under $K8S_DIR, then the stand-in.
k8s_up() {
    mkdir -p "$K8S_DIR/sa"
    "$TEST_HERE/../k8s/mkcerts.sh" "$K8S_DIR/pki" "$LAB_CENTRAL_IP" >/dev/null ||
        return 1
    echo "token-$RANDOM$RANDOM" >"$K8S_DIR/client-token"
    chmod 600 "$K8S_DIR/client-token"
    cp "$K8S_DIR/client-token" "$K8S_DIR/server-tokens"
    cp "$K8S_DIR/client-token" "$K8S_DIR/sa/token"
    cp "$K8S_DIR/pki/ca.crt" "$K8S_DIR/sa/ca.crt"
    cat >"$K8S_DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: https://$LAB_CENTRAL_IP:$K8S_PORT
    certificate-authority: pki/ca.crt
contexts:
- name: lab
  context:
    cluster: lab
    user: ovn-lm
users:
- name: ovn-lm
  user:
    tokenFile: client-token
KC
    k8s_start
}

k8s_start() {
    # Not through lab_exec_central (a function, so '&' would fork a
    # subshell): $! must be the server's own PID, to stop it by.
    ip netns exec "$(lab_ns_central)" python3 "$K8S_STANDIN" serve \
        --listen "$LAB_CENTRAL_IP:$K8S_PORT" \
        --cert "$K8S_DIR/pki/server.crt" --key "$K8S_DIR/pki/server.key" \
        --token-file "$K8S_DIR/server-tokens" --state "$K8S_DIR/state.json" \
        --control "$K8S_DIR/control.sock" --bookmark-interval 1 \
        --log "$K8S_DIR/standin.log" >"$K8S_DIR/standin.out" 2>&1 &
    K8S_PID=$!
    lab_wait 10 "the API stand-in to be ready" \
        grep -q '^ready' "$K8S_DIR/standin.out"
}

# k8s_stop: stops the stand-in by PID.
k8s_stop() {
    [[ -n $K8S_PID ]] || return 0
    kill -TERM "$K8S_PID" 2>/dev/null
    wait "$K8S_PID" 2>/dev/null
    K8S_PID=
}

# k8s CMD...: a control command (apply, patch, delete, get, compact,
# drop-watches, events, requests, watchers).
k8s() {
    python3 "$K8S_STANDIN" ctl --control "$K8S_DIR/control.sock" "$@"
}

# k8s_apply JSON: creates or replaces an object; prints its uid.
k8s_apply() {
    k8s apply - <<<"$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])'
}

# k8s_pod NAME NODE LABELS-JSON ANNOTATIONS-JSON: a pod in "default".
k8s_pod() {
    k8s_apply "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",
        \"metadata\": {\"name\": \"$1\", \"namespace\": \"default\",
                       \"labels\": ${3:-{\}}, \"annotations\": ${4:-{\}}},
        \"spec\": {\"nodeName\": \"$2\", \"containers\": [{\"name\": \"compute\"}]},
        \"status\": {\"phase\": \"Pending\"}}"
}

# k8s_vm_pod NAME NODE VM [MIGRATION-UID]: a virt-launcher pod of VM, in
# the shape KubeVirt's virt-controller gives it: labels kubevirt.io,
# kubevirt.io/created-by, vm.kubevirt.io/name (and on a migration's target
# kubevirt.io/migrationJobUID); annotations kubevirt.io/domain and the
# opt-in, whose value is empty.
k8s_vm_pod() {
    local labels="{\"kubevirt.io\": \"virt-launcher\", \"kubevirt.io/created-by\": \"vmi-uid-$3\", \"vm.kubevirt.io/name\": \"$3\"${4:+, \"kubevirt.io/migrationJobUID\": \"$4\"}}"
    k8s_pod "$1" "$2" "$labels" \
        "{\"kubevirt.io/domain\": \"$3\", \"kubevirt.io/allow-pod-bridge-network-live-migration\": \"\", \"kubectl.kubernetes.io/default-container\": \"compute\"}"
}

# k8s_patch KIND NAME JSON: a merge patch of default/NAME.
k8s_patch() {
    k8s patch "$1" default "$2" "$3" >/dev/null
}

# kube_status N: chassis N's daemon's ovn-lm/kube-status.
kube_status() {
    ovs-appctl -t "$(lab_var "LAB_H$1_DAEMON_CTL")" ovn-lm/kube-status
}

# kube_synced N: all three watches of chassis N's daemon listed and
# watching.
kube_synced() {
    [ "$(kube_status "$1" | grep -c ': watching, synced')" = 3 ]
}

# k8s_event_reasons POD: the reasons of the Events posted about POD.
k8s_event_reasons() {
    k8s events default | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e.get("involvedObject", {}).get("name") == sys.argv[1]:
        print(e["reason"])' "$1"
}

# k8s_event_message POD REASON: that Event's message.
k8s_event_message() {
    k8s events default | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e.get("involvedObject", {}).get("name") == sys.argv[1] and e["reason"] == sys.argv[2]:
        print(e["message"])' "$1" "$2"
}

# k8s_runtime_annotations POD: the pod annotations containerd passes for
# default/POD (runtimeConfig io.kubernetes.cri.pod-annotations): the pod's
# annotations as the API has them, plus the kubelet's
# kubernetes.io/config.seen and config.source; never its labels.  For a
# pod the API does not know, only the kubelet's two.
k8s_runtime_annotations() {
    { k8s get Pod default "$1" 2>/dev/null || echo '{}'; } | python3 -c '
import datetime, json, sys
try:
    pod = json.load(sys.stdin)
except ValueError:
    pod = {}
ann = dict(pod.get("metadata", {}).get("annotations") or {})
ann["kubernetes.io/config.seen"] = datetime.datetime.now(
    datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
ann["kubernetes.io/config.source"] = "api"
print(json.dumps(ann))'
}

# k8s_pod_uid POD: default/POD's metadata.uid, or nothing.
k8s_pod_uid() {
    k8s get Pod default "$1" 2>/dev/null | python3 -c '
import json, sys
try:
    print(json.load(sys.stdin)["metadata"]["uid"])
except (ValueError, KeyError):
    pass'
}

# k8s_now: the current time as Kubernetes writes timestamps (RFC 3339, UTC).
k8s_now() {
    date -u +%Y-%m-%dT%H:%M:%SZ
}

# kube_pods_cached N: how many pods chassis N's daemon's pod cache holds.
kube_pods_cached() {
    kube_status "$1" | sed -n 's/^pods: .* \([0-9][0-9]*\) objects.*/\1/p'
}

# --- A stand-in that behaves more like a real API server (lab-k8s-apiserver) ---

# k8s_start_with ARGS...: as k8s_start, with more stand-in options (e.g.
# --http2 --startup-window 1; the stand-in's default bookmark interval,
# 60 s, unless ARGS set one).  Needs the files of k8s_up.
k8s_start_with() {
    ip netns exec "$(lab_ns_central)" python3 "$K8S_STANDIN" serve \
        --listen "$LAB_CENTRAL_IP:$K8S_PORT" \
        --cert "$K8S_DIR/pki/server.crt" --key "$K8S_DIR/pki/server.key" \
        --token-file "$K8S_DIR/server-tokens" --state "$K8S_DIR/state.json" \
        --control "$K8S_DIR/control.sock" --log "$K8S_DIR/standin.log" "$@" \
        >"$K8S_DIR/standin.out" 2>&1 &
    K8S_PID=$!
    lab_wait 10 "the API stand-in to be listening" \
        grep -q '^ready' "$K8S_DIR/standin.out"
}

# k8s_readyz: the stand-in's /readyz answers 200.
k8s_readyz() {
    [ "$(ip netns exec "$(lab_ns_central)" curl -s -o /dev/null -w '%{http_code}' \
        --cacert "$K8S_DIR/pki/ca.crt" "https://$LAB_CENTRAL_IP:$K8S_PORT/readyz")" = 200 ]
}

# kube_lists N: how many LISTs chassis N's daemon's three watches completed.
kube_lists() {
    kube_status "$1" | sed -n 's/.*, lists \([0-9]*\),.*/\1/p' |
        awk '{ n += $1 } END { print n + 0 }'
}
