#!/usr/bin/env bash
# make scale-test: scale-out on one machine. Two build/encoderd replicas on loopback ports
# behind Debian's nginx (its own config, prefix and logs in a temp dir; the system nginx,
# if any, is not touched), and wrk through nginx:
#   phase 1  both replicas up: every answer is a 200 and both replicas served (their
#            /metrics encoderd_requests_total counters grew);
#   phase 2  replica B is killed (SIGKILL) in the middle of the load: every answer wrk gets
#            is still a 200; the requests that hit B as it died or after were retried by
#            nginx on A (counted from nginx's access log, $upstream_status);
#   phase 3  B is started again on its port: nginx sends it traffic again.
# Usage: tests/scale/run.sh [BUILD_DIR]. Bounded: about 30 s. Ends with "N passed, N failed";
# the logs (nginx's and the replicas') are copied to BUILD_DIR/scale/.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
BIN=$build/encoderd
CONNS=${SCALE_CONNECTIONS:-8}
P1_S=${SCALE_PHASE1_SECONDS:-8}     # phase 1 load
P2_S=${SCALE_PHASE2_SECONDS:-10}    # phase 2 load; B is killed after KILL_AT s of it
KILL_AT=${SCALE_KILL_AT:-3}
P3_S=${SCALE_PHASE3_SECONDS:-4}
FAIL_TIMEOUT=2                      # nginx: a failed replica is left alone this long
passed=0; failed=0

ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
say() { echo "scale-test: $*"; }

[ -x "$BIN" ] || { say "$BIN is missing (make first)"; exit 1; }
missing=""
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    say "installing:$missing"
    $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
        --no-install-recommends $missing || exit 1
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

TMP=$(mktemp -d /tmp/encoderd-scale.XXXXXX)
chmod 0755 "$TMP" # nginx's workers (user nobody) write their temp files under it
LOGDIR=$build/scale
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"
PID_A=""; PID_B=""; PID_NGINX=""; PID_WRK=""

stop_pid() { # pid [signal]: stops one process this script started, waits for it
    [ -n "$1" ] || return 0
    kill "-${2:-TERM}" "$1" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}
