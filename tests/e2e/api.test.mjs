// The HTTP API against running servers (started by tests/e2e/run.sh):
// ENCODERD_TOY = the toy model (D 4, 2 heads of 3, 6 layers, vocabulary 1000, max_len 512),
// ENCODERD_BASE = the default config (the base encoder: D 512, 8 heads, 6 layers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { call, assertError, shape, words } from './lib.mjs';

const TOY = process.env.ENCODERD_TOY;
const BASE = process.env.ENCODERD_BASE;
if (!TOY || !BASE) throw new Error('set ENCODERD_TOY and ENCODERD_BASE (tests/e2e/run.sh does)');

const encode = (body, base = TOY) => call(base, 'POST', '/encode', body);

function maxDiff(a, b) {
    if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b);
    assert.ok(Array.isArray(a) && Array.isArray(b) && a.length === b.length, 'shapes differ');
    return a.reduce((m, x, i) => Math.max(m, maxDiff(x, b[i])), 0);
}

test('GET /health', async () => {
    const r = await call(TOY, 'GET', '/health');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok', model: 'random-toy' });
    const h = await fetch(TOY + '/health', { method: 'HEAD' });
    assert.equal(h.status, 200);
});

test('unknown path is 404, wrong method is 405 with Allow', async () => {
    assertError(await call(TOY, 'GET', '/nope'), 404, 'not_found', 'no route GET /nope');
    assertError(await call(TOY, 'POST', '/v2/encode', {}), 404, 'not_found', 'no route POST /v2/encode');
    let r = await call(TOY, 'GET', '/encode');
    assertError(r, 405, 'method_not_allowed', '/encode takes POST');
    assert.equal(r.headers.get('allow'), 'POST');
    r = await call(TOY, 'PUT', '/tokenize', { text: 'a' });
    assertError(r, 405, 'method_not_allowed', '/tokenize takes POST');
    r = await call(TOY, 'POST', '/health', {});
    assertError(r, 405, 'method_not_allowed', '/health takes GET');
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
});

test('content types: JSON, form-urlencoded and text/plain are read as JSON; others are 415', async () => {
    for (const ct of ['application/json', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded',
        'text/plain', 'application/vnd.api+json']) {
        const r = await call(TOY, 'POST', '/encode', { text: 'a' }, { 'content-type': ct });
        assert.equal(r.status, 200, ct);
    }
    assertError(await call(TOY, 'POST', '/encode', { text: 'a' }, { 'content-type': 'text/html' }),
        415, 'unsupported_media_type', 'Content-Type "text/html" is not supported');
    assertError(await call(TOY, 'POST', '/tokenize', { text: 'a' }, { 'content-type': 'application/xml' }),
        415, 'unsupported_media_type', 'application/json');
});

test('400: malformed JSON says where; invalid UTF-8; empty body', async () => {
    assertError(await encode('{"text": "a",\n "outputs": [}'), 400, 'bad_json', 'at line 2, column');
    assertError(await encode('{"text": '), 400, 'bad_json', 'malformed JSON at line 1, column');
    assertError(await encode(new Uint8Array([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])),
        400, 'bad_json', 'invalid UTF-8');
    assertError(await encode(''), 400, 'bad_json', 'the request body is empty');
});

