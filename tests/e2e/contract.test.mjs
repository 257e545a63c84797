// The v1 contract against running servers (started by tests/e2e/run.sh): POST /v1/embeddings
// (float and base64, compared with /encode), GET /model, GET /openapi.yaml, HEAD, the
// "precision" and "encoding" fields of /encode, and every error status a client can cause
// here with its message (401 and 429 are in service.test.mjs; tests/openapi checks every
// answer against openapi.yaml's schemas).
// ENCODERD_TOY = the toy model (D 4, 2 heads of 3, 6 layers, vocabulary 1000, max_len 512,
// mean pooling, not normalised), ENCODERD_BASE = the default config (the base encoder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, assertError, assertOpenAIError, shape, words } from './lib.mjs';

const TOY = process.env.ENCODERD_TOY;
const BASE = process.env.ENCODERD_BASE;
if (!TOY) throw new Error('set ENCODERD_TOY (tests/e2e/run.sh does)');
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

const encode = (body, base = TOY) => call(base, 'POST', '/encode', body);
const embed = (body, base = TOY) => call(base, 'POST', '/v1/embeddings', body);

// Little-endian float32 from base64, as OpenAI clients decode it.
function floats(b64) {
    const buf = Buffer.from(b64, 'base64');
    assert.equal(buf.length % 4, 0, 'base64 of whole float32s');
    return Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(4 * i));
}
const f32 = (x) => Math.fround(x);
const flat = (x) => (Array.isArray(x) ? x.flatMap(flat) : [x]);

/* The same vector: a text's rows go through a forward pass with whatever else shares
 * it, and every row is computed alike (core/kernels.c), so alone and batched give the
 * same bits (tol 0), and the same length. */
function assertClose(a, b, msg, tol = 0) {
    assert.equal(a.length, b.length, msg);
    const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    assert.ok(worst <= tol, `${msg}: max |diff| ${worst} > ${tol}`);
}

test('POST /v1/embeddings: OpenAI shape, equal to /encode embedding', async () => {
    const r = await embed({ input: 'Hello World', model: 'text-embedding-3-small' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.deepEqual(Object.keys(r.json), ['object', 'data', 'model', 'usage']);
    assert.equal(r.json.object, 'list');
    assert.equal(r.json.model, 'random-toy', 'echoes the served model, not the asked one');
    assert.deepEqual(r.json.usage, { prompt_tokens: 4, total_tokens: 4 });
    assert.equal(r.json.data.length, 1);
    assert.deepEqual(Object.keys(r.json.data[0]), ['object', 'index', 'embedding']);
    assert.equal(r.json.data[0].object, 'embedding');
    assert.equal(r.json.data[0].index, 0);
    const e = await encode({ text: 'Hello World' });
    assert.deepEqual(r.json.data[0].embedding, e.json.embedding);

    // A list of texts, ids, a list of id lists: one entry each, in order.
    const texts = ['Hello World', 'the quick brown fox', 'a'];
    const many = await embed({ input: texts });
    assert.deepEqual(many.json.data.map((d) => d.index), [0, 1, 2]);
    let tokens = 0;
    for (let i = 0; i < texts.length; i++) {
        const one = await encode({ text: texts[i] });
        assertClose(many.json.data[i].embedding, one.json.embedding, `input[${i}]`);
        tokens += one.json.usage.tokens;
    }
    assert.deepEqual(many.json.usage, { prompt_tokens: tokens, total_tokens: tokens });
    const ids = await embed({ input: [2, 9, 3] });
    assert.deepEqual(ids.json.data[0].embedding, (await encode({ tokens: [2, 9, 3] })).json.embedding);
    const idLists = await embed({ input: [[2, 9, 3], [5, 6]] });
    assert.equal(idLists.json.data.length, 2);
    assertClose(idLists.json.data[1].embedding, (await encode({ tokens: [5, 6] })).json.embedding, 'ids[1]');
    assert.equal(idLists.json.usage.prompt_tokens, 5);
});

test('POST /v1/embeddings: base64 decodes to the same float32s; dimensions shortens and renormalises', async () => {
    const input = ['Hello World', 'the cat sat'];
    const f = await embed({ input });
    const b = await embed({ input, encoding_format: 'base64' });
    assert.equal(b.status, 200);
    for (let i = 0; i < input.length; i++) {
        assert.equal(typeof b.json.data[i].embedding, 'string');
        assert.deepEqual(floats(b.json.data[i].embedding), f.json.data[i].embedding.map(f32), `input[${i}]`);
    }
    const full = f.json.data[0].embedding;
    const d2 = await embed({ input: 'Hello World', dimensions: 2 });
    const n = Math.hypot(full[0], full[1]);
    assert.equal(d2.json.data[0].embedding.length, 2);
    d2.json.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - full[i] / n) < 1e-6));
    assert.ok(Math.abs(Math.hypot(...d2.json.data[0].embedding) - 1) < 1e-6);
    assert.deepEqual((await embed({ input: 'Hello World', dimensions: 4 })).json.data[0].embedding, full);
    // The options OpenAI clients send: nulls count as absent; user is accepted.
    const nulls = await embed({ input: 'Hello World', model: null, encoding_format: null, dimensions: null, user: 'u1' });
    assert.deepEqual(nulls.json.data[0].embedding, full);
    if (BASE) { // a wider model: 512 floats, base64 of 2048 bytes
        const w = await embed({ input: 'Hello World', encoding_format: 'base64' }, BASE);
        assert.equal(floats(w.json.data[0].embedding).length, 512);
        assert.deepEqual(floats(w.json.data[0].embedding), (await encode({ text: 'Hello World' }, BASE)).json.embedding.map(f32));
    }
});

