#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed" (suites, not checks;
# each suite prints its own counts). Usage: tests/run_all.sh BUILD_DIR [unit]
set -u
build=${1:-build}
only=${2:-all}
cd "$(dirname "$0")/.."
passed=0; failed=0; failed_names=()

run_suite() { # name, command...
    local name=$1; shift
    echo "=== $name"
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("$name"); fi
}

for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run_suite "$(basename "$t")" "$t"
done

if [ "$only" = all ]; then
    run_suite format-check make -s format-check
    for s in tests/tokenizer/run.sh tests/e2e/run.sh; do
        [ -x "$s" ] && run_suite "$s" "$s" "$build"
    done
fi

[ ${#failed_names[@]} -gt 0 ] && echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
