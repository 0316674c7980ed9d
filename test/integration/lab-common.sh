# lab-common.sh: what every lab test script does first.  Usage, from a test:
#   . "$(dirname "$0")/lab-common.sh" OVN-LM-BINARY DAEMON-BINARY
# Brings up a fresh 3-chassis lab with the daemon on each chassis under a
# new prefix, and tears it down on exit, whatever happens.

set -uo pipefail
OVN_LM_CNI=$(realpath "$1")
LAB_DAEMON=$(realpath "$2")
export OVN_LM_CNI LAB_DAEMON

TEST_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_SH=$TEST_HERE/../lab/lab.sh
# shellcheck source=../lab/lib.sh
. "$TEST_HERE/../lab/lib.sh"
# shellcheck source=lib-cni.sh
. "$TEST_HERE/lib-cni.sh"

LAB_PREFIX=$(lab_new_prefix)
LAB_DIR=/tmp/ovn-lm-lab-$LAB_PREFIX
LAB_CHASSIS=${LAB_CHASSIS:-3}
export LAB_PREFIX LAB_DIR LAB_CHASSIS

lab_teardown() {
    local rc=$?
    if ((T_FAILED)) || ((rc)); then
        echo "--- daemon logs (WARN/ERR) ---"
        grep -h -E '\|(WARN|ERR|EMER)\|' "$LAB_DIR"/h*/ovn-controller-ext.log \
            2>/dev/null | tail -20
    fi
    "$LAB_SH" down >/dev/null 2>&1 || "$LAB_SH" down
}
trap lab_teardown EXIT
trap 'exit 130' INT TERM

# With a sanitizer build, reports of detached daemons would be lost with
# their stderr: send them into the lab, where t_summary looks.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$LAB_DIR/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$LAB_DIR/sanitizer"

"$LAB_SH" up >/dev/null || { echo "lab did not come up"; exit 1; }
lab_load
# lab_load sources the env file, which names the daemon it was built with.
export LAB_DAEMON
