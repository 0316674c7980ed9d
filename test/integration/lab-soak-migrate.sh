#!/bin/bash
# The migrating soak: seeded random live migrations (prepare, activate by
# RARP, complete with every DEL variant, roll back, back to back)
# interleaved with faults (daemon SIGKILL and SIGTERM, ovn-controller
# restart, NB and SB leader kill) in a lab whose NB and SB are 3-member
# Raft clusters, checked against a model after every step: NB, SB, OVS,
# the kernel, the plugin's records and the reachability of every workload.
# The driver is soak_migrate.py (its docstring says what it checks).
#
# usage: lab-soak-migrate.sh OVN-LM-BINARY DAEMON-BINARY
#   SOAK_SEED=N      seed (printed; random by default): replays the run
#   SOAK_OPS=N       steps (default 1000)
#   SOAK_VMS=N       workloads (default 5)
#   SOAK_VERBOSE=1   print every step
#   SOAK_K8S=1       the daemons also watch the Kubernetes API stand-in
#                    (test/k8s, a test fixture), and its restart is one of
#                    the faults
export LAB_CLUSTER=1
. "$(dirname "$0")/lab-common.sh" "$@"

if [[ ${SOAK_K8S:-0} == 1 ]]; then
    . "$TEST_HERE/lib-k8s.sh"
    k8s_up || { t_fail "API stand-in did not start"; t_summary; exit 1; }
    export LAB_DAEMON_ARGS="--kubeconfig=$K8S_DIR/kubeconfig --node-name={node}"
    for n in 1 2 3; do
        lab_daemon_stop "$n"
        lab_daemon_start "$n" || t_fail "daemon $n with Kubernetes"
    done
    export SOAK_K8S_PID=$K8S_PID
fi

SOAK_SEED=${SOAK_SEED:-$((SRANDOM % 1000000))}
for v in SOAK_SEED SOAK_OPS SOAK_VMS; do
    [[ ${!v:-1} =~ ^[0-9]+$ ]] || { echo "$v must be a number"; exit 2; }
done
echo "seed $SOAK_SEED (${SOAK_OPS:-1000} steps, ${SOAK_VMS:-5} workloads; replay: SOAK_SEED=$SOAK_SEED)"
export SOAK_SEED TEST_HERE
if python3 "$TEST_HERE/soak_migrate.py"; then
    T_PASSED=$((T_PASSED + 1))
else
    T_FAILED=$((T_FAILED + 1))
fi
if [[ ${SOAK_K8S:-0} == 1 ]]; then
    # The soak restarts the stand-in: stop the one that runs now.
    [[ ! -s $K8S_DIR/standin.pid ]] || K8S_PID=$(cat "$K8S_DIR/standin.pid")
    k8s_stop
fi
left=$(leaks)
t_check "nothing leaked${left:+: $left}" [ -z "$left" ]
lab_daemons_exit
t_summary