test('422: what is wrong and where', async () => {
    const cases = [
        [[1, 2], 'the body must be a JSON object'],
        [{ text: 'a', txt: 1 }, 'unknown field "txt"'],
        [{ text: 'a', tokens: [1] }, 'both "text" and "tokens" are given'],
        [{}, 'send "text"'],
        [{ text: 5 }, 'text must be a string or a list of strings, got an integer'],
        [{ text: '' }, 'text is empty'],
        [{ text: [] }, 'text is an empty list'],
        [{ text: ['a', 3] }, 'text[1] must be a string, got an integer'],
        [{ tokens: [] }, 'tokens is an empty list'],
        [{ tokens: [5, 6, 7, 40000] }, 'tokens[3]=40000 is outside the vocabulary (1000)'],
        [{ tokens: [[5], [6, 1000]] }, 'tokens[1][1]=1000 is outside the vocabulary (1000)'],
        [{ tokens: [5, 2.5] }, 'tokens[1]=2.5 is not an integer token id'],
        [{ tokens: [-1] }, 'tokens[0]=-1 is negative'],
        [{ tokens: [[5], []] }, 'tokens[1] is an empty list'],
        [{ tokens: [[5], 6] }, 'tokens[1] must be a list of ids like tokens[0]'],
        [{ text: 'a', outputs: ['labels'] }, 'outputs[0]="labels" is not one of'],
        [{ text: 'a', outputs: ['logits'] }, 'outputs: "logits" needs a sequence classifier, and random-toy has none'],
        [{ text: 'a', pooling: 'max' }, 'pooling must be "cls", "mean" or "none"'],
        [{ text: 'a', normalize: 'yes' }, 'normalize must be true or false'],
        [{ text: 'a', truncate: 1 }, 'truncate must be true or false'],
        [{ text: 'a', add_special_tokens: null }, 'add_special_tokens must be true or false'],
        [{ text: 'a', layers: [] }, 'layers is empty'],
        [{ text: 'a', layers: [-1] }, 'layers[0] must be a non-negative integer'],
        [{ text: 'a', outputs: ['hidden_states'], layers: [0, 7] }, "layers[1]=7 is outside hidden_states' range 0..6"],
        [{ text: 'a', outputs: ['attention'], layers: [6] }, "layers[0]=6 is outside attention's range 0..5"],
        [{ text: 'a', outputs: ['attention'], heads: [2] }, 'heads[0]=2 is outside 0..1 (the model has 2 heads)'],
        [{ text: Array(65).fill('a') }, 'the batch has 65 inputs; at most 64 are allowed (max_batch)'],
    ];
    for (const [body, message] of cases) assertError(await encode(body), 422, 'invalid_request', message);
    assertError(await encode('{"text": "a", "text": "b"}'), 422, 'invalid_request', 'duplicate field');
    assertError(await call(TOY, 'POST', '/tokenize', { text: 'a', outputs: [] }), 422, 'invalid_request',
        'unknown field "outputs"');
});

test('one text: tokens with code point offsets, an embedding, usage', async () => {
    const r = await encode({ text: 'Hello Wörld!' });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json), ['model', 'tokens', 'embedding', 'usage']);
    assert.equal(r.json.model, 'random-toy');
    const t = r.json.tokens;
    assert.deepEqual(t.map((x) => x.text), ['[CLS]', 'hello', 'wörld', '!', '[SEP]']);
    assert.deepEqual(t.map((x) => [x.start, x.end]), [[0, 0], [0, 5], [6, 11], [11, 12], [0, 0]]);
    assert.deepEqual(t.map((x) => x.special), [true, false, false, false, true]);
    for (const x of t) assert.ok(Number.isInteger(x.id) && x.id >= 0 && x.id < 1000);
    assert.equal(r.json.embedding.length, 4);
    assert.ok(r.json.embedding.every(Number.isFinite));
    assert.deepEqual(r.json.usage, { tokens: 5 });
});

