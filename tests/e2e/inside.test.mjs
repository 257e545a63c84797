// The inside of the forward pass over HTTP: /encode's queries, keys, values, head_outputs,
// attention_output, ffn_intermediate, attention_norms, rollout, predictions and logits,
// "ablate", POST /fill-mask and GET /model's heads, each compared with the PyTorch
// references of the golden fixtures (tests/golden/gen_families.py, gen_fill_mask.py).
// Starts its own build/encoderd (ENCODERD_BIN) on tests/golden/fixtures/bert_mlm_f32
// (a masked-LM head) and bert_cls_f32 (a classifier); the default model's size limits
// run on ENCODERD_BASE when run.sh gives it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { assertError, call } from './lib.mjs';

const BIN = process.env.ENCODERD_BIN || 'build/encoderd';
const BASE = process.env.ENCODERD_BASE;
const FIX = 'tests/golden/fixtures';

// Starts encoderd on a checkpoint folder; resolves { url, stop } once it listens.
function start(model) {
    const proc = spawn(BIN, ['--model', model, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const exited = new Promise((res) => proc.on('exit', res));
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('no start: ' + log)); }, 30000);
        proc.stderr.on('data', (d) => {
            log += d;
            const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
            if (m && timer) {
                clearTimeout(timer);
                resolve({ url: `http://127.0.0.1:${m[1]}`, stop: async () => { proc.kill('SIGKILL'); await exited; } });
            }
        });
        proc.on('exit', () => { clearTimeout(timer); reject(new Error('exited: ' + log)); });
    });
}

// A fixture's reference tensors: get(name) -> { shape, data: Float32Array }.
function fixture(name) {
    const meta = JSON.parse(readFileSync(`${FIX}/${name}/expected.json`, 'utf8'));
    const buf = readFileSync(`${FIX}/${name}/expected.bin`);
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const get = (key) => {
        const t = meta.tensors[key];
        assert.ok(t, `${name} has no tensor ${key}`);
        const n = t.shape.reduce((a, b) => a * b, 1);
        return { shape: t.shape, data: all.subarray(t.offset, t.offset + n) };
    };
    return { meta, get };
}

const shapeOf = (x) => (Array.isArray(x) ? [x.length, ...shapeOf(x[0])] : []);
const flat = (x) => (Array.isArray(x) ? x.flatMap(flat) : [x]);
// The float32 values of a base64 tensor object.
function decode(t) {
    assert.equal(t.dtype, 'float32');
    const b = Buffer.from(t.data, 'base64');
    return { shape: t.shape, data: Array.from(new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4)) };
}
function maxDiff(got, want) {
    assert.equal(got.length, want.length, 'sizes differ');
    let m = 0;
    for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
    return m;
}
// Compares a nested JSON answer with a reference tensor: the same shape, |diff| <= tol.
function near(name, got, ref, tol) {
    assert.deepEqual(shapeOf(got), ref.shape, `${name}: shape`);
    const d = maxDiff(flat(got), ref.data);
    assert.ok(d <= tol, `${name}: max |diff| ${d} > ${tol}`);
}
// A reference tensor cut along its first two axes: entries l of layers and h of heads.
function select(ref, layers, heads) {
    const [L, H, ...rest] = ref.shape;
    const inner = rest.reduce((a, b) => a * b, 1);
    const out = [];
    for (const l of layers)
        for (const h of heads ?? [null]) {
            const at = heads ? (l * H + h) * inner : l * H * inner;
            const n = heads ? inner : H * inner;
            out.push(...ref.data.subarray(at, at + n));
        }
    return { shape: heads ? [layers.length, heads.length, ...rest] : [layers.length, H, ...rest], data: out };
}

const mlm = fixture('bert_mlm_f32');
const cls = fixture('bert_cls_f32');
const fill = JSON.parse(readFileSync(`${FIX}/bert_mlm_f32/fill_mask.json`, 'utf8'));
const servers = {};
const ready = (async () => {
    servers.mlm = await start(`${FIX}/bert_mlm_f32/model`);
    servers.cls = await start(`${FIX}/bert_cls_f32/model`);
})();
after(async () => { for (const s of Object.values(servers)) await s.stop(); });