test('GET /model describes the served model; HEAD answers no body', async () => {
    const r = await call(TOY, 'GET', '/model');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
        name: 'random-toy', kind: 'random', preset: 'toy', seed: 42, vocab_size: 1000, d_model: 4,
        n_heads: 2, d_head: 3, d_ff: 8, n_layers: 6, max_len: 512, type_vocab_size: 0,
        activation: 'relu', positions: 'sinusoidal', pre_ln: false, embedding_layernorm: false,
        ln_eps: 1e-5, tokenizer: { kind: 'word', lowercase: true }, pooling: 'mean',
        normalize: false, max_batch: 64, compute: 'f32', family: 'random', has_mlm_head: true, mask_token: '[MASK]',
        labels: null,
        outputs: ['tokens', 'embedding', 'token_embeddings', 'hidden_states', 'attention', 'scores',
            'queries', 'keys', 'values', 'head_outputs', 'attention_output', 'ffn_intermediate',
            'attention_norms', 'rollout', 'predictions'],
    });
    const h = await fetch(TOY + '/model', { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-type'), 'application/json');
    assert.equal(await h.text(), '');
    if (BASE) {
        const b = await call(BASE, 'GET', '/model');
        assert.equal(b.json.name, 'random-base');
        assert.deepEqual([b.json.d_model, b.json.n_heads, b.json.d_head, b.json.d_ff, b.json.vocab_size], [512, 8, 64, 2048, 32000]);
    }
});

