#!/usr/bin/env bash
# tests/hostile/run.sh BUILD_DIR [FILE...] - the real BUILD_DIR/encoderd on 127.0.0.1 against
# hostile clients, one test file at a time (they measure time and memory):
#   bodies       deep nesting, huge lists, surrogates, 1e999, big integers: a 4xx in < 1 s
#   connections  200 idle sockets + slowloris, max_connections, timeouts; 20 and 48 clients
#                that never read a ~200 MB answer: peak RSS within the answer memory's
#                bound, 503 + Retry-After past queue_timeout_ms, cut after
#                connection_timeout_s, RSS back within 10% (needs python3)
#   disconnects  50 clients vanishing mid-request (large T, every output): RSS flat
#   load         wrk -c 64 on /encode, 2 rounds of HOSTILE_WRK_SECONDS (default 30)
#   signals      SIGTERM with 16 long requests in flight (all 200, exit 0), SIGTERM with
#                half-sent requests, a storm of SIGHUP reloads under load
#   models       broken checkpoint folders: exit 1 naming the file, no crash, no hang
#   security     default bind, path tricks -> 404, nosniff everywhere, the key and control
#                bytes never logged
#   framing      request heads framed ambiguously (Content-Length with Transfer-Encoding,
#                repeated, odd names, a NUL in the path...): one JSON 400, then closed; a
#                chunked body cut at the cap; lingering close after an early answer
#   config       config files broken next to the API key, at start and on SIGHUP: the
#                key never in the log
# Every server's stderr is kept; at the end every API key the tests gave a server is
# looked for in all of them (one more check: "secrets").
# Every server is started on port 0 and stopped with SIGTERM when its test ends, which must
# exit 0 with no sanitizer report. With a sanitizer build (a BUILD_DIR ending in -san) the
# time bounds are stretched (HOSTILE_TIME_SCALE=4).
# Ends with "hostile: N passed, N failed"; exit 1 when any failed.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}; shift || true
bin=$build/encoderd
[ -x "$bin" ] || { echo "hostile: $bin is missing (run make)"; exit 1; }
command -v node >/dev/null || { echo "hostile: node is missing (make deps installs it)"; exit 1; }
command -v wrk >/dev/null || echo "hostile: wrk is missing: the load test is skipped (make test-hostile installs it)"
case "$build" in *-san) export HOSTILE_TIME_SCALE=${HOSTILE_TIME_SCALE:-4} ;; esac
export ENCODERD_BIN=$bin
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(bodies connections disconnects load signals models security framing config)
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
export HOSTILE_LOG_DIR=$out/logs
mkdir -p "$HOSTILE_LOG_DIR"
passed=0; failed=0
for f in "${files[@]}"; do
    f=${f%.test.mjs}; f=${f##*/}
    t0=$(date +%s)
    node --test --test-reporter=tap "tests/hostile/$f.test.mjs" >"$out/$f.tap" 2>&1
    np=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$out/$f.tap"); nf=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$out/$f.tap")
    grep -E '^(not )?ok |^# \\# ' "$out/$f.tap" | sed 's/^# \\# /  # /' | sed "s/^/  $f: /"
    if [ -z "$np" ]; then cat "$out/$f.tap"; failed=$((failed + 1)); continue; fi
    passed=$((passed + np)); failed=$((failed + ${nf:-0}))
    [ "${nf:-0}" -gt 0 ] && grep -A25 '^not ok' "$out/$f.tap" | head -60
    echo "  $f: $np passed, ${nf:-0} failed in $(( $(date +%s) - t0 )) s"
done
# Every key given to a server, in every server's log of the suite (lib.mjs keeps both).
nlogs=$(find "$HOSTILE_LOG_DIR" -name '*.log' | wc -l)
nkeys=0; leaked=()
if [ -s "$HOSTILE_LOG_DIR/secrets" ]; then
    while IFS= read -r key; do
        [ -n "$key" ] || continue
        nkeys=$((nkeys + 1))
        grep -rqF --include='*.log' -- "$key" "$HOSTILE_LOG_DIR" && leaked+=("$key")
    done < <(sort -u "$HOSTILE_LOG_DIR/secrets")
fi
if [ "$nkeys" -eq 0 ]; then
    echo "  secrets: no API key was given to a server in these files (nothing to look for)"
elif [ ${#leaked[@]} -gt 0 ]; then
    failed=$((failed + 1))
    echo "  secrets: not ok: ${#leaked[@]} of $nkeys API keys found in the servers' logs:"
    for k in "${leaked[@]}"; do grep -rlF --include='*.log' -- "$k" "$HOSTILE_LOG_DIR" | sed 's/^/    /'; done
else
    passed=$((passed + 1))
    echo "  secrets: ok: $nkeys API keys, none in the $nlogs servers' logs"
fi
echo "hostile: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
