#!/usr/bin/env bash
# End-to-end tests: start the real BUILD_DIR/encoderd on free loopback ports (the toy
# config, and once the default config), call it with curl and with node's fetch (every
# tests/e2e/*.test.mjs, given ENCODERD_TOY, ENCODERD_BASE and ENCODERD_BIN), check the
# answers against openapi.yaml (tests/openapi, which starts its own servers; npm ci there
# first when its node_modules is missing), call it with the real client libraries
# (tests/clients, npm ci there likewise), check the process itself (--help, a bad model,
# a bad config, SIGTERM). Every server started here is killed by the EXIT trap.
# tei.test.mjs runs Debian's promtool (package prometheus, in the Makefile's DEB_PKGS).
# Usage: tests/e2e/run.sh BUILD_DIR      Ends with "e2e: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
bin=$build/encoderd
tmp=$(mktemp -d)
pids=()
passed=0; failed=0

cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

ok()   { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
# check NAME COMMAND...: passes when the command succeeds
check() { local n=$1; shift; if "$@"; then ok "$n"; else fail "$n"; fi; }

if [ ! -x "$bin" ]; then echo "e2e: $bin is missing (run make)"; echo "e2e: 0 passed, 1 failed"; exit 1; fi
command -v curl >/dev/null || { echo "e2e: curl is missing"; exit 1; }

# start NAME ARGS...: starts encoderd on port 0 and sets PORT once it listens (30 s max).
start() {
    local name=$1; shift
    "$bin" --port 0 "$@" 2>"$tmp/$name.log" &
    local pid=$!
    pids+=("$pid")
    eval "${name}_pid=$pid"
    for _ in $(seq 300); do
        if grep -q 'listening on' "$tmp/$name.log"; then
            PORT=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9]*\) .*/\1/p' "$tmp/$name.log" | head -1)
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "e2e: $name did not start:"; cat "$tmp/$name.log"
    return 1
}

# req METHOD URL [curl args...]: sets CODE and BODY
req() {
    local m=$1 url=$2; shift 2
    CODE=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" "$@" "$url")
    BODY=$(cat "$tmp/body")
}
has() { [[ "$BODY" == *"$1"* ]] || { echo "     body: ${BODY:0:300}"; return 1; }; }

# ---- the process ------------------------------------------------------------------------
out=$("$bin" --help 2>&1); rc=$?
check "--help exits 0" [ $rc -eq 0 ]
for f in --config --model --preset --host --port --threads --help; do
    check "--help lists $f" grep -q -- "$f" <<<"$out"
done

"$bin" --model "$tmp/no-such-model" --port 0 2>"$tmp/badmodel.log"; rc=$?
check "a bad --model exits 1" [ $rc -eq 1 ]
check "a bad --model names the folder" grep -q "no-such-model" "$tmp/badmodel.log"
mkdir -p "$tmp/broken"; echo '{"model_type": "bert"}' >"$tmp/broken/config.json"
"$bin" --model "$tmp/broken" --port 0 2>"$tmp/broken.log"; rc=$?
check "a broken checkpoint exits 1 with a message" [ $rc -eq 1 -a -s "$tmp/broken.log" ]

echo '{"model": {"sede": 1}}' >"$tmp/bad.json"
"$bin" --config "$tmp/bad.json" --port 0 2>"$tmp/badcfg.log"; rc=$?
check "a config with an unknown key exits 1" [ $rc -eq 1 ]
check "the message names model.sede" grep -q "model.sede" "$tmp/badcfg.log"
"$bin" --config "$tmp/missing.json" 2>/dev/null; rc=$?
check "a missing --config exits 1" [ $rc -eq 1 ]
"$bin" --port 99999 2>/dev/null; rc=$?
check "a bad --port is refused" [ $rc -ne 0 ]

# ---- the toy server --------------------------------------------------------------------
start toy --config config/toy.json || { echo "e2e: 0 passed, 1 failed"; exit 1; }
TOY=$PORT
check "start-up line names the model, sizes and address" \
    grep -q "model random-toy (vocab 1000, d_model 4, 2 heads x 3, d_ff 8, 6 layers.*listening on http://127.0.0.1:$TOY" "$tmp/toy.log"
