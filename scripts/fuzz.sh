#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz, with clang and AddressSanitizer + UBSan) in
# build-fuzz/ and runs each for SECONDS seconds (default 30) on a copy of its seed corpus
# (tests/fuzz/<target>/; the committed seeds are never modified). Prints one line per target
# with the number of executions (targets run in parallel, one per core); crashing inputs are kept in build-fuzz/artifacts/. Exit status
# is non-zero when any target found a crash, a leak or a timeout.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -e
cd "$(dirname "$0")/.."
secs=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-"safetensors idx cifar tinyimagenet jpeg axmul config"}
jobs=$(nproc 2>/dev/null || echo 2)
command -v clang >/dev/null || { echo "fuzz.sh: clang is needed (apt-get install clang)" >&2; exit 1; }
CC=clang cmake -S tests/fuzz -B build-fuzz >/dev/null
cmake --build build-fuzz -j"$jobs" >/dev/null
mkdir -p build-fuzz/artifacts build-fuzz/logs
# scratch files on tmpfs when there is one: the readers under test take paths
scratch=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && [ -z "$TMPDIR" ] && scratch=/dev/shm
work=$(mktemp -d "$scratch/axnn-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
# run_one TARGET: runs it and writes its summary line to $work/TARGET.result
run_one() {
    t=$1
    mkdir -p "$work/$t" "$work/tmp-$t"
    log=build-fuzz/logs/$t.log
    maxlen=8192
    [ "$t" = axmul ] && maxlen=300000 # a table is 128 to 260 kB
    rc=0
    TMPDIR="$work/tmp-$t" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ./build-fuzz/fuzz_"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=$maxlen -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/"$t"- \
        "$work/$t" tests/fuzz/"$t" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1) || true
    if [ $rc -eq 0 ]; then
        echo "fuzz $t: ${execs:-?} executions in ${secs}s, no crash" >"$work/$t.result"
    else
        { echo "fuzz $t: FAILED (exit $rc) after ${execs:-?} executions; log $log:"
          grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -n 8; } >"$work/$t.result"
    fi
}
# As many targets at once as there are cores.
running=0
for t in $targets; do
    run_one "$t" &
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then
        wait
        running=0
    fi
done
wait
status=0
for t in $targets; do
    cat "$work/$t.result"
    if grep -q FAILED "$work/$t.result"; then status=1; fi
done
exit $status
