#!/usr/bin/env node
// The ONNX Runtime side of `make bench` (tests/bench/README.md): npm onnxruntime-node, CPU.
//
//   node bench_ort.js DIR [--threads 1,2] [--shapes 1x8,...] [--min-time S] [--min-reps N]
//                         [--max-reps N] [--warmup-time S] [--model FILE] [--tol X]
//                         [--ref FILE] [--vocab V]
//   node bench_ort.js DIR --serve
//
// Runs DIR/minilm.onnx (exported by bench_torch.py from the weights `bench dump` wrote),
// checks its outputs against encoderd's (DIR/ref.safetensors) for every session, and times
// each shape with intraOpNumThreads = 1 and 2 (interOpNumThreads 1, sequential, all graph
// optimizations). --model runs another export of the same weights (quantize_onnx.py's int8
// copy) against the same reference, with the max |diff| allowed by --tol (1e-3); each check
// also prints an `accuracy` line (relative error, and the embedding rows' least cosine
// similarity). Timed runs fetch only the pooled embedding, as encoderd's timed runs
// return only it. Results are tab-separated lines on stdout; progress goes to stderr.
//
// A graph without an `embedding` output (modernbert_export.py's: last_hidden_state only)
// is checked on last_hidden_state's unmasked rows and on the mean over the mask of its
// rows against encoderd's pooled embedding, and timed fetching last_hidden_state (the
// pooling, B x T x D adds, is left out of its time). --ref names encoderd's reference
// (`bench dump --model`: a padded batch with its attention_mask) and --vocab the range of
// the timed ids (30522, MiniLM's, by default).
//
// --serve: for paired.py, which runs it in turns with `bench serve`. A line "MODEL THREADS B
// T SECONDS" on stdin (MODEL f32: DIR/minilm.onnx, int8: DIR/minilm.int8.onnx, which
// bench.sh has checked with this script's other mode first; THREADS 1 or 2, B x T at most
// 16384, as `bench serve` takes) times that shape (warm-up calls for a fifth of a second, at
// least one, then calls until SECONDS and 3 of them) and answers "time  MODEL  THREADS  B  T
// median_ms  min_ms  reps"; a session per model and thread count, made at its first line,
// fetching `embedding` (or `last_hidden_state` where the graph has none); EOF ends.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const a = { threads: '1,2', shapes: '1x8,1x128,1x512,32x16,32x128', minTime: 2.0,
              warmupTime: 0.5, minReps: 5, maxReps: 500, dir: null, model: null, tol: 1e-3,
              ref: null, vocab: 30522, serve: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === '--threads') { a.threads = v; i++; }
    else if (k === '--shapes') { a.shapes = v; i++; }
    else if (k === '--min-time') { a.minTime = Number(v); i++; }
    else if (k === '--warmup-time') { a.warmupTime = Number(v); i++; }
    else if (k === '--min-reps') { a.minReps = Number(v); i++; }
    else if (k === '--max-reps') { a.maxReps = Number(v); i++; }
    else if (k === '--model') { a.model = v; i++; }
    else if (k === '--tol') { a.tol = Number(v); i++; }
    else if (k === '--ref') { a.ref = v; i++; }
    else if (k === '--vocab') { a.vocab = Number(v); i++; }
    else if (k === '--serve') a.serve = true;
    else if (!a.dir) a.dir = k;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.dir) throw new Error('usage: bench_ort.js DIR [options]');
  return a;
}

function readSafetensors(file) {
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8'));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = t.data_offsets;
    const bytes = raw.subarray(8 + n + b, 8 + n + e);
    const copy = new Uint8Array(bytes); // aligned copy
    const Typed = { F32: Float32Array, I64: BigInt64Array }[t.dtype];
    out[name] = { shape: t.shape, data: new Typed(copy.buffer, 0, copy.length / Typed.BYTES_PER_ELEMENT) };
  }
  return out;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

function feeds(B, T, ids, mask) {
  return {
    input_ids: new ort.Tensor('int64', ids, [B, T]),
    attention_mask: new ort.Tensor('int64', mask || new BigInt64Array(B * T).fill(1n), [B, T]),
  };
}

// Deterministic ids in [5, vocab) for a timed shape (any ids do: no padding, same cost).
function randomIds(n, seed, vocab) {
  let s = BigInt(seed) * 6364136223846793005n + 1442695040888963407n;
  const ids = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    ids[i] = 5n + (s >> 33n) % BigInt(vocab - 5);
  }
  return ids;
}