check "listens on 127.0.0.1 only" bash -c "ss -ltnH | awk '{print \$4}' | grep -qx '127.0.0.1:$TOY' && ! ss -ltnH | awk '{print \$4}' | grep -v '^127.0.0.1:' | grep -q ':$TOY\$'"

# The brief's example, exactly as written (curl -d sends form-urlencoded).
out=$(curl -s -d '{"text":"Hello World"}' "localhost:$TOY/encode")
check "curl -d '{\"text\":\"Hello World\"}' localhost/encode answers tokens and an embedding" \
    bash -c '[[ "$1" == *"\"text\":\"hello\""* && "$1" == *"\"embedding\":["* ]]' _ "$out"

req GET "http://127.0.0.1:$TOY/health"
check "GET /health 200" [ "$CODE" = 200 ]
check "GET /health body" has '"status":"ok"'
req POST "http://127.0.0.1:$TOY/tokenize" -d '{"text":"Hello World"}'
check "POST /tokenize 200" [ "$CODE" = 200 ]
req GET "http://127.0.0.1:$TOY/nope"
check "unknown path 404" [ "$CODE" = 404 ]
check "404 body" has '"type":"not_found"'
hdr=$(curl -s -D - -o /dev/null "http://127.0.0.1:$TOY/encode")
check "GET /encode 405 with Allow: POST" bash -c '[[ "$1" == *" 405 "* && "$1" == *"Allow: POST"* ]]' _ "$hdr"
req POST "http://127.0.0.1:$TOY/encode" -H 'Content-Type: text/html' -d '{"text":"a"}'
check "text/html body 415" [ "$CODE" = 415 ]

# A body over 2 MB: declared (Content-Length, with and without Expect) and chunked.
head -c 2200000 /dev/zero | tr '\0' 'a' | { printf '{"text":"'; cat; printf '"}'; } >"$tmp/big.json"
req POST "http://127.0.0.1:$TOY/encode" -H 'Content-Type: application/json' --data-binary @"$tmp/big.json"
check "a 2.2 MB body is 413" [ "$CODE" = 413 ]
check "the 413 says the limit" has '2097152'
req POST "http://127.0.0.1:$TOY/encode" -H 'Expect:' --data-binary @"$tmp/big.json"
check "a 2.2 MB body without Expect is 413" [ "$CODE" = 413 ]
req POST "http://127.0.0.1:$TOY/encode" -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big.json"
check "a 2.2 MB chunked body is 413" [ "$CODE" = 413 ]
# A client that writes its whole body before reading (Python's http.client), 2x, 4x and
# 10x the limit, declared and chunked: the 413 must reach it, not a reset (lingering close).
if command -v python3 >/dev/null; then
    check "python http.client gets the JSON 413 for 2x, 4x, 10x the limit" \
        tests/e2e/post_big.py "$TOY" 2097152
else
    fail "python http.client gets the JSON 413" "python3 is missing (make deps installs it)"
fi
req GET "http://127.0.0.1:$TOY/health"
check "the server still answers after the 413s" [ "$CODE" = 200 ]
check "access log lines: method, path, status, tokens, ms" \
    grep -Eq '^access POST /encode 200 tokens=4 ms=[0-9.]+' "$tmp/toy.log"

# ---- the default config (the base model) ---------------------------------------------------
start base || { echo "e2e: $passed passed, $((failed + 1)) failed"; exit 1; }
BASE=$PORT
check "without --config the default config is used" grep -q "config config/default.json" "$tmp/base.log"
check "the default model is the base encoder" \
    grep -q "random-base (vocab 32000, d_model 512, 8 heads x 64, d_ff 2048, 6 layers.*relu" "$tmp/base.log"

# ---- sequence classifiers: the golden fixtures' cross-encoder (one label) and NLI model -------
start reranker --model tests/golden/fixtures/bert_cls_f32/model --threads 1 ||
    { echo "e2e: $passed passed, $((failed + 1)) failed"; exit 1; }
RERANKER=$PORT
start classifier --model tests/golden/fixtures/roberta_cls_f32/model --threads 1 ||
    { echo "e2e: $passed passed, $((failed + 1)) failed"; exit 1; }