const INSIDE = ['queries', 'keys', 'values', 'head_outputs', 'attention_output', 'ffn_intermediate',
    'attention_norms', 'rollout'];
// The golden tests' tolerances: hidden-sized floats 1e-4; attention-sized (maps, rows
// that sum to 1) 1e-5.
const TOL = { queries: 1e-4, keys: 1e-4, values: 1e-4, head_outputs: 1e-4, attention_output: 1e-4,
    ffn_intermediate: 1e-4, attention_norms: 1e-4, rollout: 1e-5, attention: 1e-5, hidden_states: 1e-4 };

test('every output of the pass matches PyTorch, one input and a batch', async () => {
    await ready;
    const seqs = mlm.meta.sequences.slice(0, 2);
    const outputs = ['attention', 'hidden_states', ...INSIDE];
    const one = await call(servers.mlm.url, 'POST', '/encode', { tokens: seqs[1], outputs });
    assert.equal(one.status, 200, one.text);
    const batch = await call(servers.mlm.url, 'POST', '/encode', { tokens: seqs, outputs });
    assert.equal(batch.status, 200, batch.text);
    for (const [b, res] of [[1, one.json], [0, batch.json.results[0]], [1, batch.json.results[1]]]) {
        near(`seq${b} attention`, res.attention, mlm.get(`seq${b}/attention`), TOL.attention);
        near(`seq${b} hidden_states`, res.hidden_states, mlm.get(`seq${b}/hidden`), TOL.hidden_states);
        for (const o of INSIDE) near(`seq${b} ${o}`, res[o], mlm.get(`seq${b}/${o}`), TOL[o]);
        assert.deepEqual(res.layers, [0, 1, 2]);
        assert.deepEqual(res.heads, [0, 1, 2, 3]);
    }
    // Each rollout row sums to 1.
    for (const row of one.json.rollout.flat()) assert.ok(Math.abs(row.reduce((a, x) => a + x, 0) - 1) < 1e-5);
});

test('layers and heads select the inside outputs as they select attention, in the order asked', async () => {
    await ready;
    const layers = [1, 0, 1], heads = [3, 0];
    const r = await call(servers.mlm.url, 'POST', '/encode',
        { tokens: mlm.meta.sequences[0], outputs: INSIDE, layers, heads });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.layers, layers);
    assert.deepEqual(r.json.heads, heads);
    for (const o of ['queries', 'keys', 'values', 'head_outputs', 'attention_norms'])
        near(o, r.json[o], select(mlm.get(`seq0/${o}`), layers, heads), TOL[o]);
    for (const o of ['attention_output', 'ffn_intermediate', 'rollout']) {
        const ref = mlm.get(`seq0/${o}`), inner = ref.data.length / ref.shape[0];
        const want = layers.flatMap((l) => Array.from(ref.data.subarray(l * inner, (l + 1) * inner)));
        near(o, r.json[o], { shape: [layers.length, ...ref.shape.slice(1)], data: want }, TOL[o]);
    }
});

test('predictions: the logit lens of every hidden state, top_k best first, against PyTorch', async () => {
    await ready;
    const V = mlm.meta.dims.vocab_size, k = 4;
    for (const b of [0, 1]) {
        const r = await call(servers.mlm.url, 'POST', '/encode',
            { tokens: mlm.meta.sequences[b], outputs: ['predictions'], top_k: k });
        assert.equal(r.status, 200, r.text);
        const lens = mlm.get(`mlm_lens/seq${b}`); // (n_hidden, T, V)
        const [NH, T] = lens.shape;
        assert.deepEqual(shapeOf(r.json.predictions), [NH, T, k]);
        assert.deepEqual(r.json.layers, [0, 1, 2]);
        for (let l = 0; l < NH; l++)
            for (let t = 0; t < T; t++) {
                const row = lens.data.subarray((l * T + t) * V, (l * T + t + 1) * V);
                const order = Array.from(row.keys()).sort((x, y) => row[y] - row[x]);
                const got = r.json.predictions[l][t];
                for (let i = 0; i < k; i++) {
                    assert.ok(Math.abs(got[i].score - row[got[i].id]) <= 1e-5, `score of ${l},${t},${i}`);
                    // The id is the reference's i-th best, unless two probabilities tie
                    // within the tolerance.
                    if (got[i].id !== order[i])
                        assert.ok(Math.abs(row[order[i]] - row[got[i].id]) <= 1e-5, `rank ${i} at ${l},${t}`);
                    if (i) assert.ok(got[i - 1].score >= got[i].score, 'best first');
                    assert.equal(typeof got[i].token, 'string');
                }
            }
        // The last hidden state's predictions are the masked-LM output.
        const last = mlm.get(`mlm/seq${b}`);
        const p = r.json.predictions[NH - 1][0][0];
        assert.ok(Math.abs(p.score - last.data[p.id]) <= 1e-5);
    }
    // Layers select predictions as hidden_states (0..L), in the order asked.
    const r = await call(servers.mlm.url, 'POST', '/encode',
        { tokens: mlm.meta.sequences[0], outputs: ['predictions', 'hidden_states'], layers: [2, 0], top_k: 1 });
    const full = await call(servers.mlm.url, 'POST', '/encode',
        { tokens: mlm.meta.sequences[0], outputs: ['predictions'], top_k: 1 });
    assert.deepEqual(r.json.predictions, [full.json.predictions[2], full.json.predictions[0]]);
    assert.deepEqual(r.json.layers, [2, 0]);
});

