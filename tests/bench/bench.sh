#!/usr/bin/env bash
# The benchmark of `make bench` (tests/bench/README.md): encoderd in-process, ONNX Runtime
# and PyTorch on the same weights, then HTTP with wrk; prints a Markdown table and writes
# it to BUILD_DIR/bench.md.
#
#   tests/bench/bench.sh [BUILD_DIR] [--quick | --inside | --modernbert]
#
# BUILD_DIR (default build) must hold libencoder.a and encoderd (`make bench` builds them).
# --quick: few repetitions, shapes 1x8 and 32x16 only, no HTTP part (a sanity pass).
# --inside: only the HTTP rows of every output of the pass (queries ... predictions) for one
# 128-token input, JSON and base64, beside embedding only; table in BUILD_DIR/bench-inside.md.
# --modernbert: only the ModernBERT-shaped block (encoderd --model vs ONNX Runtime).
#
# Every side runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its own
# environment (as on a user's machine); nothing is changed globally. Exits non-zero when
# a correctness check fails or a step did not run.
set -uo pipefail
cd "$(dirname "$0")/../.."

BUILD=build
QUICK=0
INSIDE=0
MB_ONLY=0
for a in "$@"; do
    case $a in
    --quick) QUICK=1 ;;
    --inside) INSIDE=1 ;;
    --modernbert) MB_ONLY=1 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) BUILD=$a ;;
    esac