test('token ids: no specials added, offsets null', async () => {
    const r = await encode({ tokens: [2, 17, 42, 3], outputs: ['tokens', 'token_embeddings'] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.tokens.map((x) => x.id), [2, 17, 42, 3]);
    assert.deepEqual(r.json.tokens.map((x) => x.start), [null, null, null, null]);
    assert.equal(r.json.tokens[0].text, '[CLS]');
    assert.deepEqual(shape(r.json.token_embeddings), [4, 4]);
    // The same ids as a text's give the same numbers.
    const text = await encode({ text: 'Hello World', outputs: ['tokens', 'token_embeddings'] });
    const ids = text.json.tokens.map((x) => x.id);
    const again = await encode({ tokens: ids, outputs: ['token_embeddings'] });
    assert.equal(maxDiff(again.json.token_embeddings, text.json.token_embeddings), 0);
});

test('outputs selection: attention for one layer, hidden_states [0, 6] in the order asked', async () => {
    const all = await encode({ text: 'the cat sat on the mat', outputs: ['hidden_states', 'attention'] });
    assert.equal(all.status, 200);
    const T = 8;
    assert.deepEqual(shape(all.json.hidden_states), [7, T, 4]);
    assert.deepEqual(shape(all.json.attention), [6, 2, T, T]);
    assert.deepEqual(all.json.layers, [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(all.json.heads, [0, 1]);
    for (const layer of all.json.attention)
        for (const head of layer)
            for (const row of head) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);

    const one = await encode({ text: 'the cat sat on the mat', outputs: ['attention'], layers: [3] });
    assert.deepEqual(Object.keys(one.json), ['model', 'attention', 'layers', 'heads', 'usage']);
    assert.deepEqual(shape(one.json.attention), [1, 2, T, T]);
    assert.deepEqual(one.json.layers, [3]);
    assert.deepEqual(one.json.heads, [0, 1]);
    assert.equal(maxDiff(one.json.attention[0], all.json.attention[3]), 0);

    const head = await encode({ text: 'the cat sat on the mat', outputs: ['attention'], layers: [5], heads: [1] });
    assert.deepEqual(shape(head.json.attention), [1, 1, T, T]);
    assert.deepEqual(head.json.heads, [1]);
    assert.equal(maxDiff(head.json.attention[0][0], all.json.attention[5][1]), 0);

    const hs = await encode({ text: 'the cat sat on the mat', outputs: ['hidden_states'], layers: [6, 0] });
    assert.deepEqual(hs.json.layers, [6, 0]);
    assert.equal(hs.json.heads, undefined);
    assert.equal(maxDiff(hs.json.hidden_states[0], all.json.hidden_states[6]), 0);
    assert.equal(maxDiff(hs.json.hidden_states[1], all.json.hidden_states[0]), 0);
});

// A big answer is sent as it is formatted (chunked, no Content-Length) when the answers
// already queued whole and the new one would pass 32 MB; every output of two 128-token
// inputs of the base encoder is estimated at ~65 MB, so it always is. Its numbers equal
// those of small answers (sent whole) for the same text, bit for bit.
test('a big answer is streamed, chunked, and holds the same numbers as small ones', async () => {
    const text = words(126);
    const outputs = ['embedding', 'hidden_states', 'attention', 'scores'];
    const big = await encode({ text: [text, text + ' w0'], outputs }, BASE);
    assert.equal(big.status, 200);
    assert.equal(big.headers.get('transfer-encoding'), 'chunked');
    assert.equal(big.headers.get('content-length'), null);
    assert.equal(big.headers.get('content-type'), 'application/json');
    assert.ok(big.text.length > 32 << 20, `${big.text.length} bytes`);
    const [first, second] = big.json.results;
    assert.deepEqual(shape(first.attention), [6, 8, 128, 128]);
    assert.deepEqual(shape(second.scores), [6, 8, 129, 129]);
    assert.deepEqual(shape(first.hidden_states), [7, 128, 512]);
    const att = await encode({ text, outputs: ['attention'], layers: [4], heads: [6] }, BASE);
    assert.equal(att.status, 200);
    assert.ok(att.headers.get('content-length'), 'a small answer is sent whole');
    assert.equal(maxDiff(att.json.attention[0][0], first.attention[4][6]), 0);
    const hs = await encode({ text, outputs: ['hidden_states', 'embedding'], layers: [6] }, BASE);
    assert.equal(maxDiff(hs.json.hidden_states[0], first.hidden_states[6]), 0);
    assert.equal(maxDiff(hs.json.embedding, first.embedding), 0);
    const sc = await encode({ text: text + ' w0', outputs: ['scores'], layers: [5] }, BASE);
    assert.equal(maxDiff(sc.json.scores[0], second.scores[5]), 0);
});

// A client that asks for a big answer and does not read it holds that answer in the
// server (until its connection times out); the next big answer is made and sent all the
// same: a client that does not read stops no one.
test('a big answer nobody reads does not stop the next one', async () => {
    const text = words(126);
    const body = JSON.stringify({ text: [text, text], outputs: ['hidden_states', 'attention', 'scores'] });
    const url = new URL(BASE);
    const sock = net.connect(Number(url.port), url.hostname);
    await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    sock.write(`POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
               `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    // Its first bytes: the answer is made and being sent; then nothing more is read.
    const first = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve('(nothing in 20 s)'), 20000);
        sock.once('data', (chunk) => { clearTimeout(timer); sock.pause(); resolve(chunk.toString('latin1', 0, 12)); });
    });
    try {
        assert.equal(first, 'HTTP/1.1 200');
        const t0 = Date.now();
        const next = await encode({ text: [text, text + ' w1'], outputs: ['attention'] }, BASE);
        assert.equal(next.status, 200);
        assert.deepEqual(shape(next.json.results[1].attention), [6, 8, 129, 129]);
        assert.ok(Date.now() - t0 < 20000, `took ${Date.now() - t0} ms`);
    } finally {
        sock.destroy();
    }
});

test('a batch answers results equal to the inputs one by one', async () => {
    const texts = ['Hello World', 'the quick brown fox jumps over the lazy dog', 'a', 'Hello World'];
    const opts = { outputs: ['tokens', 'embedding', 'token_embeddings', 'hidden_states', 'attention'], layers: [0, 2] };
    const batch = await encode({ text: texts, ...opts });
    assert.equal(batch.status, 200);
    assert.deepEqual(Object.keys(batch.json), ['model', 'results', 'usage']);
    assert.equal(batch.json.results.length, 4);
    let total = 0;
    for (let i = 0; i < texts.length; i++) {
        const one = await encode({ text: texts[i], ...opts });
        const r = batch.json.results[i];
        assert.deepEqual(r.tokens, one.json.tokens);
        assert.deepEqual(r.layers, one.json.layers);
        for (const k of ['embedding', 'token_embeddings', 'hidden_states', 'attention'])
            assert.ok(maxDiff(r[k], one.json[k]) < 1e-5, `${k} of input ${i}`);
        total += r.usage.tokens;
    }
    assert.deepEqual(batch.json.usage, { tokens: total });
    const ids = await encode({ tokens: [[2, 9, 3], [2, 9, 10, 11, 3]] });
    assert.equal(ids.json.results.length, 2);
    assert.deepEqual(ids.json.usage, { tokens: 8 });
    const tok = await call(TOY, 'POST', '/tokenize', { text: ['a b', 'c'] });
    assert.deepEqual(tok.json.results.map((r) => r.tokens.length), [4, 3]);
});

