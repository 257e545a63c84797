#!/usr/bin/env bash
# tests/fuzz/run.sh FUZZ_BUILD SECONDS NAME... - runs each libFuzzer harness
# FUZZ_BUILD/fuzz_NAME for SECONDS, one after the other, and prints one line per harness:
# executions, executions per second, coverage (cov: edges, ft: features) and corpus size,
# from libFuzzer's final stats. `make fuzz` (60 s each) and `make fuzz-ci` (20 s) call it.
#
# Inputs: the committed seeds tests/fuzz/corpus/NAME and regressions tests/fuzz/regressions/NAME
# (read only); new inputs go to FUZZ_BUILD/corpus/NAME, which persists between runs. A crash
# leaves its input in FUZZ_BUILD/crashes/ and fails the run: fix the bug, then copy the input
# into tests/fuzz/regressions/NAME/ so `make test` replays it from then on.
# Exit status: 0 when no harness found anything.
set -u
cd "$(dirname "$0")/../.."
build=$1 secs=$2; shift 2
mkdir -p "$build/crashes" "$build/logs"
status=0
printf '%-12s %10s %8s %6s %6s %6s  %s\n' harness runs exec/s cov ft corpus result
for name in "$@"; do
    bin=$build/fuzz_$name
    work=$build/corpus/$name
    mkdir -p "$work"
    log=$build/logs/$name.log
    dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
    seeds=(tests/fuzz/corpus/"$name")
    [ -d "tests/fuzz/regressions/$name" ] && seeds+=("tests/fuzz/regressions/$name")
    t0=$(date +%s)
    # -timeout: one input over 10 s is a hang; -rss_limit_mb: a leak or a huge allocation.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -artifact_prefix="$build/crashes/$name-" "${dict[@]}" "$work" "${seeds[@]}" \
        >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    dt=$(( $(date +%s) - t0 )); [ "$dt" -gt 0 ] || dt=1
    result=ok
    if [ $rc -ne 0 ]; then
        status=1
        result="FAILED (exit $rc): $(ls -t "$build"/crashes/"$name"-* 2>/dev/null | head -1)"
    fi
    printf '%-12s %10s %8s %6s %6s %6s  %s\n' "$name" "${runs:-?}" "$(( ${runs:-0} / dt ))" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
    if [ $rc -ne 0 ]; then
        grep -E 'ERROR|runtime error|broken promise|SUMMARY|^    #[0-9]' "$log" | head -30 | sed 's/^/    /'
        echo "    full log: $log"
    fi
done
[ $status -eq 0 ] && echo "fuzz: no crash, no leak, no hang" || echo "fuzz: FAILED (inputs in $build/crashes/)"
exit $status