done
OUT=$BUILD/bench
HERE=tests/bench
mkdir -p "$OUT"
rm -f "$OUT"/*.tsv "$OUT"/*.log
CLEAN=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
PY=/usr/bin/python3 # Debian's, with python3-torch (a pyenv python3 on PATH has no torch)
FAILED=()

say() { echo "bench: $*" >&2; }
# step NAME OUTFILE CMD...: runs CMD with stdout to OUTFILE and stderr to OUT/NAME.log
# (shown live, indented); records a failure and goes on.
step() {
    local name=$1 out=$2
    shift 2
    say "$name"
    if ! { "$@" 2>&1 >"$out"; } | tee "$OUT/$name.log" | sed 's/^/    /' >&2; then
        FAILED+=("$name")
        say "$name FAILED (log: $OUT/$name.log)"
        return 1
    fi
}
apt_install() { # PKG...: installs the Debian packages that are missing
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    say "installing ${missing[*]}"
    $sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
        $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "$QUICK" -eq 1 ]; then
    SHAPES=1x8,32x16
    TIMING=(--min-time 0.2 --warmup-time 0.1 --min-reps 3 --max-reps 20)
    ROUNDS=2
    PAIRED=(--shapes 1x8,32x16 --rounds 2 --seconds 0.2)
    GEMM=(1024 1 2 --reps 2)
    MB_SHAPES=1x128
else
    SHAPES=1x8,1x128,1x512,32x16,32x128
    TIMING=(--min-time 2 --warmup-time 0.5 --min-reps 5 --max-reps 500)
    ROUNDS=3 # rounds of encoderd and ONNX Runtime (float32 and int8) on the MiniLM shapes
    PAIRED=(--shapes 1x128,32x128 --rounds 8 --seconds 1) # about 4 minutes here
    GEMM=(2048 1 2 --reps 5)
    # ModernBERT's point is long inputs (local layers attend within a window of 128):
    # 1x2048 too, about half a minute per side and round here.
    MB_SHAPES=1x128,1x512,32x128,1x2048
fi
START=$(date +%s)
{
    echo -e "started\t$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo -e "quick\t$QUICK"
    echo -e "modernbert_only\t$MB_ONLY"
    echo -e "cpu\t$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo -e "cores\t$(nproc)"
    echo -e "loadavg_start\t$(cut -d' ' -f1-3 /proc/loadavg)"
    echo -e "env_coretype\t${OPENBLAS_CORETYPE:-(unset)}"
    echo -e "env_l2\t${OPENBLAS_L2_SIZE:-(unset)}"
} >"$OUT/machine.tsv"

# ---- ModernBERT-shaped: encoderd --model against ONNX Runtime ---------------------------
# modernbert_export.py writes one set of seeded weights as a Hugging Face folder (loaded
# here as encoderd --model loads it) and as an ONNX graph; `bench dump --model` writes
# encoderd's last hidden state for a padded batch, which bench_ort.js checks the graph
# against before timing it. Two rounds per side, in the same order; the table takes the
# better median.
modernbert_part() {
    local mb=$OUT/modernbert vocab r
    rm -rf "$mb"
    apt_install python3-onnx || { FAILED+=(modernbert_export); return 1; }
    step modernbert_export "$OUT/mb_export.tsv" "${CLEAN[@]}" OMP_WAIT_POLICY=PASSIVE \
        PYTHONWARNINGS=ignore $PY $HERE/modernbert_export.py "$mb" || return 1
    step mb_dump "$OUT/mb_dump.tsv" "${CLEAN[@]}" "$OUT/bench" dump --model "$mb/hf" \
        "$mb/ref.safetensors" || return 1
    vocab=$(sed -n 's/^vocab\t//p' "$OUT/mb_dump.tsv")
    for r in "" 2; do
        step "mb_encoderd$r" "$OUT/mb_encoderd$r.tsv" "${CLEAN[@]}" "$OUT/bench" forward \
            --model "$mb/hf" --shapes $MB_SHAPES --threads 1,2 "${TIMING[@]}"
        step "mb_ort$r" "$OUT/mb_ort$r.tsv" "${CLEAN[@]}" node $HERE/bench_ort.js "$mb" \
            --model "$mb/modernbert.onnx" --ref "$mb/ref.safetensors" --vocab "$vocab" \
            --threads 1,2 --shapes $MB_SHAPES "${TIMING[@]}"
    done
}

# ---- 4. the table (called at the end; --modernbert: after its block) ----------------------------------------------------
finish() {
    echo -e "loadavg_end\t$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.tsv"
    echo -e "wall_s\t$(( $(date +%s) - START ))" >>"$OUT/machine.tsv"
    echo -e "failed\t${FAILED[*]:-}" >>"$OUT/machine.tsv"
    $PY $HERE/report.py "$OUT" >"$BUILD/bench.md"
    local report_rc=$?
    cat "$BUILD/bench.md"
    say "table written to $BUILD/bench.md; raw results in $OUT/"
    if [ ${#FAILED[@]} -gt 0 ] || [ $report_rc -ne 0 ]; then
        say "FAILED: ${FAILED[*]:-} $([ $report_rc -ne 0 ] && echo 'a correctness check')"
        exit 1
    fi
    exit 0
}
# The in-process sides (skipped by --inside, which needs only the server and wrk).
if [ "$INSIDE" -eq 0 ]; then
    # ---- prerequisites -------------------------------------------------------------------
    for f in "$BUILD/libencoder.a" "$BUILD/encoderd"; do
        [ -e "$f" ] || { say "$f is missing: run make bench (or make) first"; exit 1; }
    done
    apt_install python3-torch python3-numpy || { say "cannot install python3-torch"; exit 1; }
    echo -e "torch_deb\t$(dpkg-query -W -f='${Version}' python3-torch)" >>"$OUT/machine.tsv"
    echo -e "node\t$(node --version)" >>"$OUT/machine.tsv"
    [ "$QUICK" -eq 1 ] || [ "$MB_ONLY" -eq 1 ] || apt_install wrk || { say "cannot install wrk"; exit 1; }
    # OpenBLAS: the single-precision GEMM peak that the table puts beside our figures.
    apt_install libopenblas-dev || { say "cannot install libopenblas-dev"; exit 1; }
    want=$(sed -n 's/.*"onnxruntime-node": *"\([^"]*\)".*/\1/p' $HERE/package.json)
    have=$(cd $HERE && node -p "require('onnxruntime-node/package.json').version" 2>/dev/null || true)
    if [ "$have" != "$want" ]; then
        say "npm ci (onnxruntime-node $want, --ignore-scripts: the CPU library is in the package)"
        (cd $HERE && npm ci --ignore-scripts --no-audit --no-fund >/dev/null) || { say "npm ci failed"; exit 1; }
    fi

    # ---- 1. encoderd in-process ------------------------------------------------------------
    PKGS="openblas libmicrohttpd jansson libutf8proc libpcre2-8"
    say "building $OUT/bench"
    # shellcheck disable=SC2046
    "${CC:-cc}" -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -pthread -fno-math-errno -fopenmp \
        $(pkg-config --cflags $PKGS) -Icore -o "$OUT/bench" $HERE/bench.c "$BUILD/libencoder.a" \
        $(pkg-config --libs $PKGS) -lm -pthread -fopenmp || { say "cannot build bench.c"; exit 1; }

    step info "$OUT/info.tsv" "${CLEAN[@]}" "$OUT/bench" info
    if [ "$MB_ONLY" -eq 1 ]; then
        modernbert_part
        finish
    fi
    step dump "$OUT/dump.tsv" "${CLEAN[@]}" "$OUT/bench" dump "$OUT" || { say "no weights: stopping"; exit 1; }
    step gemm "$OUT/gemm.tsv" "${CLEAN[@]}" "$OUT/bench" gemm "${GEMM[@]}"
    step encoderd "$OUT/encoderd.tsv" "${CLEAN[@]}" "$OUT/bench" forward --shapes $SHAPES \
        --threads 1,2 "${TIMING[@]}" --compute f32,bf16,int8
    # The compute modes: bf16 and int8 against float32 on the tokenizer corpus (524 texts), and
    # the resident size after making the model in each mode.
    step accuracy "$OUT/accuracy.tsv" "${CLEAN[@]}" "$OUT/bench" accuracy tests/tokenizer/corpus.jsonl \
        --threads 2
    step rss "$OUT/rss.tsv" bash -c "for m in f32 bf16 int8; do \"$OUT/bench\" rss \$m || exit 1; done"

    # ---- 2. PyTorch (one process per thread count) and ONNX Runtime -------------------------
    # Debian's torch runs its own OpenMP threads and calls OpenBLAS, which has its own: GOMP's
    # default spin-waiting then fights OpenBLAS's threads for the 2 cores (2-thread runs came out
    # 5-40x slower than 1-thread ones); OMP_WAIT_POLICY=PASSIVE avoids that.
    rm -f "$OUT/minilm.onnx"
    for t in 1 2; do
        export_args=()
        [ "$t" -eq 1 ] && export_args=(--export "$OUT/minilm.onnx")
        step "torch$t" "$OUT/torch$t.tsv" "${CLEAN[@]}" OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t \
            MKL_NUM_THREADS=$t OMP_WAIT_POLICY=PASSIVE PYTHONWARNINGS=ignore \
            $PY $HERE/bench_torch.py "$OUT" --threads $t --shapes $SHAPES "${TIMING[@]}" "${export_args[@]}"
    done
    if [ -f "$OUT/minilm.onnx" ]; then
        step ort "$OUT/ort.tsv" "${CLEAN[@]}" node $HERE/bench_ort.js "$OUT" --threads 1,2 \
            --shapes $SHAPES "${TIMING[@]}"
        # ONNX Runtime's int8 peer: the export dynamically quantised (quantize_onnx.py, Debian's
        # python3-onnx), checked against encoderd's float32 output with a looser tolerance.
        rm -f "$OUT/minilm.int8.onnx"
        if apt_install python3-onnx &&
            step quantize "$OUT/quantize.tsv" $PY $HERE/quantize_onnx.py "$OUT/minilm.onnx" \
                "$OUT/minilm.int8.onnx"; then
            step ort_int8 "$OUT/ort_int8.tsv" "${CLEAN[@]}" node $HERE/bench_ort.js "$OUT" \
                --model "$OUT/minilm.int8.onnx" --tol 0.1 --threads 1,2 --shapes $SHAPES "${TIMING[@]}"
        else
            FAILED+=(quantize)
        fi
    else
        FAILED+=(ort)
        say "ort skipped: no ONNX export"
    fi
    # More rounds of the sides the ratios compare, in the same order: the tables take each
    # side's best median per shape, so that a burst of other work on a shared machine during
    # one side's turn weighs less on a ratio. (It still decided cells: a burst lasts longer
    # than a round. The compute modes' targets come from the paired turns below.)
    for r in $(seq 2 "$ROUNDS"); do
        step "encoderd$r" "$OUT/encoderd$r.tsv" "${CLEAN[@]}" "$OUT/bench" forward --shapes $SHAPES \
            --threads 1,2 "${TIMING[@]}" --compute f32,bf16,int8
        if [ -f "$OUT/minilm.onnx" ]; then
            step "ort$r" "$OUT/ort$r.tsv" "${CLEAN[@]}" node $HERE/bench_ort.js "$OUT" --threads 1,2 \
                --shapes $SHAPES "${TIMING[@]}"
        fi
        if [ -f "$OUT/minilm.int8.onnx" ]; then
            step "ort_int8_$r" "$OUT/ort_int8_$r.tsv" "${CLEAN[@]}" node $HERE/bench_ort.js "$OUT" \
                --model "$OUT/minilm.int8.onnx" --tol 0.1 --threads 1,2 --shapes $SHAPES "${TIMING[@]}"
        fi
    done
    # The compute modes' ratios in paired turns: both sides of each ratio within seconds of
    # each other, round after round (paired.py); the targets are read from these.
    if [ -f "$OUT/minilm.int8.onnx" ]; then
        step paired "$OUT/paired.tsv" "${CLEAN[@]}" $PY $HERE/paired.py "$OUT" "${PAIRED[@]}"
    fi

    modernbert_part