test('/tokenize', async () => {
    const r = await call(TOY, 'POST', '/tokenize', { text: 'Hello World', add_special_tokens: false });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.tokens.map((x) => x.text), ['hello', 'world']);
    assert.equal(r.json.embedding, undefined);
});

test('pooling and normalize', async () => {
    const none = await encode({ text: 'a b', pooling: 'none' });
    assert.equal(none.json.embedding, null);
    const cls = await encode({ text: 'a b', pooling: 'cls' });
    const mean = await encode({ text: 'a b', pooling: 'mean' });
    assert.ok(maxDiff(cls.json.embedding, mean.json.embedding) > 1e-6);
    const n = await encode({ text: 'a b', normalize: true });
    assert.ok(Math.abs(Math.hypot(...n.json.embedding) - 1) < 1e-5);
});

test('truncate: a long input is 413 naming it, or is cut to max_len with specials kept', async () => {
    assertError(await encode({ text: words(600) }), 413, 'too_large',
        "the text has 602 tokens, more than the model's max_len of 512");
    assertError(await encode({ text: ['a', words(600)] }), 413, 'too_large', 'text[1] has 602 tokens');
    assertError(await encode({ tokens: [[1], Array(513).fill(7)] }), 413, 'too_large', 'tokens[1] has 513 tokens');
    const cut = await encode({ text: words(600), truncate: true });
    assert.equal(cut.status, 200);
    assert.equal(cut.json.tokens.length, 512);
    assert.equal(cut.json.tokens[0].text, '[CLS]');
    assert.equal(cut.json.tokens[511].text, '[SEP]');
    assert.equal(cut.json.tokens[510].text, 'w509');
    assert.deepEqual(cut.json.usage, { tokens: 512 });
    const ids = await encode({ tokens: Array(600).fill(7), truncate: true });
    assert.equal(ids.json.tokens.length, 512);
});

test('concurrent requests are all answered, and equal to sequential ones', async () => {
    // Concurrent requests share forward passes (the batcher); every row of a pass is
    // computed alike whatever shares it (core/kernels.c), so the answers are the same
    // to the bit as sequential ones.
    const bodies = Array.from({ length: 12 }, (_, i) => ({ text: `request number ${i}`, outputs: ['embedding'] }));
    const parallel = await Promise.all(bodies.map((b) => encode(b)));
    for (let i = 0; i < bodies.length; i++) {
        assert.equal(parallel[i].status, 200);
        const one = await encode(bodies[i]);
        assert.equal(parallel[i].json.embedding.length, one.json.embedding.length);
        assert.deepEqual(parallel[i].json.embedding, one.json.embedding, `request ${i}`);
        // the same request twice, alone, is the same to the bit
        assert.deepEqual((await encode(bodies[i])).json.embedding, one.json.embedding);
    }
});

test('the default config: the base encoder', async () => {
    const h = await call(BASE, 'GET', '/health');
    assert.deepEqual(h.json, { status: 'ok', model: 'random-base' });
    const r = await encode({ text: 'Hello World', outputs: ['tokens', 'embedding', 'hidden_states'], layers: [0, 6] }, BASE);
    assert.equal(r.status, 200);
    assert.equal(r.json.embedding.length, 512);
    assert.deepEqual(shape(r.json.hidden_states), [2, 4, 512]);
    assert.deepEqual(r.json.layers, [0, 6]);
    const a = await encode({ text: 'one', outputs: ['attention'], layers: [5], heads: [7] }, BASE);
    assert.deepEqual(shape(a.json.attention), [1, 1, 3, 3]);
    for (const row of a.json.attention[0][0]) assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-5);
    assertError(await encode({ text: 'a', outputs: ['attention'], heads: [8] }, BASE), 422, 'invalid_request',
        'heads[0]=8 is outside 0..7 (the model has 8 heads)');
    assertError(await encode({ tokens: [32000] }, BASE), 422, 'invalid_request',
        'tokens[0]=32000 is outside the vocabulary (32000)');
});