cleanup() {
    stop_pid "$PID_WRK"; stop_pid "$PID_NGINX" QUIT; stop_pid "$PID_A"; stop_pid "$PID_B"
    cp "$TMP"/*.log "$LOGDIR"/ 2>/dev/null
    cp "$TMP"/nginx.conf "$LOGDIR"/ 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { local p=$1; while ! port_free "$p"; do p=$((p + 1)); done; echo "$p"; }

# The replicas: the minilm preset (all-MiniLM-L6-v2's shape, seeded random weights), one
# compute thread each (two replicas, two cores), any free port (read from the log).
cat > "$TMP/replica.json" <<'EOF'
{ "host": "127.0.0.1", "port": 0, "threads": 1, "workers": 1, "max_queue": 256,
  "model": { "path": null, "preset": "minilm", "seed": 42 } }
EOF
# start_replica NAME [PORT]: sets REPLICA_PID and REPLICA_PORT
start_replica() {
    local name=$1 port=${2:-0}
    "$BIN" --config "$TMP/replica.json" --port "$port" >> "$TMP/$name.log" 2>&1 &
    REPLICA_PID=$!
    REPLICA_PORT=""
    for _ in $(seq 1 300); do
        REPLICA_PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.log" | tail -1)
        [ -n "$REPLICA_PORT" ] && [ "$port" = 0 -o "$REPLICA_PORT" = "$port" ] && \
            curl -fsS -m 2 "http://127.0.0.1:$REPLICA_PORT/health" >/dev/null 2>&1 && return 0
        kill -0 "$REPLICA_PID" 2>/dev/null || break
        sleep 0.1
    done
    say "replica $name did not start:"; tail -5 "$TMP/$name.log"; exit 1
}
served() { # port: the replica's encoderd_requests_total for POST /encode 200, or -1
    curl -fsS -m 5 "http://127.0.0.1:$1/metrics" 2>/dev/null |
        awk '/^encoderd_requests_total\{route="\/encode",status="200"\}/ {n = $2} END {print (n == "" ? -1 : n)}'
}

start_replica A; PID_A=$REPLICA_PID; PORT_A=$REPLICA_PORT
start_replica B; PID_B=$REPLICA_PID; PORT_B=$REPLICA_PORT
PORT_N=$(pick_port 18480)

# nginx: everything under $TMP (-p prefix, -e the start-up error log before the config is
# read). POST /encode is pure (same input, same answer), so a request cut off by a dying
# replica may be sent again: non_idempotent allows it. A 429 (that replica's queue is full)
# or 503 (stopping, or waited too long) is tried on the other one too. The same settings
# as docker/nginx.conf.
cat > "$TMP/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
    log_format scale '\$status|\$upstream_addr|\$upstream_status|\$request_time';
    access_log $TMP/nginx-access.log scale;
    client_body_temp_path $TMP/client_body;
    proxy_temp_path $TMP/proxy_temp;
    fastcgi_temp_path $TMP/fastcgi_temp;
    uwsgi_temp_path $TMP/uwsgi_temp;
    scgi_temp_path $TMP/scgi_temp;
    upstream encoderd {
        server 127.0.0.1:$PORT_A max_fails=1 fail_timeout=${FAIL_TIMEOUT}s;
        server 127.0.0.1:$PORT_B max_fails=1 fail_timeout=${FAIL_TIMEOUT}s;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$PORT_N;
        client_max_body_size 2m;
        location / {
            proxy_pass http://encoderd;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503 http_504 http_429 non_idempotent;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
        }
    }
}
EOF
"$NGINX" -t -q -e "$TMP/nginx-error.log" -p "$TMP/" -c "$TMP/nginx.conf" || { cat "$TMP/nginx-error.log"; exit 1; }
"$NGINX" -e "$TMP/nginx-error.log" -p "$TMP/" -c "$TMP/nginx.conf" -g 'daemon off;' &
PID_NGINX=$!
for _ in $(seq 1 100); do
    curl -fsS -m 2 "http://127.0.0.1:$PORT_N/health" >/dev/null 2>&1 && break; sleep 0.1
done
curl -fsS -m 2 "http://127.0.0.1:$PORT_N/health" >/dev/null 2>&1 || { say "nginx did not start"; cat "$TMP/nginx-error.log"; exit 1; }
say "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //') on 127.0.0.1:$PORT_N -> replicas A 127.0.0.1:$PORT_A (pid $PID_A), B 127.0.0.1:$PORT_B (pid $PID_B); minilm preset, 1 thread each"

# The request: 14 words, 16 tokens with [CLS] and [SEP], the embedding only.
printf '%s' '{"text":"the quick brown fox jumps over the lazy dog while seven wizards quietly watch","outputs":["embedding"]}' > "$TMP/body.json"
export SCALE_BODY=$TMP/body.json
run_wrk() { # seconds outfile
    wrk -t1 -c"$CONNS" -d"$1s" --timeout 10s -s tests/scale/post.lua "http://127.0.0.1:$PORT_N/encode" > "$2" 2>&1
}
wrk_field() { sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p" "$2" | tail -1; }
log_lines() { wc -l < "$TMP/nginx-access.log"; }
slice() { sed -n "$(( $1 + 1 )),$2p" "$TMP/nginx-access.log"; } # lines after $1 up to $2

# check_wrk NAME FILE: every answer wrk got was a 2xx, no socket error.
check_wrk() {
    local req non2xx errs
    req=$(wrk_field requests "$2"); non2xx=$(wrk_field non2xx "$2")
    errs=$(( $(wrk_field connect "$2") + $(wrk_field read "$2") + $(wrk_field write "$2") + $(wrk_field timeout "$2") ))
    if [ -n "$req" ] && [ "$req" -gt 0 ] && [ "$non2xx" = 0 ] && [ "$errs" = 0 ]; then
        ok "$1: wrk $req requests, $(wrk_field rps "$2") req/s, p50 $(wrk_field p50_ms "$2") ms, p99 $(wrk_field p99_ms "$2") ms; all 200 (non-2xx 0, socket errors 0)"
    else
        bad "$1: wrk requests ${req:-?}, non-2xx ${non2xx:-?}, socket errors ${errs:-?}"; cat "$2"
    fi
}
# summary LINES: the nginx access log lines of a phase, by final status, replica and retries
summarize() {
    awk -F'|' -v a="127.0.0.1:$PORT_A" -v b="127.0.0.1:$PORT_B" '
        { st[$1]++; n = split($2, ad, ", "); last = ad[n]; gsub(/ /, "", last)
          if ($1 == 200) { if (last == a) sa++; else if (last == b) sb++ }
          if (n > 1) { retried++; if ($1 == 200) retried_ok++ } }
        END { s = ""; for (k in st) s = s k ":" st[k] " "
              printf "%s|%d|%d|%d|%d\n", s, sa, sb, retried, retried_ok }'
}

# ---- phase 1: both replicas ------------------------------------------------------------
say "phase 1: ${P1_S} s of wrk ($CONNS connections) through nginx, both replicas up"
a0=$(served "$PORT_A"); b0=$(served "$PORT_B"); l0=$(log_lines)
run_wrk "$P1_S" "$TMP/wrk1.txt"
sleep 0.5
a1=$(served "$PORT_A"); b1=$(served "$PORT_B"); l1=$(log_lines)
check_wrk "phase 1" "$TMP/wrk1.txt"
IFS='|' read -r st1 na1 nb1 re1 reok1 <<< "$(slice "$l0" "$l1" | summarize)"
da=$((a1 - a0)); db=$((b1 - b0))
if [ "$da" -gt 0 ] && [ "$db" -gt 0 ]; then
    ok "phase 1: both replicas served: /metrics encoderd_requests_total{route=\"/encode\",status=\"200\"} grew by A $da, B $db (nginx log: A $na1, B $nb1; nginx statuses: $st1)"
else
    bad "phase 1: replica counters grew by A $da, B $db"
fi

# ---- phase 2: B killed mid-load --------------------------------------------------------
say "phase 2: ${P2_S} s of wrk; replica B (pid $PID_B) gets SIGKILL after ${KILL_AT} s"
a1=$(served "$PORT_A"); l1=$(log_lines)
run_wrk "$P2_S" "$TMP/wrk2.txt" &
PID_WRK=$!
sleep "$KILL_AT"
b_before=$(served "$PORT_B")
kill -KILL "$PID_B"; wait "$PID_B" 2>/dev/null; PID_B=""
say "  killed B at ${KILL_AT} s (B had answered $((b_before - b1)) /encode requests of this phase a moment before)"
wait "$PID_WRK"; PID_WRK=""
sleep 0.5
a2=$(served "$PORT_A"); l2=$(log_lines)
check_wrk "phase 2" "$TMP/wrk2.txt"
IFS='|' read -r st2 na2 nb2 re2 reok2 <<< "$(slice "$l1" "$l2" | summarize)"
# 499: wrk closed its connections at the end of its run with requests in flight (not
# answers wrk counted); any other status than 200 and 499 is a failure.
other2=$(slice "$l1" "$l2" | awk -F'|' '$1 != 200 && $1 != 499' | wc -l)
cut2=$(slice "$l1" "$l2" | awk -F'|' '$1 == 499' | wc -l)
errlog=$(grep -c '\[error\]' "$TMP/nginx-error.log" || true)
refused=$(grep -c 'Connection refused' "$TMP/nginx-error.log" || true)
premature=$(grep -c -E 'prematurely closed|reset by peer' "$TMP/nginx-error.log" || true)
if [ "$other2" = 0 ] && [ "$re2" -gt 0 ] && [ "$re2" = "$reok2" ]; then
    ok "phase 2: nginx routed around B: $re2 requests retried on A after B failed, all $reok2 answered 200; no other failure (nginx statuses: $st2; final replica A $na2, B $nb2 before the kill); nginx error log: $errlog errors ($refused connection refused, $premature cut off mid-request)"
else
    bad "phase 2: retried $re2 (200 after retry: $reok2), statuses other than 200/499: $other2 (nginx statuses: $st2)"
    grep '\[error\]' "$TMP/nginx-error.log" | tail -5
fi
[ "$cut2" -le "$CONNS" ] || bad "phase 2: $cut2 requests cut (499), more than the $CONNS connections"
[ $((a2 - a1)) -gt 0 ] && ok "phase 2: A's counter grew by $((a2 - a1)) (nginx log: A $na2)" || bad "phase 2: A's counter did not grow"

# ---- phase 3: B back -------------------------------------------------------------------
say "phase 3: B started again on 127.0.0.1:$PORT_B; ${P3_S} s of wrk after nginx's fail_timeout (${FAIL_TIMEOUT} s)"
start_replica B "$PORT_B"; PID_B=$REPLICA_PID
sleep "$FAIL_TIMEOUT"
a2=$(served "$PORT_A"); b2=$(served "$PORT_B"); l2=$(log_lines)
run_wrk "$P3_S" "$TMP/wrk3.txt"
sleep 0.5
a3=$(served "$PORT_A"); b3=$(served "$PORT_B"); l3=$(log_lines)
check_wrk "phase 3" "$TMP/wrk3.txt"
IFS='|' read -r st3 na3 nb3 re3 reok3 <<< "$(slice "$l2" "$l3" | summarize)"
if [ $((b3 - b2)) -gt 0 ] && [ $((a3 - a2)) -gt 0 ]; then
    ok "phase 3: B serves again: counters grew by A $((a3 - a2)), B $((b3 - b2)) (nginx log: A $na3, B $nb3)"
else
    bad "phase 3: counters grew by A $((a3 - a2)), B $((b3 - b2))"
fi

total=0; fails=0
for f in "$TMP"/wrk[123].txt; do
    total=$((total + $(wrk_field requests "$f")))
    fails=$((fails + $(wrk_field non2xx "$f") + $(wrk_field connect "$f") + $(wrk_field read "$f") + $(wrk_field write "$f") + $(wrk_field timeout "$f")))
done
say "figures: $total requests through nginx in 3 phases, $fails failed (non-2xx or socket errors, as wrk counts them); when B was killed nginx retried $re2 on A ($reok2 answered 200); $((cut2)) in flight when wrk stopped (499, not counted as answers)"
echo "scale-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