test('GET /model/weights: the toy parameters as numbers; a bigger model is a 413', async () => {
    const r = await call(TOY, 'GET', '/model/weights');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.json.model, 'random-toy');
    const byName = new Map(r.json.tensors.map((t) => [t.name, t]));
    assert.equal(byName.size, 6 * (2 * 6 + 10), 'per layer: 2 heads x W/b of q, k, v, then 10');
    assert.ok(!byName.has('tok_emb'), 'the token embeddings are not sent');
    for (const [name, shape] of [['layer0.W_o', [4, 6]], ['layer0.head1.W_k', [3, 4]], ['layer5.W_1', [8, 4]],
        ['layer5.W_2', [4, 8]], ['layer2.b_1', [8]], ['layer3.ln2.gamma', [4]]]) {
        const t = byName.get(name);
        assert.ok(t, name);
        assert.deepEqual(t.shape, shape, name);
        assert.equal(t.data.length, shape[0]);
        if (shape.length === 2) assert.ok(t.data.every((row) => row.length === shape[1] && row.every(Number.isFinite)), name);
    }
    assert.deepEqual(byName.get('layer3.ln2.gamma').data, [1, 1, 1, 1]); // a random model's gains
    assert.ok(byName.get('layer0.W_o').data.flat().some((v) => v !== 0));
    const h = await fetch(TOY + '/model/weights', { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(await h.text(), '');
    assertError(await call(TOY, 'POST', '/model/weights', {}), 405, 'method_not_allowed', '/model/weights takes GET, HEAD');
    if (BASE)
        assertError(await call(BASE, 'GET', '/model/weights'), 413, 'too_large',
            'parameters besides the token embeddings; /model/weights serves models up to 100000');
});

test('GET /openapi.yaml is the file at the top level, byte for byte', async () => {
    const r = await fetch(TOY + '/openapi.yaml');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/yaml');
    assert.equal(await r.text(), readFileSync(join(ROOT, 'openapi.yaml'), 'utf8'));
    const h = await fetch(TOY + '/openapi.yaml', { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(await h.text(), '');
});

test('GET /metrics is Prometheus text', async () => {
    await encode({ text: 'count me' });
    const r = await fetch(TOY + '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await r.text();
    assert.match(text, /^# (HELP|TYPE) /m);
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#')))
        assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? ([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf)|NaN)( -?[0-9]+)?$/,
            `not a sample line: ${line}`);
});

test('precision: floats with 1..9 significant digits; 9 is the default', async () => {
    const body = { text: 'the cat sat', outputs: ['embedding', 'token_embeddings', 'attention'], layers: [2] };
    const full = await encode(body);
    assert.equal((await encode({ ...body, precision: 9 })).text, full.text);
    for (const p of [1, 3, 6]) {
        const r = await encode({ ...body, precision: p });
        assert.equal(r.status, 200);
        for (const key of ['embedding', 'token_embeddings', 'attention']) {
            const a = flat(r.json[key]), b = flat(full.json[key]);
            assert.equal(a.length, b.length);
            a.forEach((x, i) => {
                assert.equal(Number(x.toPrecision(p)), x, `${key}[${i}]=${x} has more than ${p} digits`);
                assert.ok(Math.abs(x - b[i]) <= 0.5 * 10 ** (1 - p) * Math.abs(b[i]) * 1.05, `${key}[${i}] ${x} vs ${b[i]}`);
            });
        }
    }
    // Fewer digits, shorter text.
    assert.ok((await encode({ ...body, precision: 3 })).text.length < full.text.length * 0.7);
});

test('encoding base64: every float output is a float32 tensor equal to the JSON numbers', async () => {
    const body = { text: ['the cat sat on', 'a'], outputs: ['tokens', 'embedding', 'token_embeddings', 'hidden_states', 'attention'], layers: [0, 3], heads: [1] };
    const j = await encode(body);
    const b = await encode({ ...body, encoding: 'base64' });
    assert.equal(b.status, 200);
    for (let i = 0; i < 2; i++) {
        const rj = j.json.results[i], rb = b.json.results[i];
        assert.deepEqual(Object.keys(rb), Object.keys(rj));
        for (const k of ['tokens', 'layers', 'heads', 'usage', 'model']) assert.deepEqual(rb[k], rj[k], k);
        for (const k of ['embedding', 'token_embeddings', 'hidden_states', 'attention']) {
            assert.deepEqual(Object.keys(rb[k]), ['dtype', 'shape', 'data'], k);
            assert.equal(rb[k].dtype, 'float32');
            assert.deepEqual(rb[k].shape, shape(rj[k]), `${k} shape`);
            assert.deepEqual(floats(rb[k].data), flat(rj[k]).map(f32), k);
        }
    }
    const T = j.json.results[0].usage.tokens;
    assert.deepEqual(b.json.results[0].hidden_states.shape, [2, T, 4]);
    assert.deepEqual(b.json.results[0].attention.shape, [2, 1, T, T]);
    assert.equal((await encode({ text: 'a', pooling: 'none', encoding: 'base64' })).json.embedding, null);
});

test('400, 404, 405, 413, 415, 422: the status, the type and the message', async () => {
    // /v1 answers errors in OpenAI's shape, param naming the field.
    assertOpenAIError(await embed('{"input": '), 400, 'malformed JSON at line 1, column');
    assertOpenAIError(await embed(''), 400, 'the request body is empty');
    assertError(await call(TOY, 'GET', '/v2/embeddings'), 404, 'not_found',
        'no route GET /v2/embeddings; the routes are POST /encode, POST /tokenize, POST /v1/embeddings, GET /model, GET /model/weights, GET /health, GET /metrics, GET /openapi.yaml');
    let r = await call(TOY, 'GET', '/v1/embeddings');
    assertOpenAIError(r, 405, 'GET /v1/embeddings is not allowed; /v1/embeddings takes POST');
    assert.equal(r.headers.get('allow'), 'POST');
    r = await call(TOY, 'POST', '/model', {});
    assertError(r, 405, 'method_not_allowed', 'POST /model is not allowed; /model takes GET, HEAD');
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    r = await call(TOY, 'PUT', '/openapi.yaml', {});
    assertError(r, 405, 'method_not_allowed', '/openapi.yaml takes GET, HEAD');
    assertOpenAIError(await embed({ input: words(600) }), 413, "the input has 602 tokens, more than the model's max_len of 512");
    assertOpenAIError(await embed({ input: ['a', words(600)] }), 413, 'input[1] has 602 tokens');
    assertOpenAIError(await embed({ input: Array(513).fill(7) }), 413, 'the input has 513 tokens');
    assertOpenAIError(await call(TOY, 'POST', '/v1/embeddings', { input: 'a' }, { 'content-type': 'text/html' }),
        415, 'Content-Type "text/html" is not supported; send JSON (application/json)');
    const cases = [
        [{}, 'send "input"', 'input'],
        [{ input: 5 }, 'input must be a string, a list of strings, a list of token ids or a list of lists of token ids, got an integer'],
        [{ input: '' }, 'input is empty'],
        [{ input: [] }, 'input is an empty list'],
        [{ input: [{}] }, 'input[0] must be a string, a token id or a list of token ids, got an object'],
        [{ input: ['a', 1] }, 'input[1] must be a string, got an integer'],
        [{ input: [1, 'a'] }, 'input[1] must be an integer token id, got a string'],
        [{ input: [5, 1000] }, 'input[1]=1000 is outside the vocabulary (1000)'],
        [{ input: [1.5] }, 'input[0]=1.5 is not an integer token id'],
        [{ input: [-1] }, 'input[0]=-1 is negative'],
        [{ input: [[1], 2] }, 'input[1] must be a list of ids like input[0], got an integer'],
        [{ input: [[1], []] }, 'input[1] is an empty list'],
        [{ input: Array(2049).fill('a') }, 'the batch has 2049 inputs; at most 2048 are allowed in one request'],
        [{ input: 'a', encoding_format: 'int8' }, 'encoding_format must be "float" or "base64", got "int8"', 'encoding_format'],
        [{ input: 'a', dimensions: 5 }, "dimensions=5 is outside 1..4 (the model's d_model)", 'dimensions'],
        [{ input: 'a', dimensions: 0 }, 'dimensions=0 is outside 1..4', 'dimensions'],
        [{ input: 'a', dimensions: '2' }, 'dimensions must be a positive integer, got a string', 'dimensions'],
        [{ input: 'a', model: 1 }, 'model must be a string, got an integer', 'model'],
        [{ input: 'a', user: [] }, 'user must be a string, got a list', 'user'],
        [{ input: 'a', truncate: true }, 'unknown field "truncate" (known: input, model, encoding_format, dimensions, user)', 'truncate'],
    ];
    for (const [body, message, param = 'input'] of cases) assertOpenAIError(await embed(body), 422, message, param);
    for (const [body, message] of [
        [{ text: 'a', precision: 0 }, 'precision=0 is outside 1..9'],
        [{ text: 'a', precision: 10 }, 'precision=10 is outside 1..9'],
        [{ text: 'a', precision: 2.5 }, 'precision must be an integer number of significant digits in 1..9, got a real number'],
        [{ text: 'a', encoding: 'hex' }, 'encoding must be "json" or "base64", got "hex"'],
        [{ text: 'a', encoding_format: 'base64' }, 'unknown field "encoding_format"'],
    ]) assertError(await encode(body), 422, 'invalid_request', message);
    assertError(await call(TOY, 'POST', '/tokenize', { text: 'a', encoding: 'base64' }), 422, 'invalid_request',
        'unknown field "encoding" (known: text, tokens, add_special_tokens, truncate, text_pair)');
});
