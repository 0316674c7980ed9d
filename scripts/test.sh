#!/bin/bash
# The test command: installs what is missing (Debian 12, as root), builds
# ovn-lm twice -- plain, and with AddressSanitizer + UBSan -- and runs the
# whole suite (unit, fuzz-corpus replays, namespace and lab tests) in each.
#
#   scripts/test.sh              everything
#   scripts/test.sh -R lab       only tests whose name matches (ctest -R)
#   OVN_LM_TEST_FLAVOURS=plain scripts/test.sh    one build only
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

flavours=${OVN_LM_TEST_FLAVOURS:-"plain asan"}
jobs=$(nproc)
started=$SECONDS
for flavour in $flavours; do
    case $flavour in
    plain) dir=build opts=() ;;
    asan) dir=build-asan opts=(-DOVN_LM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
    *) echo "test.sh: unknown flavour $flavour" >&2; exit 2 ;;
    esac
    echo "=== $flavour build ($dir)"
    cmake -S . -B "$dir" "${opts[@]}" >/dev/null
    make -C "$dir" -j"$jobs" --no-print-directory 2>&1 | grep -E 'error|warning:|Error' || :
    make -C "$dir" -j"$jobs" --no-print-directory >/dev/null
    echo "=== $flavour tests"
    # Leaks are checked by LSan in the asan build; the lab daemons run
    # detached, so their reports land in their logs, which tests read.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@"
done
echo "=== all flavours passed in $((SECONDS - started)) s"