CLASSIFIER=$PORT

# ---- the API in detail: every tests/e2e/*.test.mjs (node --test), then openapi.yaml ----------
# run_node NAME COMMAND...: runs a node --test command with the TAP reporter, prints its
# results and adds its counts to ours.
run_node() {
    local name=$1; shift
    "$@" >"$tmp/$name.tap" 2>&1
    grep -E '^(not )?ok ' "$tmp/$name.tap" | sed "s/^/  $name: /"
    local np nf
    np=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$tmp/$name.tap"); nf=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$tmp/$name.tap")
    if [ -z "$np" ]; then cat "$tmp/$name.tap"; fail "$name: node --test ran"; return; fi
    passed=$((passed + np)); failed=$((failed + ${nf:-0}))
    [ "${nf:-0}" -gt 0 ] && grep -A30 '^not ok' "$tmp/$name.tap" | head -80
    return 0
}
if command -v node >/dev/null; then
    run_node node env ENCODERD_TOY="http://127.0.0.1:$TOY" ENCODERD_BASE="http://127.0.0.1:$BASE" \
        ENCODERD_RERANKER="http://127.0.0.1:$RERANKER" ENCODERD_CLASSIFIER="http://127.0.0.1:$CLASSIFIER" \
        ENCODERD_BIN="$bin" node --test --test-reporter=tap tests/e2e/*.test.mjs
    # openapi.yaml: valid OpenAPI 3.1, and the real answers match it (its own servers).
    if [ ! -d tests/openapi/node_modules/ajv ] || [ ! -d tests/openapi/node_modules/@apidevtools/swagger-parser ]; then
        echo "e2e: npm ci in tests/openapi (swagger-parser, ajv, yaml; pinned in package-lock.json)"
        (cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in tests/openapi"
    fi
    [ -d tests/openapi/node_modules/ajv ] &&
        run_node openapi env ENCODERD_BIN="$bin" node --test --test-reporter=tap tests/openapi/openapi.test.mjs
    # The client libraries from npm (openai, @huggingface/inference, @langchain/openai;
    # pinned in tests/clients/package-lock.json) against the same two servers.
    if [ ! -d tests/clients/node_modules/openai ] || [ ! -d tests/clients/node_modules/@langchain/openai ] ||
        [ ! -d tests/clients/node_modules/@huggingface/inference ]; then
        echo "e2e: npm ci in tests/clients (openai, @huggingface/inference, @langchain/openai)"
        (cd tests/clients && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || fail "npm ci in tests/clients"
    fi
    [ -d tests/clients/node_modules/openai ] &&
        run_node clients env ENCODERD_TOY="http://127.0.0.1:$TOY" ENCODERD_BASE="http://127.0.0.1:$BASE" \
            ENCODERD_CLASSIFIER="http://127.0.0.1:$CLASSIFIER" \
            node --test --test-reporter=tap tests/clients/clients.test.mjs
else
    fail "node is needed for tests/e2e/*.test.mjs and tests/openapi"
fi

# ---- stopping ------------------------------------------------------------------------------
# A request under way when SIGTERM arrives is still answered; the process exits 0.
{ printf '{"outputs":["hidden_states","attention"],"text":"'; seq -f 'w%g' 500 | tr '\n' ' '; printf '"}'; } >"$tmp/slow.json"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BASE/encode" --data-binary @"$tmp/slow.json" >"$tmp/inflight" &
cpid=$!
sleep 0.5
kill -TERM "$base_pid"; wait "$base_pid"; rc=$?
wait "$cpid"
check "SIGTERM: base server exits 0" [ $rc -eq 0 ]
check "SIGTERM: the request under way was answered" [ "$(cat "$tmp/inflight")" = 200 ]
check "SIGTERM: logged" grep -q "SIGTERM received" "$tmp/base.log"
kill -INT "$toy_pid"; wait "$toy_pid"; rc=$?
check "SIGINT: toy server exits 0" [ $rc -eq 0 ]
req GET "http://127.0.0.1:$TOY/health"
check "nothing listens after the stop" [ "$CODE" = 000 ]

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