// Op types in a serialized ONNX graph, counted for the names we care about: NodeProto
// field 4 (op_type) is the byte 0x22, the length, then the name.
function countOps(file) {
  const buf = fs.readFileSync(file);
  const names = ['Attention', 'MultiHeadAttention', 'SkipLayerNormalization', 'LayerNormalization',
                 'EmbedLayerNormalization', 'BiasGelu', 'Gelu', 'FastGelu', 'MatMul', 'FusedMatMul',
                 'Gemm', 'Softmax', 'Erf', 'DynamicQuantizeLinear', 'MatMulInteger',
                 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul'];
  const counts = {};
  for (const name of names) {
    const pat = Buffer.concat([Buffer.from([0x22, name.length]), Buffer.from(name)]);
    let c = 0;
    for (let i = buf.indexOf(pat); i >= 0; i = buf.indexOf(pat, i + 1)) {
      const next = buf[i + pat.length];
      if (!(next >= 0x61 && next <= 0x7a) && !(next >= 0x41 && next <= 0x5a)) c++; // not a longer name
    }
    if (c) counts[name] = c;
  }
  return Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
}

// The median, least and largest seconds of repeated calls of run (an async function):
// warm-up calls until warmupTime has gone by (at least one, at most 50), then calls until
// minTime and minReps are both reached, or maxReps.
async function timeRuns(run, a) {
  const w0 = now();
  for (let r = 0; r < 50; r++) {
    await run();
    if (now() - w0 >= a.warmupTime) break;
  }
  const samples = [];
  const tStart = now();
  while (samples.length < a.maxReps) {
    const t0 = now();
    await run();
    samples.push(now() - t0);
    if (samples.length >= a.minReps && now() - tStart >= a.minTime) break;
  }
  samples.sort((x, y) => x - y);
  const n = samples.length;
  const med = n % 2 ? samples[(n - 1) / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  return { med, min: samples[0], max: samples[n - 1], n };
}

// Mean over the mask of each sequence's rows: (B, T, D) -> (B, D), as encoderd's (and
// sentence-transformers') mean pooling.
function meanPool(hidden, mask, B, T, D) {
  const out = new Float32Array(B * D);
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let t = 0; t < T; t++) {
      if (!mask[b * T + t]) continue;
      count++;
      for (let j = 0; j < D; j++) out[b * D + j] += hidden[(b * T + t) * D + j];
    }
    for (let j = 0; j < D; j++) out[b * D + j] /= count;
  }
  return out;
}

// The options every timed session runs with: intra-op threads, sequential, all graph
// optimizations.
function sessionOptions(threads) {
  return { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1,
           executionMode: 'sequential', graphOptimizationLevel: 'all' };
}

// What a timed run fetches: the pooled embedding, or last_hidden_state where the graph has none.
const timedOutput = (session) =>
  session.outputNames.includes('embedding') ? 'embedding' : 'last_hidden_state';