test('ablate: zero and mean give the intervened model of PyTorch; the default mode is zero', async () => {
    await ready;
    const { layer, head } = mlm.meta.ablation;
    for (const b of [0, 1]) {
        const tokens = mlm.meta.sequences[b];
        for (const mode of ['zero', 'mean']) {
            const r = await call(servers.mlm.url, 'POST', '/encode',
                { tokens, outputs: ['hidden_states', 'token_embeddings'], ablate: [{ layer, head, mode }] });
            assert.equal(r.status, 200, r.text);
            near(`ablate ${mode} hidden`, r.json.hidden_states, mlm.get(`ablate_${mode}/seq${b}/hidden`), 1e-4);
            near(`ablate ${mode} last`, r.json.token_embeddings, mlm.get(`ablate_${mode}/seq${b}/last`), 1e-4);
            assert.deepEqual(r.json.ablate, [{ layer, head, mode }]);
        }
    }
    const tokens = mlm.meta.sequences[1];
    const plain = await call(servers.mlm.url, 'POST', '/encode', { tokens, outputs: ['token_embeddings'] });
    const dflt = await call(servers.mlm.url, 'POST', '/encode', { tokens, outputs: ['token_embeddings'], ablate: [{ layer, head }] });
    const zero = await call(servers.mlm.url, 'POST', '/encode', { tokens, outputs: ['token_embeddings'], ablate: [{ layer, head, mode: 'zero' }] });
    assert.deepEqual(dflt.json.token_embeddings, zero.json.token_embeddings);
    assert.notDeepEqual(plain.json.token_embeddings, zero.json.token_embeddings);
    assert.equal(plain.json.ablate, undefined);
});

test('jobs with different ablations, top_k or outputs never share a forward pass', async () => {
    await ready;
    const url = servers.mlm.url, tokens = mlm.meta.sequences[1];
    const bodies = [
        { tokens, outputs: ['embedding'] },
        { tokens, outputs: ['embedding'], ablate: [{ layer: 0, head: 1 }] },
        { tokens, outputs: ['embedding'], ablate: [{ layer: 0, head: 1, mode: 'mean' }] },
        { tokens, outputs: ['embedding'], ablate: [{ layer: 1, head: 1 }] },
        { tokens, outputs: ['embedding'], ablate: [{ layer: 1, head: 1 }, { layer: 0, head: 3 }] },
        { tokens, outputs: ['embedding', 'token_embeddings'] },
    ];
    const alone = [];
    for (const body of bodies) alone.push((await call(url, 'POST', '/encode', body)).json);
    for (let i = 0; i < 5; i++) // the last asks the first's pass, and more outputs
        for (let j = 0; j < i; j++) assert.notDeepEqual(alone[i].embedding, alone[j].embedding, `${i} and ${j}`);
    // Many at once: the batcher packs what it can; each answer stays its own.
    for (let round = 0; round < 3; round++) {
        const many = await Promise.all(Array.from({ length: 24 }, (_, i) => call(url, 'POST', '/encode', bodies[i % bodies.length])));
        many.forEach((r, i) => assert.deepEqual(r.json, alone[i % bodies.length], `request ${i}`));
    }
});

