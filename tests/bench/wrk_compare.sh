#!/usr/bin/env bash
# The wrk rows of `make bench` at 1, 8 and 64 connections (16-token embeddings, 6 s; the
# 128-token all-outputs answers of ~20 MB, 10 s), against two or more encoderd binaries
# in turn, ROUNDS times (default 2) each: a change's cost to well-behaved clients, with
# the shared machine's drift spread over both sides. Same config, bodies and wrk script
# as bench.sh (minilm preset, 2 threads). Prints one line per run and, at the end, each
# binary's best req/s per row, its median CPU time per request (the server's user +
# system time over the run / requests) and its median page faults per request (what
# mapping and unmapping memory costs): on a machine shared with other work, req/s moves
# with the others' load; page faults do not, CPU time less so.
#
#   tests/bench/wrk_compare.sh BIN_A BIN_B [...]      (ROUNDS=N to change the rounds)
set -uo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { sed -n '2,9p' "$0"; exit 2; }
command -v wrk >/dev/null || { echo "wrk_compare: wrk is missing (make bench installs it)"; exit 1; }
HERE=tests/bench
PY=/usr/bin/python3
OUT=$(mktemp -d); trap 'stop; rm -rf "$OUT"' EXIT
ROWS=("emb16 1 6" "emb16 8 6" "emb16 64 6" "all128 1 10" "all128 8 10" "all128 64 10")
words() { $PY -c "import sys; print(' '.join(f'w{i % 97}x{i}' for i in range(int(sys.argv[1]))))" "$1"; }
printf '{"text": "%s", "outputs": ["embedding"]}\n' "$(words 14)" >"$OUT/emb16.json"
printf '{"text": "%s", "outputs": ["tokens", "embedding", "hidden_states", "attention"]}\n' \
    "$(words 126)" >"$OUT/all128.json"
PID=
stop() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
start() { # BIN: encoderd on a free port, as bench.sh starts it
    local port
    port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf '{"host": "127.0.0.1", "port": %s, "threads": 2, "model": {"preset": "minilm", "seed": 42}}\n' \
        "$port" >"$OUT/server.json"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$1" --config "$OUT/server.json" 2>"$OUT/server.log" &
    PID=$!
    URL=http://127.0.0.1:$port
    $PY $HERE/wait_health.py "$port" "$PID" >/dev/null || { cat "$OUT/server.log"; exit 1; }
}
for round in $(seq "${ROUNDS:-2}"); do
    for bin in "$@"; do
        start "$bin"
        for row in "${ROWS[@]}"; do
            read -r body conns secs <<<"$row"
            sleep 1
            read -r t0 f0 < <(awk '{print $14 + $15, $10}' "/proc/$PID/stat")
            line=$(BENCH_BODY="$OUT/$body.json" wrk -t1 -c"$conns" -d"${secs}s" --timeout 60s \
                -s $HERE/post.lua "$URL/encode" | grep '^wrk')
            read -r t1 f1 < <(awk '{print $14 + $15, $10}' "/proc/$PID/stat")
            # wrk requests duration_us req/s p50 p99 mean max non2xx socket_errors
            read -r _ reqs _ rps p50 p99 _ _ non2xx errs <<<"$line"
            cpu=$(awk -v t="$((t1 - t0))" -v n="$reqs" -v hz="$(getconf CLK_TCK)" \
                'BEGIN {printf "%.2f", n ? t * 1000 / hz / n : 0}')
            faults=$(awk -v f="$((f1 - f0))" -v n="$reqs" 'BEGIN {printf "%.0f", n ? f / n : 0}')
            echo -e "$round\t$bin\t$body\t$conns\t$rps\t$p50\t$p99\t$non2xx\t$errs\t$cpu\t$faults" | tee -a "$OUT/runs.tsv"
        done
        stop
    done
done
echo "row, connections, then for each binary: best req/s, median CPU ms and page faults per request (of ${ROUNDS:-2} rounds)"
for row in "${ROWS[@]}"; do
    read -r body conns _ <<<"$row"
    printf '%s\t%s' "$body" "$conns"
    for bin in "$@"; do
        best=$(awk -F'\t' -v b="$bin" -v r="$body" -v c="$conns" \
            '$2 == b && $3 == r && $4 == c && $5 > m {m = $5} END {print m}' "$OUT/runs.tsv")
        median() { # column of this binary's runs of this row
            awk -F'\t' -v b="$bin" -v r="$body" -v c="$conns" -v k="$1" '$2 == b && $3 == r && $4 == c {print $k}' \
                "$OUT/runs.tsv" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
        }
        printf '\t%s\t%s\t%s' "$best" "$(median 10)" "$(median 11)"
    done
    echo
done
