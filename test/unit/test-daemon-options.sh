#!/bin/bash
# ovn-controller-ext refuses a bad --migration-timeout with a clear error
# before it does anything (nan, inf and 1e300 used to be accepted, and
# converting them to a count of milliseconds is undefined).
#
# usage: test-daemon-options.sh DAEMON-BINARY
set -u
daemon=$1
passed=0 failed=0
# With root, in a namespace of its own: a value wrongly accepted would have
# the daemon go on to connect to things.
run=()
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
    run=(unshare -n)
fi

bad() {
    local out rc
    # Paths that cannot exist: a value wrongly accepted makes the daemon
    # fail later, on them, with another message, and touch nothing.
    out=$(timeout 10 "${run[@]}" "$daemon" "$1" --unixctl=/nonexistent/ctl \
        --ovs-db=unix:/nonexistent/db.sock --socket=/nonexistent/cni.sock \
        --metrics-address=none --kubernetes=off --chassis=none \
        2>&1 </dev/null)
    rc=$?
    if [ "$rc" = 1 ] && grep -q -- "--migration-timeout: \"${1#*=}\" is not" <<<"$out"; then
        echo "ok   refused: $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1: wanted exit 1 and an error naming the option and the value; got exit $rc: $out"
        failed=$((failed + 1))
    fi
}

for v in nan NaN inf -inf infinity 1e300 86401 -1 "" 5s abc; do
    bad "--migration-timeout=$v"
done
# A good value goes past the parsing (it fails later, on the missing
# databases, with another message).
out=$(timeout 10 "${run[@]}" "$daemon" --migration-timeout=1.5 --help 2>&1)
if grep -q -- '--migration-timeout=S' <<<"$out"; then
    echo "ok   accepted: --migration-timeout=1.5"
    passed=$((passed + 1))
else
    echo "FAIL --migration-timeout=1.5 was not accepted: $out"
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
