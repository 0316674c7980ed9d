#!/bin/bash
# The test command: installs what is missing (Debian 12, as root), builds
# ovn-lm twice -- plain, and with AddressSanitizer + UBSan -- and runs the
# whole suite (unit, fuzz-corpus replays, namespace and lab tests) in each;
# then builds the libFuzzer targets with clang and fuzzes each for a bounded
# time (OVN_LM_FUZZ_SMOKE_SECONDS, default 10).
#
#   scripts/test.sh              everything
#   scripts/test.sh -R lab       only tests whose name matches (ctest -R)
#   OVN_LM_TEST_FLAVOURS=plain scripts/test.sh    one build only
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

flavours=${OVN_LM_TEST_FLAVOURS:-"plain asan fuzz"}
jobs=$(nproc)
started=$SECONDS
for flavour in $flavours; do
    case $flavour in
    plain) dir=build opts=() ;;
    asan) dir=build-asan opts=(-DOVN_LM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
    fuzz)
        # A bounded smoke run of every fuzz target (the corpus replays run
        # in the other builds).  New inputs stay in the build tree.
        secs=${OVN_LM_FUZZ_SMOKE_SECONDS:-10}
        echo "=== fuzz build (build-fuzz, clang)"
        CC=clang cmake -S . -B build-fuzz -DOVN_LM_FUZZ=ON \
            -DOVN_LM_FUZZ_SECONDS="$secs" >/dev/null
        targets=$(make -C build-fuzz help | grep -o 'run-fuzz[a-z-]*' | sort -u)
        for t in $targets; do
            echo "=== ${t#run-}: fuzzing for $secs s"
            if ! make -C build-fuzz --no-print-directory "$t" \
                >"build-fuzz/$t.log" 2>&1; then
                tail -40 "build-fuzz/$t.log"
                echo "test.sh: ${t#run-} found a crash (build-fuzz/$t.log)" >&2
                exit 1
            fi
            grep -E '^Done' "build-fuzz/$t.log" || :
        done
        continue ;;
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