fi

# ---- 3. HTTP: encoderd under wrk --------------------------------------------------------
SERVER_PID=
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# Waits until the server is idle (under ~10% of a core over 0.3 s; 60 s at most): requests
# still in flight when wrk stops go on in the server and would slow the next run.
wait_idle() {
    local a b
    for _ in $(seq 200); do
        a=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat" 2>/dev/null) || return 0
        sleep 0.3
        b=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat" 2>/dev/null) || return 0
        [ $((b - a)) -le 3 ] && return 0
    done
}

# Starts encoderd on a free port with the minilm preset, 2 threads and the extra config
# members in $1 (may be empty); sets SERVER_PID, URL and LOAD_MS.
start_server() {
    local port t0 t1 extra=${1:+, $1}
    port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    URL=http://127.0.0.1:$port
    # A config of its own, so that nothing in config/default.json changes the run.
    printf '{"host": "127.0.0.1", "port": %s, "threads": 2, "model": {"preset": "minilm", "seed": 42}%s}\n' \
        "$port" "$extra" >"$OUT/server.json"
    t0=$(date +%s%N)
    "${CLEAN[@]}" "$BUILD/encoderd" --config "$OUT/server.json" --preset minilm --port "$port" \
        --threads 2 2>"$OUT/server.log" &
    SERVER_PID=$!
    t1=$($PY $HERE/wait_health.py "$port" "$SERVER_PID") || { cat "$OUT/server.log" >&2; return 1; }
    LOAD_MS=$(( (t1 - t0) / 1000000 ))
    sed 's/^/    /' "$OUT/server.log" >&2
}