async function serve(a) {
  const files = { f32: path.join(a.dir, 'minilm.onnx'), int8: path.join(a.dir, 'minilm.int8.onnx') };
  const sessions = new Map();
  const rl = require('readline').createInterface({ input: process.stdin });
  for await (const line of rl) {
    const f = line.trim().split(/\s+/);
    const [name, threads, B, T, secs] = [f[0], ...f.slice(1).map(Number)];
    if (f.length !== 5 || !Object.hasOwn(files, name) || !(threads === 1 || threads === 2) ||
        !Number.isInteger(B) || !Number.isInteger(T) || B < 1 || T < 1 || B * T > 16384 ||
        !(secs > 0 && secs <= 600)) {
      throw new Error(`serve: a line is MODEL(f32|int8) THREADS(1|2) B T SECONDS, B x T at ` +
                      `most 16384, SECONDS in (0, 600]; not "${line}"`);
    }
    const key = `${name} ${threads}`;
    if (!sessions.has(key)) {
      sessions.set(key, await ort.InferenceSession.create(files[name], sessionOptions(threads)));
    }
    const session = sessions.get(key);
    const timed = timedOutput(session);
    const input = feeds(B, T, randomIds(B * T, 1000 + B * T, a.vocab));
    const { med, min, n } = await timeRuns(() => session.run(input, [timed]),
                                           { warmupTime: 0.2, minTime: Number(secs), minReps: 3,
                                             maxReps: 10000 });
    console.log(`time\t${name}\t${threads}\t${B}\t${T}\t${(med * 1e3).toFixed(4)}\t` +
                `${(min * 1e3).toFixed(4)}\t${n}`);
  }
  for (const s of sessions.values()) await s.release();
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.serve) return serve(a);
  const model = a.model || path.join(a.dir, 'minilm.onnx');
  const TOL = a.tol;
  const ref = readSafetensors(a.ref || path.join(a.dir, 'ref.safetensors'));
  const [B, T] = ref.input_ids.shape;
  const mask = ref.attention_mask ? ref.attention_mask.data : new BigInt64Array(B * T).fill(1n);
  const pkg = require('onnxruntime-node/package.json');
  console.log(`ort_version\t${pkg.version}`);
  let ok = true;
  for (const threads of a.threads.split(',').map(Number)) {
    const opts = sessionOptions(threads);
    const optimized = path.join(a.dir, path.basename(model, '.onnx') + '.ort-optimized.onnx');
    if (threads === 1) {
      opts.optimizedModelFilePath = optimized; // to list the fused ops; deleted below
      opts.logSeverityLevel = 3; // no warning that the saved graph is machine-specific
    }
    const session = await ort.InferenceSession.create(model, opts);
    if (threads === 1 && fs.existsSync(optimized)) {
      console.log(`ort_graph\t${countOps(optimized)}`);
      fs.unlinkSync(optimized);
    }

    // The check: the reference input, both outputs, against encoderd's (the rows the
    // mask keeps: a padded position's row is not part of the function).
    const timed = timedOutput(session);
    const hasEmbedding = timed === 'embedding';
    if (threads === 1) console.log(`timed_output\t${timed}`);
    const out = await session.run(feeds(B, T, ref.input_ids.data, mask));
    const Dm = out.last_hidden_state.dims[2];
    if (!hasEmbedding) {
      const data = meanPool(out.last_hidden_state.data, mask, B, T, Dm);
      out.embedding = { data, dims: [B, Dm] };
    }
    for (const name of ['last_hidden_state', 'embedding']) {
      const got = out[name].data;
      const want = ref[name].data;
      const D = out[name].dims[out[name].dims.length - 1];
      const keep = (r) => name !== 'last_hidden_state' || mask[r] !== 0n;
      let diff = got.length === want.length ? 0 : Infinity;
      for (let i = 0; i < want.length && diff !== Infinity; i++) {
        if (!keep(Math.floor(i / D))) continue;
        const d = Math.abs(got[i] - want[i]);
        if (!(d <= diff)) diff = d; // NaN makes it NaN
      }
      const good = diff <= TOL;
      // relative error over the whole output; per embedding row, the cosine similarity
      let num = 0, den = 0, cosMin = 1;
      for (let i = 0; i < want.length; i++) {
        if (keep(Math.floor(i / D))) num += (got[i] - want[i]) ** 2, den += want[i] ** 2;
      }
      for (let r = 0; r < want.length / D; r++) {
        if (!keep(r)) continue;
        let gw = 0, gg = 0, ww = 0;
        for (let j = r * D; j < (r + 1) * D; j++) gw += got[j] * want[j], gg += got[j] ** 2, ww += want[j] ** 2;
        cosMin = Math.min(cosMin, gw / Math.sqrt(gg * ww));
      }
      console.log(`accuracy\tort\t${threads}\t${name}\t${Math.sqrt(num / den).toExponential(3)}\t` +
                  `${cosMin.toFixed(6)}`);
      ok = ok && good;
      console.log(`check\tort\t${threads}\t${name}\t${diff.toExponential(3)}\t${TOL}\t${good ? 'ok' : 'FAIL'}`);
      process.stderr.write(`  ORT (threads ${threads}) vs encoderd, ${name} [${out[name].dims}]: ` +
                           `max |diff| ${diff.toExponential(3)}, relative error ` +
                           `${Math.sqrt(num / den).toExponential(3)}, least row cosine ${cosMin.toFixed(6)}\n`);
    }

    for (const shape of a.shapes.split(',')) {
      const [b, t] = shape.split('x').map(Number);
      const f = feeds(b, t, randomIds(b * t, 1000 + b * t, a.vocab));
      const { med, min, max, n } = await timeRuns(() => session.run(f, [timed]), a);
      console.log(`forward\t${threads}\t${b}\t${t}\t${(med * 1e3).toFixed(4)}\t` +
                  `${(min * 1e3).toFixed(4)}\t${(max * 1e3).toFixed(4)}\t${n}`);
      process.stderr.write(`  ORT ${b}x${t} threads ${threads}: ${(med * 1e3).toFixed(3)} ms (${n} runs)\n`);
    }
    await session.release();
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((e) => { console.error(e); process.exit(1); });