test('logits of the classifier against PyTorch; GET /model names the heads', async () => {
    await ready;
    // Sequence 2 of bert_cls_f32 is [CLS] [SEP] (no pair: token types 0, as /encode's).
    const r = await call(servers.cls.url, 'POST', '/encode', { tokens: cls.meta.sequences[2], outputs: ['logits'] });
    assert.equal(r.status, 200, r.text);
    near('logits', r.json.logits, cls.get('logits/seq2'), 1e-5);
    const b = await call(servers.cls.url, 'POST', '/encode', { tokens: [cls.meta.sequences[2]], outputs: ['logits'], encoding: 'base64' });
    assert.deepEqual(decode(b.json.results[0].logits).shape, [1]);
    assert.ok(maxDiff(decode(b.json.results[0].logits).data, cls.get('logits/seq2').data) <= 1e-5);

    const m = (await call(servers.cls.url, 'GET', '/model')).json;
    assert.equal(m.family, 'bert');
    assert.equal(m.has_mlm_head, false);
    assert.equal(m.mask_token, '[MASK]');
    assert.deepEqual(m.labels, ['LABEL_0']);
    assert.ok(m.outputs.includes('logits') && !m.outputs.includes('predictions'));
    const w = (await call(servers.mlm.url, 'GET', '/model')).json;
    assert.deepEqual([w.family, w.has_mlm_head, w.mask_token, w.labels], ['bert', true, '[MASK]', null]);
    assert.ok(w.outputs.includes('predictions') && !w.outputs.includes('logits'));

    assertError(await call(servers.cls.url, 'POST', '/encode', { text: 'a', outputs: ['predictions'] }), 422,
        'invalid_request', 'outputs[0]="predictions": this model has no masked-language-model head');
    assertError(await call(servers.mlm.url, 'POST', '/encode', { text: 'a', outputs: ['embedding', 'logits'] }), 422,
        'invalid_request', 'outputs[1]="logits": this model has no sequence classifier');
    const f = await call(servers.cls.url, 'POST', '/fill-mask', { text: 'a [MASK]' });
    assert.equal(f.status, 424, f.text);
    assert.ok(f.json.error.message.includes('/fill-mask needs a masked-language-model head'));
});

test('base64 holds the same float32 values as the JSON numbers, every output', async () => {
    await ready;
    const outputs = ['hidden_states', 'attention', 'scores', ...INSIDE];
    const body = { tokens: mlm.meta.sequences[1], outputs, layers: [1, 0], heads: [2, 0] };
    const j = (await call(servers.mlm.url, 'POST', '/encode', body)).json;
    const b = (await call(servers.mlm.url, 'POST', '/encode', { ...body, encoding: 'base64' })).json;
    for (const o of outputs) {
        const t = decode(b[o]);
        assert.deepEqual(t.shape, shapeOf(j[o]), `${o} shape`);
        assert.deepEqual(t.data, flat(j[o]).map(Math.fround), `${o} values`);
    }
    const pj = (await call(servers.mlm.url, 'POST', '/encode', { ...body, outputs: ['predictions'], top_k: 3 })).json;
    const pb = (await call(servers.mlm.url, 'POST', '/encode', { ...body, outputs: ['predictions'], top_k: 3, encoding: 'base64' })).json;
    assert.equal(pb.predictions.ids.dtype, 'int32');
    const ids = Buffer.from(pb.predictions.ids.data, 'base64');
    assert.deepEqual(Array.from(new Int32Array(ids.buffer, ids.byteOffset, ids.byteLength / 4)), flat(pj.predictions).map((g) => g.id));
    assert.deepEqual(pb.predictions.scores.shape, shapeOf(pj.predictions));
    assert.deepEqual(decode(pb.predictions.scores).data, flat(pj.predictions).map((g) => Math.fround(g.score)));
});

