#!/usr/bin/env bash
# Runs every test suite and ends with one line "suites: N passed, N failed" (suites, not
# checks; each suite prints its own counts).
#
#   tests/run_all.sh BUILD_DIR [unit]     (make test; make unit-tests for `unit`)
#
# The suites: every unit test binary (BUILD_DIR/tests/test_NAME, one per
# tests/unit/test_NAME.c and tests/fuzz/fuzz_NAME.c), `format` (make format-check),
# `layout` (tests/layout_check.py: file lengths, include cycles), `tokenizer-hf`
# (tests/tokenizer/run.sh: against Hugging Face tokenizers) and `e2e` (tests/e2e/run.sh:
# the real binary, the README's examples, openapi.yaml, the client libraries).
# A suite that cannot run (its binary or script missing) is a failure, never a silent
# skip. To leave suites out on purpose, name them: SKIP="tokenizer-hf e2e" make test;
# they are listed at the end as skipped.
set -u
build=${1:-build}
only=${2:-all}
cd "$(dirname "$0")/.."
passed=0; failed=0; failed_names=(); skipped=()
skip=" ${SKIP:-} "

run_suite() { # name, command...
    local name=$1; shift
    if [[ "$skip" == *" $name "* ]]; then skipped+=("$name"); return; fi
    echo "=== $name"
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("$name"); fi
}
missing() { echo "$1 is missing"; return 1; }

for src in tests/unit/test_*.c tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    name=${name/#fuzz_/test_fuzz_}
    t=$build/tests/$name
    if [ -x "$t" ]; then run_suite "$name" "$t"; else run_suite "$name" missing "$t"; fi
done

if [ "$only" = all ]; then
    run_suite format make -s format-check
    run_suite layout tests/layout_check.py
    run_suite tokenizer-hf tests/tokenizer/run.sh "$build"
    run_suite e2e tests/e2e/run.sh "$build"
fi

[ ${#skipped[@]} -gt 0 ] && echo "skipped on request (SKIP): ${skipped[*]}"
[ ${#failed_names[@]} -gt 0 ] && echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed${skipped:+, ${#skipped[@]} skipped on request}"
[ "$failed" -eq 0 ]