# One wrk run: label (report.py's name for it), body file stem, connections, seconds.
run_wrk() {
    local label=$1 payload=$2 conns=$3 secs=$4 line
    wait_idle
    say "wrk $label, $conns connection(s), ${secs}s"
    line=$(BENCH_BODY="$OUT/$payload.json" wrk -t1 -c"$conns" -d"${secs}s" --timeout 60s \
        -s $HERE/post.lua "$URL/encode" | tee -a "$OUT/wrk.log" | grep '^wrk') || { say "wrk failed"; return 1; }
    echo -e "$label\t$conns\t$(cut -f2- <<<"$line")\t$(cut -f1 "$OUT/$payload.curl")" >>"$OUT/http.tsv"
}

# The bodies: the random model's word tokenizer makes one token per word, plus [CLS] and
# [SEP]; checked by check_bodies through usage.tokens.
write_bodies() {
    $PY - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
words = lambda n: " ".join(f"w{i % 97}x{i}" for i in range(n))
every = ["tokens", "embedding", "hidden_states", "attention"]
# Every output the random minilm can answer (it has no classifier: no logits).
inside = ["tokens", "embedding", "token_embeddings", "hidden_states", "attention", "scores",
          "queries", "keys", "values", "head_outputs", "attention_output", "ffn_intermediate",
          "attention_norms", "rollout", "predictions"]
bodies = {
    "emb8": {"text": words(6), "outputs": ["embedding"]},
    "emb16": {"text": words(14), "outputs": ["embedding"]},
    "emb128": {"text": words(126), "outputs": ["embedding"]},
    "all128": {"text": words(126), "outputs": every},
    "all128b64": {"text": words(126), "outputs": every, "encoding": "base64"},
    "inside128": {"text": words(126), "outputs": inside},
    "inside128b64": {"text": words(126), "outputs": inside, "encoding": "base64"},
}
for name, b in bodies.items():
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(b, f)
EOF
}
# check_bodies NAME:TOKENS...: one request of each body first; the answer's token count and
# embedding size are checked, the answer kept (NAME.response, NAME.curl).
check_bodies() {
    local name want
    for name in "$@"; do
        want=${name#*:}
        name=${name%%:*}
        curl -sf -X POST -H 'Content-Type: application/json' --data-binary @"$OUT/$name.json" \
            -o "$OUT/$name.response" -w "%{size_download}\t%{time_total}\n" "$URL/encode" \
            >"$OUT/$name.curl" || { say "POST /encode ($name) failed"; return 1; }
        $PY - "$OUT/$name.response" "$want" <<'EOF' || return 1
import json, sys
r = json.load(open(sys.argv[1]))
n, want = r["usage"]["tokens"], int(sys.argv[2])
e = r["embedding"]
width = e["shape"][0] if isinstance(e, dict) else len(e)
if n != want or width != 384:
    sys.exit(f"bench: expected {want} tokens and a 384-wide embedding, got {n} and {width}")
EOF
    done
}

# The rows of every output of the pass alone (--inside): embedding only as the base, then
# every output, JSON and base64, one 128-token input at 1 connection.
inside_part() {
    start_server "" || return 1
    write_bodies || return 1
    check_bodies emb128:128 inside128:128 inside128b64:128 || return 1
    run_wrk emb128 emb128 1 6 || return 1
    run_wrk inside128 inside128 1 10 || return 1
    run_wrk inside128b64 inside128b64 1 10 || return 1
    stop_server
}

http_part() {
    start_server "" || return 1
    echo -e "load_ms\t$LOAD_MS" >"$OUT/server.tsv"
    echo -e "rss_loaded_kb\t$(awk '/^VmRSS/ {print $2}' /proc/$SERVER_PID/status)" >>"$OUT/server.tsv"

    write_bodies || return 1
    check_bodies emb8:8 emb16:16 emb128:128 all128:128 all128b64:128 inside128:128 \
        inside128b64:128 || return 1
    # wrk runs: label, body, connections, seconds. The peak RSS is reset (clear_refs 5)
    # after the checks above, whose answers are up to 86 MB, read after the
    # embedding-only runs, reset and read again after the all-outputs ones, whose 20 MB
    # answers wait in memory for their clients; the every-output rows run last.
    local emb_runs=("emb8 emb8 1 6" "emb16 emb16 1 6" "emb16 emb16 8 6" "emb16 emb16 32 8"
                    "emb16 emb16 64 6" "emb128 emb128 1 6")
    local all_runs=("all128 all128 1 10" "all128b64 all128b64 1 10" "all128 all128 8 10"
                    "all128 all128 64 10")
    local inside_runs=("inside128 inside128 1 10" "inside128b64 inside128b64 1 10")
    local r
    echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || true
    for r in "${emb_runs[@]}"; do
        # shellcheck disable=SC2086
        run_wrk $r || return 1
    done
    awk '/^VmHWM/ {print "rss_peak_kb\t" $2}' /proc/$SERVER_PID/status >>"$OUT/server.tsv"
    echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || true
    for r in "${all_runs[@]}"; do
        # shellcheck disable=SC2086
        run_wrk $r || return 1
    done
    awk '/^VmHWM/ {print "rss_peak_all_kb\t" $2} /^VmRSS/ {print "rss_end_kb\t" $2}' \
        /proc/$SERVER_PID/status >>"$OUT/server.tsv"
    for r in "${inside_runs[@]}"; do
        # shellcheck disable=SC2086
        run_wrk $r || return 1
    done
    stop_server
    # The same 32 connections with batching off (one request per forward pass): the
    # batching ratio.
    start_server '"max_batch_requests": 1' || return 1
    run_wrk emb16-unbatched emb16 32 8 || return 1
    stop_server
    # The compute modes over HTTP: the resident size after load, and a few of the rows above.
    local mode
    for mode in bf16 int8; do
        start_server "\"compute\": \"$mode\"" || return 1
        echo -e "rss_loaded_kb_$mode\t$(awk '/^VmRSS/ {print $2}' /proc/$SERVER_PID/status)" \
            >>"$OUT/server.tsv"
        for r in "emb8@$mode emb8 1 6" "emb16@$mode emb16 32 8" "emb128@$mode emb128 1 6" \
            "all128@$mode all128 1 10"; do
            # shellcheck disable=SC2086
            run_wrk $r || return 1
        done
        stop_server
    done
    # The floor under the all-outputs answer's time: wrk receiving the same bytes from a
    # server that does nothing but send them (sink.c).
    cc -O2 -pthread -o "$OUT/sink" $HERE/sink.c || return 1
    local port
    port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    URL=http://127.0.0.1:$port
    "$OUT/sink" "$OUT/all128.response" "$port" &
    SERVER_PID=$!
    curl -s --retry 20 --retry-connrefused --retry-delay 0 -o /dev/null -d '{}' "$URL/" || return 1
    run_wrk sink-all128 all128 1 10 || return 1
    stop_server
}
# The load time of a real checkpoint folder: the dumped minilm.safetensors (F32, Hugging
# Face names) with a BERT config.json and a vocab.txt of 30522 made-up words, loaded
# by --model (memory-mapped, checked, copied into the parameter block). Best of 3.
ckpt_part() {
    local dir="$OUT/ckpt" port t0 t1 best= i
    mkdir -p "$dir"
    ln -sf ../minilm.safetensors "$dir/model.safetensors" # relative: OUT may be relative
    cat >"$dir/config.json" <<'EOF'
{"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 384,
 "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
 "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2,
 "layer_norm_eps": 1e-12, "vocab_size": 30522, "pad_token_id": 0}
EOF
    { printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n'; seq -f 'w%.0f' 5 30521; } >"$dir/vocab.txt"
    for i in 1 2 3; do
        port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        t0=$(date +%s%N)
        "${CLEAN[@]}" "$BUILD/encoderd" --model "$dir" --host 127.0.0.1 --port "$port" --threads 2 \
            2>"$OUT/ckpt.log" &
        SERVER_PID=$!
        t1=$($PY $HERE/wait_health.py "$port" "$SERVER_PID") || { cat "$OUT/ckpt.log" >&2; return 1; }
        stop_server
        t1=$(( (t1 - t0) / 1000000 ))
        [ -z "$best" ] || [ "$t1" -lt "$best" ] && best=$t1
    done
    echo -e "ckpt_load_ms\t$best" >>"$OUT/server.tsv"
}
if [ "$INSIDE" -eq 1 ]; then
    [ -x "$BUILD/encoderd" ] || { say "$BUILD/encoderd is missing: run make first"; exit 1; }
    apt_install wrk || { say "cannot install wrk"; exit 1; }
    say "every output of the pass, one 128-token input"
    inside_part || { stop_server; say "FAILED (logs in $OUT/)"; exit 1; }
    $PY $HERE/report.py --inside "$OUT" >"$BUILD/bench-inside.md" || exit 1
    cat "$BUILD/bench-inside.md"
    say "table written to $BUILD/bench-inside.md; raw results in $OUT/"
    exit 0
fi
if [ "$QUICK" -eq 0 ]; then
    say "http"
    http_part || { FAILED+=(http); stop_server; }
    say "checkpoint load"
    ckpt_part || { FAILED+=(ckpt); stop_server; }
fi

finish