test('/fill-mask: the guesses at each mask against PyTorch, in the pipeline\'s shape', async () => {
    await ready;
    const url = servers.mlm.url, k = 5;
    const check = (guesses, probs, what) => {
        assert.equal(guesses.length, k, what);
        const order = Array.from(probs.keys()).sort((x, y) => probs[y] - probs[x]);
        guesses.forEach((g, i) => {
            assert.deepEqual(Object.keys(g), ['id', 'token', 'score']);
            assert.ok(Math.abs(g.score - probs[g.id]) <= 1e-5, `${what} score ${i}`);
            if (g.id !== order[i]) assert.ok(Math.abs(probs[order[i]] - probs[g.id]) <= 1e-5, `${what} rank ${i}`);
        });
    };
    // One text, one mask: a list of guesses; the tokens are Hugging Face's.
    const tok = await call(url, 'POST', '/tokenize', { text: fill.texts[0] });
    assert.deepEqual(tok.json.tokens.map((t) => t.id), fill.ids[0]);
    const one = await call(url, 'POST', '/fill-mask', { text: fill.texts[0] });
    assert.equal(one.status, 200, one.text);
    check(one.json, fill.probs[0][0], 'text 0');
    // One text, two masks: a list per mask.
    const two = await call(url, 'POST', '/fill-mask', { text: fill.texts[1], top_k: k });
    assert.equal(two.json.length, 2);
    two.json.forEach((g, m) => check(g, fill.probs[1][m], `text 1 mask ${m}`));
    // A batch: one answer per text; and the same from ids.
    const all = await call(url, 'POST', '/fill-mask', { text: fill.texts });
    assert.equal(all.json.length, fill.texts.length);
    assert.deepEqual(all.json[0], one.json);
    assert.deepEqual(all.json[1], two.json);
    check(all.json[2], fill.probs[2][0], 'text 2');
    const ids = await call(url, 'POST', '/fill-mask', { tokens: fill.ids });
    assert.deepEqual(ids.json, all.json);
    const k1 = await call(url, 'POST', '/fill-mask', { text: fill.texts[0], top_k: 1 });
    assert.deepEqual(k1.json, [one.json[0]]);
    // The answers of the shape /encode's predictions give at the same position.
    const p = await call(url, 'POST', '/encode', { tokens: fill.ids[0], outputs: ['predictions'], layers: [2] });
    assert.deepEqual(p.json.predictions[0][fill.masks[0][0]], one.json);
});

test('bad requests: a 422 naming the field', async () => {
    await ready;
    const url = servers.mlm.url, text = 'hello world';
    const cases = [
        [{ text, outputs: ['queries', 'bogus'] }, 'outputs[1]="bogus" is not one of tokens, embedding, token_embeddings, hidden_states, attention, scores, queries, keys, values, head_outputs, attention_output, ffn_intermediate, attention_norms, rollout, predictions, logits'],
        [{ text, outputs: ['queries'], heads: [4] }, 'heads[0]=4 is outside 0..3 (the model has 4 heads)'],
        [{ text, outputs: ['attention_norms'], heads: [0, 9] }, 'heads[1]=9 is outside 0..3'],
        [{ text, outputs: ['ffn_intermediate'], layers: [2] }, "layers[0]=2 is outside ffn_intermediate's range 0..1"],
        [{ text, outputs: ['rollout'], layers: [0, 5] }, "layers[1]=5 is outside rollout's range 0..1"],
        [{ text, outputs: ['predictions'], layers: [3] }, "layers[0]=3 is outside predictions' range 0..2"],
        [{ text, outputs: ['predictions'], top_k: 0 }, 'top_k=0 is outside 1..100 (the vocabulary)'],
        [{ text, outputs: ['predictions'], top_k: 101 }, 'top_k=101 is outside 1..100'],
        [{ text, top_k: 2.5 }, 'top_k must be an integer in 1..100, got a real'],
        [{ text, ablate: 'layer 1' }, 'ablate must be a list of {"layer", "head", "mode"}, got a string'],
        [{ text, ablate: [[1, 2]] }, 'ablate[0] must be an object'],
        [{ text, ablate: [{ layer: 0, head: 0, modes: 'zero' }] }, 'ablate[0] has an unknown key "modes" (known: layer, head, mode)'],
        [{ text, ablate: [{ layer: 0, head: 0 }, { layer: 1, head: 12 }] }, 'ablate[1].head = 12 is outside 0..3 (the model has 4 heads)'],
        [{ text, ablate: [{ layer: 2, head: 0 }] }, 'ablate[0].layer = 2 is outside 0..1 (the model has 2 layers)'],
        [{ text, ablate: [{ layer: '1', head: 0 }] }, 'ablate[0].layer must be an integer in 0..1, got a string'],
        [{ text, ablate: [{ head: 0 }] }, 'ablate[0].layer is missing'],
        [{ text, ablate: [{ layer: 0, head: 1, mode: 'random' }] }, 'ablate[0].mode must be "zero" or "mean", got "random"'],
        [{ text, ablate: [{ layer: 0, head: 1 }, { layer: 0, head: 1, mode: 'mean' }] }, 'ablate[1] repeats ablate[0] (layer 0, head 1)'],
    ];
    for (const [body, message] of cases)
        assertError(await call(url, 'POST', '/encode', body), 422, 'invalid_request', message);
    const fm = [
        [{ text: 'no mask here' }, 'the text has no mask token; write [MASK] (id 4) where a token is to be guessed'],
        [{ text: ['a [MASK]', 'none'] }, 'text[1] has no mask token; write [MASK]'],
        [{ tokens: [2, 9, 3] }, 'the token list has no mask token; write [MASK] (id 4)'],
        [{ text: 'a [MASK]', top_k: 0 }, 'top_k=0 is outside 1..100'],
        [{ text: 'a [MASK]', outputs: ['predictions'] }, 'unknown field "outputs" (known: text, tokens, top_k, truncate)'],
        [{ top_k: 3 }, 'send "text"'],
    ];
    for (const [body, message] of fm)
        assertError(await call(url, 'POST', '/fill-mask', body), 422, 'invalid_request', message);
});

