#!/usr/bin/python3
"""Makes the Markdown table of `make bench` from the tab-separated results in DIR
(BUILD_DIR/bench, written by bench.sh and the three sides). Prints it; exits 1 when a
correctness check failed or is missing. With --inside, only the rows of bench.sh --inside
(every output of the pass for one 128-token input, JSON and base64, beside embedding only).

    report.py [--inside] DIR
"""
import os
import statistics
import sys

TOL = 1e-3
FEW = 20  # wrk runs with fewer completed requests get their latencies marked


def rows(path):
    """The tab-separated lines of a file, [] when it does not exist."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def kv(path):
    return {r[0]: "\t".join(r[1:]) for r in rows(path) if r}


def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


INSIDE_LABEL = ("128 tokens, every output of the pass (queries, keys, values, head_outputs, "
                "attention_output, ffn_intermediate, attention_norms, rollout, predictions "
                "besides hidden states, attention and scores)")


def inside(d):
    """The table of bench.sh --inside: each row's size and latency, and its p50 against
    embedding only."""
    machine = kv(f"{d}/machine.tsv")
    p50 = {}
    out = [f"## encoderd: every output of the pass, one 128-token input ({machine.get('started', '?')})",
           "",
           f"- Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores; load average "
           f"{machine.get('loadavg_start', '?')} at the start; `encoderd --preset minilm --threads 2`, "
           "`wrk -t1 -c1`.",
           "",
           "| request | response bytes | requests | req/s | p50 ms | p99 ms | p50 / embedding only | errors |",
           "|---|---|---|---|---|---|---|---|"]
    labels = {"emb128": "128 tokens, embedding only", "inside128": INSIDE_LABEL + ", JSON",
              "inside128b64": "the same, `\"encoding\": \"base64\"`"}
    for r in rows(f"{d}/http.tsv"):
        payload, _conns, n, _dur, rps, r50, r99, _mean, _mx, non2xx, sock, size = r
        p50[payload] = float(r50)
        base = p50.get("emb128")
        ratio = f"{float(r50) / base:.1f}×" if base else "—"
        out.append(f"| {labels.get(payload, payload)} | {int(size):,} | {n} | {float(rps):.1f} | "
                   f"{fmt_ms(float(r50))} | {fmt_ms(float(r99))} | {ratio} | {int(non2xx) + int(sock)} |")
    print("\n".join(out))
    return 0 if {"emb128", "inside128", "inside128b64"} <= set(p50) else 1


def compute_section(p, d, lat, dump, server, int8_checks, int8_acc):
    """The compute modes: bf16 and int8 beside ONNX Runtime float32 and int8, their accuracy
    on the corpus, and the resident size after load in each mode."""
    if not any(k[0].startswith("encoderd-") for k in lat):
        return
    p("### Compute modes: encoderd f32 / bf16 / int8 beside ONNX Runtime f32 and int8 "
      "(median ms, in-process, embedding only)")
    p("")
    p("| B×T | threads | encoderd f32 | bf16 | int8 | ORT f32 | ORT int8 | bf16 / ORT f32 | "
      "int8 / ORT f32 | int8 / ORT int8 |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    get = lambda side, t, B, T: lat.get((side, t, B, T), (None,))[0]
    ratio = lambda a, b: f"{a / b:.2f}" if a and b else "—"
    shapes = sorted({(k[2], k[3]) for k in lat})
    for t in (1, 2):
        for B, T in shapes:
            e, bf, i8, o, oi = (get(s, t, B, T) for s in
                                ("encoderd", "encoderd-bf16", "encoderd-int8", "ort", "ort-int8"))
            if not (bf or i8):
                continue
            p(f"| {B}×{T} | {t} | {fmt_ms(e)} | {fmt_ms(bf)} | {fmt_ms(i8)} | {fmt_ms(o)} | "
              f"{fmt_ms(oi)} | {ratio(bf, o)} | {ratio(i8, o)} | {ratio(i8, oi)} |")
    p("")
    targets = []
    cell = lambda what, B, T, t: f"{what}, {B}×{T}, {t} thread{'s' if t > 1 else ''}"
    ratios = (("bf16 / ORT f32", 0, 2, 0.6), ("int8 / ORT f32", 1, 2, 0.45),
              ("int8 / ORT int8", 1, 3, 0.85))
    # paired.tsv: per round, shape and thread count, the medians of encoderd bf16 and int8
    # and ONNX Runtime f32 and int8, timed in turn within seconds (paired.py).
    pairs, seconds = {}, "?"
    for r in rows(f"{d}/paired.tsv"):
        if r[0] == "settings":
            seconds = r[2]
        elif r[0] == "pair":
            pairs.setdefault((int(r[1]), int(r[2]), int(r[3])), []).append([float(x) for x in r[5:9]])
    if pairs:
        n_rounds = max(len(v) for v in pairs.values())
        p(f"Paired turns (`paired.py`): in each of {n_rounds} rounds, encoderd bf16 and int8 and "
          f"ONNX Runtime f32 and int8 ran one after another on each shape, {seconds} s of "
          f"passes each after a warm-up, the order reversed every other round; a ratio is the median over the "
          f"rounds of that round's ratio (least–largest in brackets), so that other work on "
          f"the machine weighs on both of its sides alike. The targets below are these.")
        p("")
        p("| B×T | threads | bf16 | int8 | ORT f32 | ORT int8 | bf16 / ORT f32 | int8 / ORT f32 | "
          "int8 / ORT int8 |")
        p("|---|---|---|---|---|---|---|---|---|")
        for (t, B, T), rs in sorted(pairs.items()):
            med_ms = [statistics.median(x[i] for x in rs) for i in range(4)]
            cells = []
            for what, a, b, lim in ratios:
                q = [x[a] / x[b] for x in rs]
                m = statistics.median(q)
                cells.append(f"{m:.2f} ({min(q):.2f}–{max(q):.2f})")
                if (B, T) in ((1, 128), (32, 128)):
                    targets.append((cell(what, B, T, t) + f" (paired, median of {len(q)} rounds)", m, f"≤ {lim}", m <= lim))
            p(f"| {B}×{T} | {t} | " + " | ".join(fmt_ms(v) for v in med_ms) + " | " +
              " | ".join(cells) + " |")
        p("")
        # A run that timed the target shapes must have timed all of them.
        if any((B, T) in ((1, 128), (32, 128)) for _, B, T in pairs):
            for t in (1, 2):
                for B, T in ((1, 128), (32, 128)):
                    if (t, B, T) not in pairs:
                        for what, *_ in ratios:
                            targets.append((cell(what, B, T, t) + " (paired: no round ran)", float("nan"), "—", False))
    else:
        for t in (1, 2):
            for B, T in ((1, 128), (32, 128)):
                v = [get(s, t, B, T) for s in ("encoderd-bf16", "encoderd-int8", "ort", "ort-int8")]
                for what, a, b, lim in ratios:
                    if v[a] and v[b]:
                        targets.append((cell(what, B, T, t),
                                        v[a] / v[b], f"≤ {lim}", v[a] / v[b] <= lim))
    acc = rows(f"{d}/accuracy.tsv")
    for r in acc:
        if r[0] == "accuracy":
            mode, n, _tokens, worst = r[1], int(r[2]), r[3], float(r[4])
            lim = 0.9999 if mode == "bf16" else 0.999
            targets.append((f"{mode}: least cosine to float32's pooled embedding over {n} texts "
                            f"(mean {float(r[5]):.7f}; max |attention diff| {float(r[6]):.2e})",
                            worst, f"≥ {lim}", worst >= lim, 7))
    rss = {r[1]: r for r in rows(f"{d}/rss.tsv") if r[0] == "rss"}
    if "f32" in rss:
        # The model's own resident size: RssAnon after making it less before (kB; bench.c
        # cmd_rss says why not VmRSS). A process's figure moves by up to 12 kB from one to the
        # next (four processes per mode), so the fall, one process's less another's, may miss
        # what packing saves by twice that: 32 kB (eight pages) is allowed.
        own = lambda r: int(r[3]) - int(r[2])
        f32_kb, f32_mb = own(rss["f32"]), float(rss["f32"][4])
        for mode in ("bf16", "int8"):
            if mode in rss:
                r = rss[mode]
                saves = (f32_mb - float(r[4])) - float(r[5])  # float32 linear MB - packed MB
                fell = (f32_kb - own(r)) * 1024 / 1e6
                targets.append((f"{mode}: the model's anonymous RSS (RssAnon after making it, "
                                f"less before) falls {fell:.3f} MB ({f32_kb * 1024 / 1e6:.1f} → "
                                f"{own(r) * 1024 / 1e6:.1f} MB); packing saves {saves:.3f} MB "
                                f"(met within 32 kB: each process's figure moves by up to 12 kB)",
                                fell - saves, "≥ -0.032 MB", fell >= saves - 0.0328, 3))
    if targets:
        p("| figure | value | target | met |")
        p("|---|---|---|---|")
        for tg in targets:
            what, v, want, met = tg[:4]
            digits = tg[4] if len(tg) > 4 else 2
            p(f"| {what} | {v:.{digits}f} | {want} | {'yes' if met else '**no**'} |")
        p("")
    srv = [(m, server.get(k)) for m, k in (("f32", "rss_loaded_kb"), ("bf16", "rss_loaded_kb_bf16"),
                                          ("int8", "rss_loaded_kb_int8"))]
    if any(v for _, v in srv[1:]):
        p("Server RSS after load (`encoderd --preset minilm`, `compute`): " +
          ", ".join(f"{m} {int(v) / 1024:.0f} MiB" for m, v in srv if v) + ".")
        p("")
    for r in int8_acc:
        p(f"ONNX Runtime int8 ({r[1]} thread(s)) vs encoderd float32, {r[2]}: relative error "
          f"{r[3]}, least row cosine {r[4]}.")
    if int8_acc:
        p("")
    bad = [c for c in int8_checks if c[-1] != "ok"]
    if bad:
        p(f"**ONNX Runtime int8 check failed**: {bad}")
        p("")


def modernbert_section(p, d):
    """The ModernBERT-shaped block: encoderd --model against ONNX Runtime on the same seeded
    weights (modernbert_export.py), the check of the ONNX graph against encoderd's padded
    batch first. Returns False when a check failed or did not run, None when the block did
    not run at all."""
    files = [f"{d}/{n}.tsv" for n in ("mb_encoderd", "mb_encoderd2", "mb_ort", "mb_ort2")]
    if not any(os.path.exists(f) for f in files + [f"{d}/mb_export.tsv"]):
        return None
    lat, gflop, checks, acc, graph, timed = {}, {}, [], [], "", "?"
    for f in files:
        side = "ort" if "_ort" in f else "encoderd"
        for r in rows(f):
            if r[0] == "forward":
                k = (side, int(r[1]), int(r[2]), int(r[3]))
                if k not in lat or float(r[4]) < lat[k]:
                    lat[k] = float(r[4])
                if side == "encoderd":
                    gflop[(int(r[2]), int(r[3]))] = float(r[8])
            elif r[0] == "check" and f.endswith("mb_ort.tsv"):
                checks.append(r[1:])
            elif r[0] == "accuracy" and f.endswith("mb_ort.tsv"):
                acc.append(r[1:])
            elif r[0] == "ort_graph" and f.endswith("mb_ort.tsv"):
                graph = r[1]
            elif r[0] == "timed_output" and f.endswith("mb_ort.tsv"):
                timed = r[1]
    dump = kv(f"{d}/mb_dump.tsv")
    p("### ModernBERT-shaped (hidden 384, 6 layers, GeGLU, rotary, local window 128): "
      "encoderd vs ONNX Runtime")
    p("")
    p(f"Seeded random weights ({dump.get('weights_mb', '?')} MB, V {dump.get('vocab', '?')}; "
      "layers 0 and 3 global, the others local) written by `modernbert_export.py` as a Hugging "
      "Face folder (encoderd: `enc_model_load_hf`, as `--model` loads it) and as an ONNX graph "
      "(opset 14, exported from the golden PyTorch reference"
      + (f"; ops after ORT's optimization: {graph}" if graph else "") + "). Median ms, better "
      f"of two rounds per side; encoderd returns the mean-pooled embedding, ONNX Runtime "
      f"`{timed}` (the graph has no pooling; B×T×D adds left out of its time).")
    p("")
    ok = True
    if checks:
        p("| check: ORT vs encoderd, padded batch 3×200 (lengths 200, 137, 9) | threads | "
          "max abs diff | relative error | tolerance | ok |")
        p("|---|---|---|---|---|---|")
        rel = {(a[1], a[2]): a[3] for a in acc}
        for side, threads, output, diff, tol, good in checks:
            what = ("last_hidden_state, unmasked rows" if output == "last_hidden_state"
                    else "embedding (ORT: mean of its rows over the mask)")
            ok &= good == "ok"
            p(f"| {what} | {threads} | {float(diff):.2e} | {rel.get((threads, output), '—')} | "
              f"{tol} | {'ok' if good == 'ok' else '**FAIL**'} |")
        p("")
    if len(checks) != 4:
        ok = False
        p("**The ModernBERT check is missing** (see the mb_* logs).")
        p("")
    p("| B×T | threads | GFLOP | encoderd ms | ORT ms | encoderd GFLOP/s | encoderd / ORT |")
    p("|---|---|---|---|---|---|---|")
    for t in (1, 2):
        for B, T in sorted({(k[2], k[3]) for k in lat}):
            e, o, g = lat.get(("encoderd", t, B, T)), lat.get(("ort", t, B, T)), gflop.get((B, T))
            if not (e or o):
                continue
            p(f"| {B}×{T} | {t} | {f'{g:.2f}' if g else '—'} | {fmt_ms(e)} | {fmt_ms(o)} | "
              f"{f'{g / (e / 1e3):.0f}' if g and e else '—'} | "
              f"{f'{e / o:.2f}' if e and o else '—'} |")
    p("")
    p("GFLOP counts the products a pass needs (QKV, scores and AV within the window on local "
      "layers, W_o, the GeGLU FFN's 2F-wide first product); below 1 encoderd is faster.")
    p("")
    return ok


def main():
    if sys.argv[1] == "--inside":
        sys.exit(inside(sys.argv[2]))
    d = sys.argv[1]
    machine, info, dump = kv(f"{d}/machine.tsv"), kv(f"{d}/info.tsv"), kv(f"{d}/dump.tsv")
    server = kv(f"{d}/server.tsv")
    quick = machine.get("quick") == "1"
    mb_only = machine.get("modernbert_only") == "1"
    torch_version, ort_version, ort_graph = "—", "—", ""
    checks, lat = [], {}  # lat[(side, threads, B, T)] = (median_ms, reps)
    gflop = {}  # (B, T) -> GFLOP per pass

    def keep_best(k, median, reps):  # a side's better median over the rounds
        if k not in lat or median < lat[k][0]:
            lat[k] = (median, reps)

    rounds = [""] + [str(r) for r in range(2, 10)]  # encoderd.tsv, encoderd2.tsv, ...
    for name in [f"encoderd{r}.tsv" for r in rounds]:
        for r in rows(f"{d}/{name}"):
            if r[0] == "forward":
                key = (int(r[2]), int(r[3]))
                mode = r[9] if len(r) > 9 else "f32"
                side = "encoderd" if mode == "f32" else f"encoderd-{mode}"
                keep_best((side, int(r[1])) + key, float(r[4]), int(r[7]))
                gflop[key] = float(r[8])
    int8_checks, int8_acc = [], []
    for name in ["ort_int8.tsv"] + [f"ort_int8_{r}.tsv" for r in rounds[1:]]:
        for r in rows(f"{d}/{name}"):
            if r[0] == "forward":
                keep_best(("ort-int8", int(r[1]), int(r[2]), int(r[3])), float(r[4]), int(r[7]))
            elif r[0] == "check" and name == "ort_int8.tsv":
                int8_checks.append(r[1:])
            elif r[0] == "accuracy" and name == "ort_int8.tsv":
                int8_acc.append(r[1:])
    for name in [f"ort{r}.tsv" for r in rounds[1:]]:  # the later rounds: their timings only
        for r in rows(f"{d}/{name}"):
            if r[0] == "forward":
                keep_best(("ort", int(r[1]), int(r[2]), int(r[3])), float(r[4]), int(r[7]))
    for name in ("torch1.tsv", "torch2.tsv", "ort.tsv"):
        side = "ort" if name == "ort.tsv" else "torch"
        for r in rows(f"{d}/{name}"):
            if r[0] == "torch_version":
                torch_version = r[1]
            elif r[0] == "ort_version":
                ort_version = r[1]
            elif r[0] == "ort_graph":
                ort_graph = r[1]
            elif r[0] == "check":
                checks.append(r[1:])
            elif r[0] == "forward":
                keep_best((side, int(r[1]), int(r[2]), int(r[3])), float(r[4]), int(r[7]))
    peak = {int(r[1]): (int(r[2]), float(r[3])) for r in rows(f"{d}/gemm.tsv") if r[0] == "gemm"}

    out = []
    p = out.append
    p(f"## encoderd benchmark{' (--quick)' if quick else ''}: {machine.get('started', '?')}")
    p("")
    p(f"- Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores; load average "
      f"{machine.get('loadavg_start', '?')} at the start, {machine.get('loadavg_end', '?')} at the end "
      f"(other work on the machine makes the figures noisy).")
    p(f"- OpenBLAS core: **{info.get('openblas_core', '?')}** ({info.get('openblas_config', '?')}); "
      f"every side runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in its own command "
      f"(this environment had {machine.get('env_coretype', '?')} / {machine.get('env_l2', '?')}).")
    p(f"- PyTorch {torch_version} (Debian python3-torch {machine.get('torch_deb', '?')}); "
      f"ONNX Runtime {ort_version} (npm onnxruntime-node under Node.js {machine.get('node', '?')}, "
      f"CPU EP, sequential, all graph optimizations"
      + (f"; ops after optimization: {ort_graph}" if ort_graph else "") + ").")
    if not mb_only:
        p(f"- Model: all-MiniLM-L6-v2 shape (6 layers, D 384, 12 heads, F 1536, V 30522), the "
          f"`minilm` preset's seeded random weights ({dump.get('weights_mb', '?')} MB), the same "
          f"in every column.")
        n_rounds = sum(os.path.exists(f"{d}/encoderd{r}.tsv") for r in rounds)
        p(f"- Timing: the median of each side's timed runs; encoderd and ONNX Runtime (float32 "
          f"and int8) ran {n_rounds} rounds in turn and each keeps its best median per shape, "
          f"PyTorch one round.")
    flags = (" --quick" if quick else "") + (" --modernbert" if mb_only else "")
    p(f"- Command: {'`make bench` (' if not flags else '`'}tests/bench/bench.sh{flags}"
      f"{')' if not flags else '`'}; took {machine.get('wall_s', '?')} s.")
    p("")
    if mb_only:
        mb_ok = modernbert_section(p, d)
        if machine.get("failed"):
            p(f"**Steps that failed: {machine['failed']}** (see BUILD_DIR/bench/*.log).")
            p("")
        print("\n".join(out))
        sys.exit(0 if mb_ok else 1)

    # Correctness.
    p("### Correctness: max |diff| against encoderd's output (same 2×48 input)")
    p("")
    p("| side | threads | last_hidden_state | embedding | tolerance | ok |")
    p("|---|---|---|---|---|---|")
    ok = True
    by = {}
    for side, threads, output, diff, tol, good in checks:
        by.setdefault((side, threads), {})[output] = (diff, good)
    for side in ("torch", "ort"):
        for threads in ("1", "2"):
            c = by.get((side, threads))
            name = "PyTorch" if side == "torch" else "ONNX Runtime"
            if not c or len(c) != 2:
                ok = False
                p(f"| {name} | {threads} | — | — | {TOL:g} | **missing** |")
                continue
            good = all(g == "ok" for _, g in c.values())
            ok &= good
            p(f"| {name} | {threads} | {float(c['last_hidden_state'][0]):.2e} | {float(c['embedding'][0]):.2e} | "
              f"{TOL:g} | {'ok' if good else '**FAIL**'} |")
    p("")

    # GEMM peak.
    p("### Single-precision GEMM peak (cblas_sgemm, best of the runs)")
    p("")
    p("| threads | size | GFLOP/s |")
    p("|---|---|---|")
    for t in sorted(peak):
        n, g = peak[t]
        p(f"| {t} | {n}³ | {g:.0f} |")
    p("")

    # Forward latency.
    p("### In-process forward pass, embedding only (median ms of repeated runs after warm-up)")
    p("")
    p("| B×T | threads | GFLOP | encoderd ms | encoderd GFLOP/s | % of GEMM peak | "
      "ONNX Runtime ms | ORT GFLOP/s | PyTorch ms | encoderd / ORT |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    shapes = sorted({(k[2], k[3]) for k in lat}, key=lambda s: (s[0], s[1]))
    for t in (1, 2):
        for B, T in shapes:
            g = gflop.get((B, T))
            e, o, pt = (lat.get((side, t, B, T), (None, 0))[0] for side in ("encoderd", "ort", "torch"))
            if not (e or o or pt):
                continue
            eg = g / (e / 1e3) if g and e else None
            og = g / (o / 1e3) if g and o else None
            pk = peak.get(t, (0, None))[1]
            cells = [f"{B}×{T}", str(t), f"{g:.2f}" if g else "—", fmt_ms(e),
                     f"{eg:.0f}" if eg else "—", f"{100 * eg / pk:.0f}%" if eg and pk else "—",
                     fmt_ms(o), f"{og:.0f}" if og else "—", fmt_ms(pt),
                     f"{e / o:.2f}" if e and o else "—"]
            p("| " + " | ".join(cells) + " |")
    p("")
    p("GFLOP counts the products only (QKV, scores, AV, W_o, FFN; 2 per multiply-add). "
      "encoderd / ORT below 1 means encoderd is faster.")
    p("")

    compute_section(p, d, lat, dump, server, int8_checks, int8_acc)
    if modernbert_section(p, d) is False:
        ok = False

    # HTTP.
    http = rows(f"{d}/http.tsv")
    if not quick:
        p("### HTTP: POST /encode under wrk (1 wrk thread; `encoderd --preset minilm --threads 2`)")
        p("")
        if http:
            labels = {"emb8": "8 tokens, embedding only",
                      "emb16": "16 tokens, embedding only",
                      "emb16-unbatched": "16 tokens, embedding only, batching off",
                      "emb128": "128 tokens, embedding only",
                      "all128": "128 tokens, every hidden state and attention map",
                      "all128b64": "the same, `\"encoding\": \"base64\"`",
                      "inside128": INSIDE_LABEL,
                      "inside128b64": "the same, `\"encoding\": \"base64\"`",
                      "sink-all128": "floor: the same answer's bytes from a server that only "
                                     "sends them (`sink.c`)"}
            p("| request | response bytes | connections | requests | req/s | p50 ms | p99 ms | errors |")
            p("|---|---|---|---|---|---|---|---|")
            p50, p99, rate, few = {}, {}, {}, False
            for r in http:
                payload, conns, n, _dur, rps, r50, r99, _mean, _mx, non2xx, sock, size = r
                if "@" in payload:  # a compute mode's row: "emb16@int8"
                    base, mode = payload.split("@")
                    labels[payload] = f"{labels.get(base, base)}, `--compute {mode}`"
                p50[(payload, conns)] = float(r50)
                p99[(payload, conns)] = float(r99)
                rate[(payload, conns)] = float(rps)
                errs = int(non2xx) + int(sock)
                mark = " †" if int(n) < FEW else ""
                few |= bool(mark)
                p(f"| {labels.get(payload, payload)} | {int(size):,} | {conns} | {n} | {float(rps):.1f} | "
                  f"{fmt_ms(float(r50))}{mark} | {fmt_ms(float(r99))}{mark} | {errs} |")
            p("")
            p("Latency is per request as wrk sees it (queueing in the server included); errors are "
              "non-2xx answers plus socket errors and timeouts (60 s).")
            if few:
                p(f"† Fewer than {FEW} requests completed in the run: these latencies rest on few "
                  "samples (requests still in flight when wrk stops are not counted).")
            p("")
            # The targets, each from this run's own figures.
            targets = []
            ort = lambda B, T: lat.get(("ort", 2, B, T), (None,))[0]
            for B, T, key in ((1, 8, "emb8"), (1, 128, "emb128")):
                if (key, "1") in p50 and ort(B, T):
                    v = p50[(key, "1")] / ort(B, T)
                    targets.append((f"HTTP p50, B=1 T={T}, 1 connection / ORT in-process "
                                    f"({fmt_ms(p50[(key, '1')])} / {fmt_ms(ort(B, T))} ms)",
                                    v, "≤ 0.9", v <= 0.9))
            e, o = lat.get(("encoderd", 2, 32, 128), (None,))[0], ort(32, 128)
            if e and o:
                targets.append(("in-process B=32 T=128 / ORT", e / o, "≤ 1.0", e / o <= 1.0))
            for key, what in (("all128", "JSON"), ("all128b64", "base64")):
                if (key, "1") in p50 and ("emb128", "1") in p50:
                    v = p50[(key, "1")] / p50[("emb128", "1")]
                    floor = ""
                    if key == "all128" and ("sink-all128", "1") in p50:
                        f = p50[("sink-all128", "1")]
                        floor = (f"; receiving these bytes alone takes {fmt_ms(f)} ms, "
                                 f"{f / p50[('emb128', '1')]:.2f}×")
                    targets.append((f"every output ({what}) / embedding only, T=128, p50{floor}", v,
                                    "≤ 2", v <= 2))
            if ("emb16", "32") in rate and ("emb16-unbatched", "32") in rate:
                v = rate[("emb16", "32")] / rate[("emb16-unbatched", "32")]
                targets.append((f"batching: req/s with / without, 32 connections, 16 tokens "
                                f"(p99 {fmt_ms(p99[('emb16', '32')])} vs "
                                f"{fmt_ms(p99[('emb16-unbatched', '32')])} ms)", v, "≥ 3", v >= 3))
            wmb = float(dump.get("weights_mb", "nan"))
            for key, what in (("rss_peak_kb", "the embedding-only runs (16 tokens at 64 "
                               "connections among them)"),
                              ("rss_peak_all_kb", "the all-outputs runs (64 connections "
                               "among them, 20 MB answers)")):
                if key in server and wmb == wmb:
                    v = int(server[key]) / 1024
                    targets.append((f"peak RSS over {what}, MB; weights {wmb:.1f} MB", v,
                                    f"≤ {wmb + 64:.0f}", v <= wmb + 64))
            if "load_ms" in server:
                v = int(server["load_ms"]) / 1e3
                targets.append(("model load, process start → /health, s (the random preset: "
                                "weights generated)", v, "≤ 0.5", v <= 0.5))
            if "ckpt_load_ms" in server:
                v = int(server["ckpt_load_ms"]) / 1e3
                targets.append(("model load, process start → /health, s (the same weights as an "
                                "F32 checkpoint folder, mapped; best of 3)", v, "≤ 0.5", v <= 0.5))
            if targets:
                p("### Targets, from this run")
                p("")
                p("| figure | value | target | met |")
                p("|---|---|---|---|")
                for what, v, want, met in targets:
                    p(f"| {what} | {v:.2f} | {want} | {'yes' if met else '**no**'} |")
                p("")
        else:
            p("(no results: the HTTP part failed; see the log above)")
            p("")
        p("### Server")
        p("")
        p("| weights | model load (process start → /health answers) | RSS after load | "
          "peak RSS (VmHWM), embedding-only runs | peak RSS, all-outputs runs |")
        p("|---|---|---|---|---|")
        mb = lambda k: f"{int(server[k]) / 1024:.0f} MB" if k in server else "—"
        p(f"| {dump.get('weights_mb', '?')} MB | "
          f"{server['load_ms'] + ' ms' if 'load_ms' in server else '—'} | {mb('rss_loaded_kb')} | "
          f"{mb('rss_peak_kb')} | {mb('rss_peak_all_kb')} |")
        p("")
    if machine.get("failed"):
        p(f"**Steps that failed: {machine['failed']}** (see BUILD_DIR/bench/*.log).")
        p("")
    print("\n".join(out))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