test('every output of a 128-token input on the default model is answered; a bigger ask is a 413', { skip: !BASE && 'ENCODERD_BASE not given' }, async () => {
    const m = (await call(BASE, 'GET', '/model')).json;
    const every = m.outputs;
    const text = Array.from({ length: 126 }, (_, i) => `w${i}`).join(' ');
    for (const encoding of ['json', 'base64']) {
        const r = await call(BASE, 'POST', '/encode', { text, outputs: every, encoding });
        assert.equal(r.status, 200, r.text.slice(0, 300));
        assert.equal(r.json.usage.tokens, 128);
        const T = 128, L = m.n_layers, H = m.n_heads;
        const shape = (x) => (encoding === 'base64' ? x.shape : shapeOf(x));
        assert.deepEqual(shape(r.json.queries), [L, H, T, m.d_head]);
        assert.deepEqual(shape(r.json.ffn_intermediate), [L, T, m.d_ff]);
        assert.deepEqual(shape(r.json.rollout), [L, T, T]);
        assert.deepEqual(encoding === 'base64' ? r.json.predictions.ids.shape : shapeOf(r.json.predictions).slice(0, 2).concat(5), [L + 1, T, 5]);
    }
    // 512 tokens with every output: over the numbers one response may hold.
    const big = Array.from({ length: 510 }, (_, i) => `w${i}`).join(' ');
    const r = await call(BASE, 'POST', '/encode', { text: big, outputs: every });
    assertError(r, 413, 'too_large', 'the response would hold ');
    assert.match(r.json.error.message, /would hold \d+ numbers, more than the 33554432/);
});

test('/fill-mask by text on the default (random) model: "[MASK]" in the text is the mask', { skip: !BASE && 'ENCODERD_BASE not given' }, async () => {
    const r = await call(BASE, 'POST', '/fill-mask', { text: 'Paris is the [MASK] of France.', top_k: 3 });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(r.json.length, 3);
    for (let i = 1; i < 3; i++) assert.ok(r.json[i - 1].score >= r.json[i].score, 'best first');
    // The same guesses as the predictions of the last layer at the mask's position.
    const t = await call(BASE, 'POST', '/encode', { text: 'Paris is the [MASK] of France.', outputs: ['tokens', 'predictions'], top_k: 3 });
    const at = t.json.tokens.findIndex((tok) => tok.special && tok.text === '[MASK]');
    assert.equal(at, 4);
    assert.deepEqual(t.json.predictions.at(-1)[at], r.json);
    assertError(await call(BASE, 'POST', '/fill-mask', { text: 'no mask here' }), 422, 'invalid_request',
        'text has no mask token; write [MASK] (id 4) where a token is to be guessed');
});
